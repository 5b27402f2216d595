#include "kernel_store_adapter.hpp"

#include "shapejit/cache/kernel_store.hpp"
#include "shapejit/runtime/runtime.hpp"

namespace shapejit::runtime {

KernelStoreAdapter::KernelStoreAdapter(const std::filesystem::path& path)
    : store_(std::make_unique<cache::KernelStore>(path)) {}

KernelStoreAdapter::~KernelStoreAdapter() = default;

namespace {
// A holder that hangs (a stopped process) delays others by at most this; its death releases at once.
constexpr std::chrono::minutes kLeaseWait{10};
}  // namespace

std::optional<jit::CompileResult> KernelStoreAdapter::get(const std::string& key) {
  // Look under the key's lease: a process compiling this key stores it before anyone looks, and
  // a miss keeps the lease for this process's compile.
  std::optional<cache::CompileLease> lease = store_->lease(key, kLeaseWait);
  auto record = store_->get(key);
  if (!record) {
    if (lease) {
      std::lock_guard lock(mutex_);
      leases_.insert_or_assign(key, std::move(*lease));
    }
    return std::nullopt;
  }
  jit::CompileResult r;
  r.cubin = std::move(record->cubin);
  r.ptx = std::move(record->ptx);
  r.log = std::move(record->log);
  r.lowered_name = std::move(record->lowered_name);
  r.registers = record->registers;
  r.spill_store_bytes = record->spill_store_bytes;
  r.spill_load_bytes = record->spill_load_bytes;
  r.stack_frame_bytes = record->stack_frame_bytes;
  r.static_smem_bytes = record->static_smem_bytes;
  r.compile_ms = record->compile_ms;
  return r;
}

void KernelStoreAdapter::put(const std::string& key, const jit::KernelSpec& spec,
                             const jit::CompileResult& result) {
  cache::KernelRecord r;
  r.key = key;
  r.spec = spec.canonical();
  r.family = spec.family;
  r.arch = spec.arch;
  r.lowered_name = result.lowered_name;
  r.cubin = result.cubin;
  r.ptx = result.ptx;
  r.log = result.log;
  r.registers = result.registers;
  r.spill_store_bytes = result.spill_store_bytes;
  r.spill_load_bytes = result.spill_load_bytes;
  r.stack_frame_bytes = result.stack_frame_bytes;
  r.static_smem_bytes = result.static_smem_bytes;
  r.compile_ms = result.compile_ms;
  store_->put(std::move(r));
  abandon(key);
}

void KernelStoreAdapter::abandon(const std::string& key) {
  std::lock_guard lock(mutex_);
  leases_.erase(key);
}

std::string KernelStoreAdapter::status() const { return store_->status(); }

void KernelStoreAdapter::add_counters(RuntimeStats& stats) const {
  const cache::StoreCounters c = store_->counters();
  stats.cache_misses = c.misses;
  stats.cache_corrupt = c.corrupt;
  stats.cache_bypasses = c.bypasses;
}

}  // namespace shapejit::runtime
