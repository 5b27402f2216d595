#include "commands.hpp"

namespace shapejit::cli {

void add_bench_mla(CLI::App& bench) {}

}  // namespace shapejit::cli
