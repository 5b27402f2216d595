#include "commands.hpp"

namespace shapejit::cli {

void add_bench_moe(CLI::App& bench) {}

}  // namespace shapejit::cli
