#include <iostream>

#include "commands.hpp"
#include "shapejit/error.hpp"

int main(int argc, char** argv) {
  CLI::App app{"shapejit: JIT kernel compiler, kernel cache and planner for DeepSeek-V3-style models"};
  app.require_subcommand(1);
  app.set_version_flag("--version", SHAPEJIT_VERSION);
  shapejit::cli::add_info_command(app);
  shapejit::cli::add_precompile_command(app);
  shapejit::cli::add_compile_command(app);
  shapejit::cli::add_cache_command(app);
  shapejit::cli::add_plan_command(app);
  shapejit::cli::add_bench_command(app);
  shapejit::cli::add_ledger_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : shapejit::cli::kExitBadInput;
  } catch (const shapejit::cli::ExitCode& e) {
    return e.code;
  } catch (const shapejit::Error& e) {
    std::cerr << "shapejit: error: " << e.what() << "\n";
    return e.code() == shapejit::Errc::invalid_argument ? shapejit::cli::kExitBadInput
                                                        : shapejit::cli::kExitFailure;
  } catch (const std::exception& e) {
    std::cerr << "shapejit: error: " << e.what() << "\n";
    return shapejit::cli::kExitFailure;
  }
  return 0;
}
