#include "commands.hpp"

namespace shapejit::cli {

void add_bench_command(CLI::App& app) {
  auto* bench = app.add_subcommand("bench", "Benchmark kernels against references (needs a GPU)");
  bench->require_subcommand(1);
  add_bench_gemm(*bench);
  add_bench_mla(*bench);
  add_bench_moe(*bench);
  add_bench_profile(*bench);
  add_bench_ep(*bench);
}

}  // namespace shapejit::cli
