#pragma once
// The kernels table's columns and their mapping to KernelRecord.
#include <sqlite3.h>

#include <string>

#include "shapejit/cache/kernel_record.hpp"
#include "sqlite_handles.hpp"

namespace shapejit::cache::detail {

// Every column of a kernels row, in the order read_kernel() expects; column 17 is the checksum.
inline constexpr const char* kKernelColumns =
    "key, spec, family, arch, lowered_name, cubin, ptx, log, registers, spill_store_bytes, "
    "spill_load_bytes, stack_frame_bytes, static_smem_bytes, compile_ms, created, last_used, bytes, "
    "checksum";
inline constexpr int kChecksumColumn = 17;

// The row the statement points at; without blobs the cubin, PTX and log stay empty.
KernelRecord read_kernel(const Statement& row, bool with_blobs);

// Writes a record with its checksum. replace: INSERT OR REPLACE; else an existing key is kept.
// Returns whether a row was written.
bool write_kernel(sqlite3* db, const KernelRecord& record, bool replace);

}  // namespace shapejit::cache::detail
