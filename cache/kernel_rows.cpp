#include "kernel_rows.hpp"

namespace shapejit::cache::detail {

KernelRecord read_kernel(const Statement& s, bool with_blobs) {
  KernelRecord r;
  r.key = s.text(0);
  r.spec = s.text(1);
  r.family = s.text(2);
  r.arch = s.text(3);
  r.lowered_name = s.text(4);
  if (with_blobs) {
    r.cubin = s.blob(5);
    r.ptx = s.text(6);
    r.log = s.text(7);
  }
  r.registers = static_cast<int>(s.integer(8));
  r.spill_store_bytes = static_cast<int>(s.integer(9));
  r.spill_load_bytes = static_cast<int>(s.integer(10));
  r.stack_frame_bytes = static_cast<int>(s.integer(11));
  r.static_smem_bytes = static_cast<int>(s.integer(12));
  r.compile_ms = s.real(13);
  r.created = s.integer(14);
  r.last_used = s.integer(15);
  r.bytes = s.integer(16);
  return r;
}

bool write_kernel(sqlite3* db, const KernelRecord& r, bool replace) {
  Statement s(db, std::string(replace ? "INSERT OR REPLACE" : "INSERT OR IGNORE") + " INTO kernels (" +
                      kKernelColumns + ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  s.bind(1, r.key).bind(2, r.spec).bind(3, r.family).bind(4, r.arch).bind(5, r.lowered_name);
  s.bind_blob(6, r.cubin.data(), r.cubin.size()).bind(7, r.ptx).bind(8, r.log);
  s.bind(9, std::int64_t{r.registers}).bind(10, std::int64_t{r.spill_store_bytes});
  s.bind(11, std::int64_t{r.spill_load_bytes}).bind(12, std::int64_t{r.stack_frame_bytes});
  s.bind(13, std::int64_t{r.static_smem_bytes}).bind(14, r.compile_ms).bind(15, r.created);
  s.bind(16, r.last_used).bind(17, r.bytes).bind(18, record_checksum(r));
  s.step();
  return sqlite3_changes(db) > 0;
}

}  // namespace shapejit::cache::detail
