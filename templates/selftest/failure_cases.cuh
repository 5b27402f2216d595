#pragma once
// Kernels that exercise the compiler's failure paths. Only the test suite compiles them.

namespace shapejit::kernels {

// A template the compiler rejects: the error carries NVRTC's log.
template <int N>
__global__ void static_assert_fails(float* out) {
  static_assert(N < 0, "selftest: N must be negative");
  out[0] = N;
}

// Compile time grows like Fibonacci(N): N = 22 takes about 2 s, N = 28 over 30 s. The time
// limit's test case.
template <int N>
struct SlowFib {
  static __device__ __forceinline__ float eval(const float* in) {
    return SlowFib<N - 1>::eval(in) * in[N % 5] + SlowFib<N - 2>::eval(in + 1);
  }
};
template <>
struct SlowFib<0> {
  static __device__ __forceinline__ float eval(const float* in) { return in[0]; }
};
template <>
struct SlowFib<1> {
  static __device__ __forceinline__ float eval(const float* in) { return in[1]; }
};

template <int N>
__global__ void slow_to_compile(float* out, const float* in) {
  out[0] = SlowFib<N>::eval(in);
}

// An inline wgmma whose shared-memory descriptors fold to compile-time constants (N = 0).
// NVRTC 13.0 segfaults on it; the test suite uses it to check that a compiler crash stays
// inside the worker process.
template <int N>
__global__ void wgmma_constant_descriptors(float* out) {
  const unsigned long long desc_a = static_cast<unsigned long long>(N);
  const unsigned long long desc_b = static_cast<unsigned long long>(N);
  float d0 = 0.f, d1 = 0.f, d2 = 0.f, d3 = 0.f;
  asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
  asm volatile(
      "{\n"
      "wgmma.mma_async.sync.aligned.m64n8k16.f32.bf16.bf16 {%0, %1, %2, %3}, %4, %5, 1, 1, 1, 0, 0;\n"
      "}\n"
      : "+f"(d0), "+f"(d1), "+f"(d2), "+f"(d3)
      : "l"(desc_a), "l"(desc_b));
  asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
  asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
  out[threadIdx.x] = d0 + d1 + d2 + d3;
}

}  // namespace shapejit::kernels
