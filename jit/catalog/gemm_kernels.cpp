#include "gemm/gemm_layout.cuh"
#include "shapejit/jit/kernel_definition.hpp"

namespace shapejit::jit {
namespace {

constexpr long long kMaxDim = 2147483647;   // problem sizes are 32-bit

// The parameters both GEMM kernels share, in template order.
std::vector<KernelParam> common_params(long long block_k, long long max_block_n) {
  return {
      int_param("SHAPE_M", 0, kMaxDim, 1, "0: M is the run-time argument; > 0: M fixed at compile time"),
      int_param("SHAPE_N", 8, kMaxDim, 8, "N (columns of D, rows of B)"),
      int_param("SHAPE_K", block_k, kMaxDim, block_k, "K, a whole number of BLOCK_K steps"),
      one_of_param("BLOCK_M", {64, 128}, "tile rows: one math warp group per 64"),
      int_param("BLOCK_N", 16, max_block_n, 16, "tile columns"),
      int_param("kNumStages", 1, 12, 1, "shared-memory pipeline depth"),
      one_of_param("kNumMulticast", {1, 2}, "CTAs per cluster sharing one operand by TMA multicast"),
      bool_param("kMulticastOnA", "which operand the pair shares: A (adjacent N blocks) or B"),
      one_of_param("kSwizzleDBytes", {32, 64, 128}, "TMA swizzle of the output tile"),
      int_param("NUM_SMS", 1, 1024, 1, "persistent grid size"),
  };
}

bool whole_clusters(const ParamValues& v) { return v["NUM_SMS"] % v["kNumMulticast"] == 0; }

// The kernels' own shared-memory layout (templates/gemm/gemm_layout.cuh).
constexpr const char* kStagesFitText =
    "the stages fit in shared memory (232448 bytes including the 1024-byte alignment slack)";
static_assert(kernels::kGemmMaxSmemBytes == 232448 && kernels::kGemmSmemAlignSlack == 1024,
              "kStagesFitText states the layout's limits");

int arg(const ParamValues& v, std::string_view name) { return static_cast<int>(v[name]); }

}  // namespace

// GEMM kernels for Hopper (templates/gemm/); docs/gemm.md explains the parameters.
std::vector<KernelDefinition> gemm_kernel_definitions() {
  KernelDefinition fp8{.family = "gemm", .kernel = "sm90_fp8_gemm_1d2d", .header = "gemm/sm90_fp8_gemm_1d2d.cuh",
      .summary = "FP8 E4M3 NT GEMM with 1x128 A and 128x128 B scales, BF16 out"};
  // FP8 stops at BLOCK_N 160: the two-level accumulation keeps two BLOCK_N/2 register tiles.
  fp8.params = common_params(128, 160);
  fp8.params.push_back(enum_param("kGemmType", {{"normal", 0}, {"contiguous", 1}, {"masked", 2}},
                                  "normal, grouped contiguous (groups stacked along M) or masked"));
  fp8.params.push_back(int_param("kNumGroups", 1, 65536, 1, "groups of a masked GEMM, else 1"));
  fp8.rules = {
      {"NUM_SMS is a multiple of kNumMulticast", whole_clusters},
      {"BLOCK_N * 2 (BF16 output bytes) is a multiple of kSwizzleDBytes",
       [](const ParamValues& v) { return v["BLOCK_N"] * 2 % v["kSwizzleDBytes"] == 0; }},
      {"kNumGroups is 1 unless kGemmType is masked",
       [](const ParamValues& v) { return v["kGemmType"] == 2 || v["kNumGroups"] == 1; }},
      {kStagesFitText,
       [](const ParamValues& v) {
         return kernels::fp8_gemm_smem(arg(v, "BLOCK_M"), arg(v, "BLOCK_N"), arg(v, "kNumStages"))
             .fits();
       }},
      {"contiguous groups do not share B across a pair of M blocks",
       [](const ParamValues& v) {
         return !(v["kGemmType"] == 1 && v["kNumMulticast"] == 2 && !v["kMulticastOnA"]);
       }},
  };

  KernelDefinition bf16{.family = "gemm", .kernel = "sm90_bf16_gemm", .header = "gemm/sm90_bf16_gemm.cuh",
      .summary = "BF16 NT GEMM, FP32 accumulation, BF16 or FP32 out"};
  bf16.params = common_params(64, 256);
  bf16.params.push_back(bool_param("kOutFP32", "FP32 output instead of BF16"));
  bf16.rules = {
      {"NUM_SMS is a multiple of kNumMulticast", whole_clusters},
      {"BLOCK_N * output bytes is a multiple of kSwizzleDBytes",
       [](const ParamValues& v) {
         return v["BLOCK_N"] * (v["kOutFP32"] ? 4 : 2) % v["kSwizzleDBytes"] == 0;
       }},
      {kStagesFitText,
       [](const ParamValues& v) {
         return kernels::bf16_gemm_smem(arg(v, "BLOCK_M"), arg(v, "BLOCK_N"), arg(v, "kNumStages"),
                                        v["kOutFP32"] != 0)
             .fits();
       }},
  };
  return {fp8, bf16};
}

}  // namespace shapejit::jit
