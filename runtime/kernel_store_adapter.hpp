#pragma once
// The runtime's view of the kernel database: CompileResults in and out by key. The store
// degrades to memory-only by itself when the file cannot be used, so nothing here throws.
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

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
  std::optional<jit::CompileResult> get(const std::string& key);
  void put(const std::string& key, const jit::KernelSpec& spec, const jit::CompileResult& result);
  std::string status() const;
  // misses, corrupt entries and bypass reasons so far
  void add_counters(RuntimeStats& stats) const;

 private:
  std::unique_ptr<cache::KernelStore> store_;
};

}  // namespace shapejit::runtime
