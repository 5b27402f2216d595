#pragma once
// The runtime's view of the kernel database: CompileResults in and out by key. The store
// degrades to memory-only by itself when the file cannot be used, so nothing here throws.
//
// Cross-process single flight: a lookup takes the key's compile lease first (waiting while
// another process compiles that key, then reading what it stored); after a miss the lease is
// held until put() or abandon(), so other processes wait for this compile instead of repeating it.
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "shapejit/cache/compile_lease.hpp"
#include "shapejit/jit/compile_result.hpp"
#include "shapejit/jit/kernel_spec.hpp"

namespace shapejit::cache {
class KernelStore;
}

namespace shapejit::runtime {

struct RuntimeStats;

class KernelStoreAdapter {
 public:
  explicit KernelStoreAdapter(const std::filesystem::path& path);
  ~KernelStoreAdapter();
  // A miss returns holding the key's compile lease (when one could be had).
  std::optional<jit::CompileResult> get(const std::string& key);
  void put(const std::string& key, const jit::KernelSpec& spec, const jit::CompileResult& result);
  void abandon(const std::string& key);   // the compile failed: let others try
  std::string status() const;
  cache::KernelStore& store() { return *store_; }   // tuning records, for the runtime
  // misses, corrupt entries and bypass reasons so far
  void add_counters(RuntimeStats& stats) const;

 private:
  std::unique_ptr<cache::KernelStore> store_;
  std::mutex mutex_;
  std::map<std::string, cache::CompileLease> leases_;   // held from a miss until put/abandon
};

}  // namespace shapejit::runtime
