#include "kernel_set_hashes.hpp"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>

#include "shapejit/jit/compiler.hpp"
#include "shapejit/runtime/op_registry.hpp"
#include "worker_threads.hpp"

namespace shapejit::cli {

std::vector<HashedKernel> deepseek_v3_kernel_hashes(const runtime::DeviceInfo& target, int threads) {
  const std::vector<jit::KernelSpec> specs = runtime::deepseek_v3_specs(target);
  std::vector<HashedKernel> out(specs.size());
  std::atomic<std::size_t> next{0};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto work = [&] {
    for (std::size_t i; (i = next++) < specs.size();) {
      try {
        const jit::CompileResult r = jit::compile_in_process(specs[i], false);
        out[i] = {specs[i].canonical(), cubin_hash(r.cubin)};
      } catch (...) {
        std::lock_guard lock(error_mutex);
        if (!error) error = std::current_exception();
        next = specs.size();
      }
    }
  };
  run_work_loop(std::clamp(threads, 1, static_cast<int>(std::max<std::size_t>(specs.size(), 1))), work);
  if (error) std::rethrow_exception(error);
  return out;
}

}  // namespace shapejit::cli
