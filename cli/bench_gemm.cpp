#include "commands.hpp"

namespace shapejit::cli {

void add_bench_gemm(CLI::App& bench) {}

}  // namespace shapejit::cli
