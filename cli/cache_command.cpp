#include "commands.hpp"

namespace shapejit::cli {

void add_cache_command(CLI::App& app) {}

}  // namespace shapejit::cli
