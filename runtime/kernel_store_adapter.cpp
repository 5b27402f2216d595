#include "kernel_store_adapter.hpp"

namespace shapejit::cache {
class KernelStore {};
}

namespace shapejit::runtime {

KernelStoreAdapter::KernelStoreAdapter(const std::filesystem::path&) {}
KernelStoreAdapter::~KernelStoreAdapter() = default;
std::optional<jit::CompileResult> KernelStoreAdapter::get(const std::string&) { return std::nullopt; }
void KernelStoreAdapter::put(const std::string&, const jit::KernelSpec&, const jit::CompileResult&) {}
std::string KernelStoreAdapter::status() const { return "memory only"; }

}  // namespace shapejit::runtime
