#pragma once
// The ledger of proven kernels (bench/proven-kernels.tsv): one row per kernel that passed the GPU
// tests of its family, keyed by its canonical spec and the hash of its cubin. A default kernel
// whose (spec, cubin hash) has no row has never run on a GPU (docs: ARCHITECTURE, "No unproven
// default"). Tab-separated, a fixed header line, then one row per kernel.
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

namespace shapejit::cli {

inline constexpr const char* kLedgerHeader = "spec\tcubin_xxh3_128\tnvrtc\tdevice\tdate\tcommit";

struct LedgerRow {
  std::string spec;         // canonical spec text
  std::string cubin_hash;   // cubin_hash() of its cubin
  std::string nvrtc;        // jit::nvrtc_identity() of the compiler that built it
  std::string device;       // the GPU the tests passed on
  std::string date;         // YYYY-MM-DD (UTC) of the run
  std::string commit;       // git commit of the tested tree
};

// XXH3-128 of the cubin bytes as 32 lowercase hex digits (high half first).
std::string cubin_hash(std::span<const std::uint8_t> cubin);

// Throws Error(io) when the file cannot be read, Error(invalid_argument) naming the line when
// the header or a row is malformed (field count, empty field, hash not 32 hex digits, a tab or
// newline inside a field).
std::vector<LedgerRow> read_ledger(const std::filesystem::path& path);

// Appends the rows whose (spec, cubin hash) the file lacks, creating it with its header when
// absent; returns how many were appended. Validates every row before writing any.
int append_ledger(const std::filesystem::path& path, std::span<const LedgerRow> rows);

// A kernel of a set as it compiles here.
struct HashedKernel {
  std::string spec;
  std::string cubin_hash;
};

// The kernels whose (spec, cubin hash) no ledger row holds, with why: "cubin differs from the
// proven one" when the spec has rows (under other hashes), else "never proven".
struct Unproven {
  HashedKernel kernel;
  std::string reason;
};
std::vector<Unproven> unproven_kernels(std::span<const LedgerRow> ledger,
                                       std::span<const HashedKernel> kernels);

}  // namespace shapejit::cli
