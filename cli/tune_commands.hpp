#pragma once
// Shared by the `shapejit tune` files: the record subcommands and the --budget parser.
#include <CLI/CLI.hpp>

#include <string>

namespace shapejit::cli {

// tune ls | show ID | report ID --svg FILE; `cache` is the parent's --cache option.
void add_tune_record_commands(CLI::App& tune, std::string& cache);
// "90s", "8m", "1h", "120" (seconds) → seconds; throws Error(invalid_argument).
double parse_duration(const std::string& text);

}  // namespace shapejit::cli
