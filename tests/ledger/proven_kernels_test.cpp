// No unproven default: every kernel of the default DeepSeek-V3 set (sm_90a, 132 SMs) must
// compile here to a cubin whose (spec, hash) the ledger holds, i.e. the exact binary passed the
// GPU tests of its family in a recorded run. A kernel changed without a GPU run fails this test
// by name; `bench/gpu-check.sh` adds the set after a fully green GPU run.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <sstream>
#include <thread>

#include "kernel_ledger.hpp"
#include "kernel_set_hashes.hpp"
#include "shapejit/jit/compiler.hpp"
#include "shapejit/jit/worker_pool.hpp"
#include "shapejit/runtime/device.hpp"
#include "shapejit/runtime/op_registry.hpp"
#include "support/paths.hpp"

namespace shapejit::cli {
namespace {

const std::string kLedger = std::string(SHAPEJIT_SOURCE_DIR) + "/bench/proven-kernels.tsv";

runtime::DeviceInfo h100_target() {
  runtime::DeviceInfo t;
  t.arch = "sm_90a";
  t.num_sms = 132;
  return t;
}

int threads() { return static_cast<int>(std::max(1u, std::thread::hardware_concurrency())); }


TEST(ProvenKernels, EveryDefaultDeepSeekV3KernelIsInTheLedger) {
  const std::vector<LedgerRow> ledger = read_ledger(kLedger);
  const std::string nvrtc = jit::nvrtc_identity();
  std::vector<LedgerRow> same_compiler;
  std::set<std::string> others;
  for (const LedgerRow& r : ledger)
    if (r.nvrtc == nvrtc)
      same_compiler.push_back(r);
    else
      others.insert(r.nvrtc);
  if (same_compiler.empty()) {
    std::string proven;
    for (const auto& v : others) proven += (proven.empty() ? "" : ", ") + v;
    GTEST_SKIP() << "the ledger proves kernels built by NVRTC " << proven << "; this NVRTC is "
                 << nvrtc << ", whose cubins no GPU run has proven";
  }
  const std::vector<HashedKernel> set = deepseek_v3_kernel_hashes(h100_target(), threads());
  const std::vector<Unproven> missing = unproven_kernels(same_compiler, set);
  std::ostringstream names;
  for (const Unproven& u : missing)
    names << "\n  " << u.kernel.spec << " (" << u.kernel.cubin_hash << "): " << u.reason;
  EXPECT_TRUE(missing.empty()) << missing.size() << " of " << set.size()
                               << " default DeepSeek-V3 kernels are not in " << kLedger
                               << " (never passed a GPU run as compiled here):" << names.str();
}

// The check can fail: a changed cubin and a spec the ledger lacks are both reported, by name.
// Two kernels of the set, compiled here, stand for it.
TEST(ProvenKernels, AChangedCubinOrSpecOfTheSetIsReported) {
  const std::vector<jit::KernelSpec> specs = runtime::deepseek_v3_specs(h100_target());
  ASSERT_GE(specs.size(), 2u);
  std::vector<HashedKernel> kernels;
  std::vector<LedgerRow> ledger;
  for (int i = 0; i < 2; ++i) {
    kernels.push_back({specs[i].canonical(), cubin_hash(jit::compile_in_process(specs[i], false).cubin)});
    ledger.push_back({kernels[i].spec, kernels[i].cubin_hash, "nvrtc", "gpu", "2026-01-01", "abc"});
  }
  EXPECT_TRUE(unproven_kernels(ledger, kernels).empty());

  std::vector<HashedKernel> changed = kernels;
  changed[0].cubin_hash[0] = changed[0].cubin_hash[0] == '0' ? '1' : '0';
  changed[1].spec += ";-lineinfo";
  const std::vector<Unproven> missing = unproven_kernels(ledger, changed);
  ASSERT_EQ(missing.size(), 2u);
  EXPECT_EQ(missing[0].kernel.spec, kernels[0].spec);
  EXPECT_EQ(missing[0].reason, "cubin differs from the proven one");
  EXPECT_EQ(missing[1].kernel.spec, kernels[1].spec + ";-lineinfo");
  EXPECT_EQ(missing[1].reason, "never proven");
}

// The ledger's hashes mean something only if a spec compiles to the same bytes in every
// process: a worker process (another pid) must give the in-process cubin. The quant kernel has
// internal-linkage constants, whose symbol names NVRTC derives from the process id unless
// --frandom-seed is fixed.
TEST(ProvenKernels, ASpecCompilesToTheSameCubinInEveryProcess) {
  const jit::KernelSpec spec = jit::KernelSpec::parse("quant/per_token_group_quant<7168,128,256>@sm_90a");
  const std::string in_process = cubin_hash(jit::compile_in_process(spec, false).cubin);
  for (int worker = 0; worker < 2; ++worker) {   // a fresh process each time
    jit::WorkerPool pool({.max_workers = 1, .timeout_s = 120,
                          .worker_path = shapejit::testing::bin_dir() + "/shapejit-compile-worker"});
    EXPECT_EQ(cubin_hash(pool.compile(spec, false).cubin), in_process) << "worker " << worker;
  }
}

}  // namespace
}  // namespace shapejit::cli
