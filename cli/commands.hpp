#pragma once
// Each subcommand registers itself on the root app and runs from its callback.
// Exit codes: 0 success, 1 the operation failed, 2 bad input (usage, manifest, shape),
// 3 precompile compiled everything but could not store it all in the cache database.
#include <CLI/CLI.hpp>

namespace shapejit::cli {

inline constexpr int kExitFailure = 1;
inline constexpr int kExitBadInput = 2;
inline constexpr int kExitNotStored = 3;

// Thrown from a callback to end the program with a given code after printing nothing more.
struct ExitCode {
  int code;
};

void add_info_command(CLI::App& app);
void add_compile_command(CLI::App& app);
void add_precompile_command(CLI::App& app);
void add_cache_command(CLI::App& app);
void add_plan_command(CLI::App& app);
void add_bench_command(CLI::App& app);
void add_ledger_command(CLI::App& app);
void add_tune_command(CLI::App& app);
void add_bench_gemm(CLI::App& bench);
void add_bench_mla(CLI::App& bench);
void add_bench_moe(CLI::App& bench);
void add_bench_profile(CLI::App& bench);
void add_bench_ep(CLI::App& bench);

}  // namespace shapejit::cli
