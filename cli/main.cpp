#include <iostream>

#include "commands.hpp"
#include "shapejit/error.hpp"

namespace {

// CLI11 reports a mistyped subcommand as "A subcommand is required"; this names it instead.
// Returns an empty string when the failed parse was not about an unknown subcommand.
std::string unknown_subcommand(CLI::App& app) {
  CLI::App* at = &app;
  for (auto used = at->get_subcommands(); used.size() == 1; used = at->get_subcommands()) at = used.front();
  const auto known = at->get_subcommands({});
  if (known.empty()) return "";
  for (const std::string& arg : at->remaining()) {
    if (arg.empty() || arg[0] == '-') continue;
    std::string command = "shapejit", names;
    std::vector<std::string> path;
    for (const CLI::App* a = at; a->get_parent(); a = a->get_parent()) path.insert(path.begin(), a->get_name());
    for (const auto& p : path) command += " " + p;
    for (const CLI::App* sub : known) names += (names.empty() ? "" : ", ") + sub->get_name();
    return "unknown command '" + arg + "' for '" + command + "' (expected one of: " + names + "; see " + command +
           " --help)";
  }
  return "";
}

}  // namespace

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
  shapejit::cli::add_tune_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (const std::string unknown = unknown_subcommand(app); !unknown.empty()) {
      std::cerr << "shapejit: error: " << unknown << "\n";
      return shapejit::cli::kExitBadInput;
    }
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
