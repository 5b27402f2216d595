// Every precondition of the GEMM front ends fails with an error naming it, before any driver
// call (so these run without a GPU).
#include <gtest/gtest.h>

#include "shapejit/error.hpp"
#include "shapejit/runtime/gemm.hpp"
#include "shapejit/runtime/scale_layout.hpp"
#include "shapejit/runtime/tensor_map.hpp"

namespace shapejit::runtime {
namespace {

template <typename F>
void expect_error(F&& f, Errc code, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "no error; expected one naming '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
        << "message '" << e.what() << "' does not name '" << needle << "'";
  }
}

GemmFp8Args good_fp8() {
  GemmFp8Args a;
  a.a = a.a_scales = a.b = a.b_scales = a.d = 1 << 20;
  a.m = 100;
  a.n = 7168;
  a.k = 2048;
  return a;
}

TEST(GemmValidation, GoodArgumentsPass) {
  EXPECT_NO_THROW(validate(good_fp8()));
}

TEST(GemmValidation, Fp8PreconditionsAreNamed) {
  auto with = [](auto edit) {
    GemmFp8Args a = good_fp8();
    edit(a);
    return [a] { validate(a); };
  };
  const auto inv = Errc::invalid_argument;
  expect_error(with([](auto& a) { a.a_dtype = DType::bf16; }), inv, "A dtype must be e4m3");
  expect_error(with([](auto& a) { a.b_dtype = DType::f32; }), inv, "B dtype must be e4m3");
  expect_error(with([](auto& a) { a.d_dtype = DType::f32; }), inv, "D dtype must be bf16");
  expect_error(with([](auto& a) { a.k = 2000; }), inv, "K must be a multiple of 128");
  expect_error(with([](auto& a) { a.k = 0; }), inv, "K must be positive");
  expect_error(with([](auto& a) { a.n = 7164; }), inv, "N must be a multiple of 8");
  expect_error(with([](auto& a) { a.m = -1; }), inv, "M must be non-negative");
  expect_error(with([](auto& a) { a.a += 8; }), inv, "A must be 16-byte aligned");
  expect_error(with([](auto& a) { a.b = 0; }), inv, "B is null");
  expect_error(with([](auto& a) { a.d += 2; }), inv, "D must be 16-byte aligned");
  expect_error(with([](auto& a) { a.a_scales += 4; }), inv, "A scales must be 16-byte");
  expect_error(with([](auto& a) { a.b_scales += 2; }), inv, "B scales must be 4-byte");
  expect_error(with([](auto& a) { a.lda = 2056; }), inv, "leading dimension lda");
  expect_error(with([](auto& a) { a.ldb = 1024; }), inv, "smaller than the row length");
  expect_error(with([](auto& a) { a.ldd = 7172; }), inv, "leading dimension ldd");
  expect_error(with([](auto& a) { a.a_scale_stride = 102; }), inv, "a_scale_stride");
  expect_error(with([](auto& a) { a.a_scale_stride = 96; }), inv, "at least the rows");
}

TEST(GemmValidation, ShapeChecksNeedNoBuffers) {
  GemmFp8Args a;   // a manifest's shape: no device pointers
  a.m = 4096;
  a.n = 7168;
  a.k = 2048;
  EXPECT_NO_THROW(validate_shape(a));
  expect_error([a] { validate_buffers(a); }, Errc::invalid_argument, "A is null");
  a.k = 2000;
  expect_error([a] { validate_shape(a); }, Errc::invalid_argument, "K must be a multiple of 128");
}

TEST(GemmValidation, EmptyMNeedsNoPointers) {
  GemmFp8Args a;
  a.m = 0;
  a.n = 128;
  a.k = 128;
  EXPECT_NO_THROW(validate(a));
  EXPECT_NO_THROW(gemm_fp8_nt(a));   // nothing to do: no driver needed
}

TEST(GemmValidation, Bf16PreconditionsAreNamed) {
  GemmBf16Args a;
  a.a = a.b = a.d = 1 << 20;
  a.m = 10;
  a.n = 256;
  a.k = 192;
  EXPECT_NO_THROW(validate(a));
  auto check = [&](auto edit, const std::string& needle) {
    GemmBf16Args b = a;
    edit(b);
    expect_error([b] { validate(b); }, Errc::invalid_argument, needle);
  };
  check([](auto& b) { b.a_dtype = DType::e4m3; }, "A dtype must be bf16");
  check([](auto& b) { b.d_dtype = DType::i32; }, "D dtype must be bf16 or f32");
  check([](auto& b) { b.k = 100; }, "K must be a multiple of 64");
  check([](auto& b) { b.lda = 196; }, "leading dimension lda");
  check([](auto& b) { b.d_dtype = DType::f32; b.ldd = 258; }, "leading dimension ldd");
}

TEST(GemmValidation, GroupedPreconditionsAreNamed) {
  GemmFp8GroupedContiguousArgs c;
  c.a = c.a_scales = c.b = c.b_scales = c.d = c.m_indices = 1 << 20;
  c.m_sum = 512;
  c.n = 4096;
  c.k = 7168;
  c.num_groups = 4;
  EXPECT_NO_THROW(validate(c));
  auto cc = c;
  cc.m_sum = 500;
  expect_error([cc] { validate(cc); }, Errc::invalid_argument, "multiple of align_m");
  cc = c;
  cc.align_m = 96;
  expect_error([cc] { validate(cc); }, Errc::invalid_argument, "align_m must be 64, 128 or 256");
  cc = c;
  cc.num_groups = 0;
  expect_error([cc] { validate(cc); }, Errc::invalid_argument, "num_groups must be positive");
  cc = c;
  cc.m_indices = 2;
  expect_error([cc] { validate(cc); }, Errc::invalid_argument, "m_indices must be 4-byte");

  GemmFp8GroupedMaskedArgs m;
  m.a = m.a_scales = m.b = m.b_scales = m.d = m.masked_m = 1 << 20;
  m.m_max = 128;
  m.n = 7168;
  m.k = 2048;
  m.num_groups = 8;
  m.expected_m = 16;
  EXPECT_NO_THROW(validate(m));
  auto mm = m;
  mm.masked_m = 0;
  expect_error([mm] { validate(mm); }, Errc::invalid_argument, "masked_m is null");
  mm = m;
  mm.a_scale_stride = 128;   // needs G·M_max = 1024 rows
  expect_error([mm] { validate(mm); }, Errc::invalid_argument, "at least the rows (1024)");
  mm = m;
  mm.k = 64;
  expect_error([mm] { validate(mm); }, Errc::invalid_argument, "K must be a multiple of 128");
}

TEST(GemmValidation, TensorMapRulesAreNamed) {
  TensorMapSpec s;
  s.name = "A";
  s.base = 1 << 20;
  s.dims[0] = 256;
  s.dims[1] = 64;
  s.strides[0] = 256;
  s.box[0] = 128;
  s.box[1] = 64;
  s.swizzle_bytes = 128;
  EXPECT_NO_THROW(validate_tensor_map(s));
  auto t = s;
  t.base += 8;
  expect_error([t] { validate_tensor_map(t); }, Errc::invalid_argument, "16-byte aligned");
  t = s;
  t.strides[0] = 264;
  expect_error([t] { validate_tensor_map(t); }, Errc::invalid_argument, "multiple of 16 bytes");
  t = s;
  t.box[1] = 512;
  expect_error([t] { validate_tensor_map(t); }, Errc::invalid_argument, "box dimension 1");
  t = s;
  t.box[0] = 256;
  expect_error([t] { validate_tensor_map(t); }, Errc::invalid_argument, "swizzle width");
}

TEST(ScaleLayout, RoundTripsAndPadsToFourRows) {
  EXPECT_EQ(m_major_scale_stride(1), 4);
  EXPECT_EQ(m_major_scale_stride(1000), 1000);
  EXPECT_EQ(m_major_scale_stride(1001), 1004);
  const int rows = 5, kb = 3;
  std::vector<float> rm(rows * kb);
  for (int i = 0; i < rows * kb; ++i) rm[i] = 1.5f + i;
  const auto mn = scales_to_m_major(rm.data(), rows, kb);
  ASSERT_EQ(mn.size(), 8u * kb);
  EXPECT_EQ(mn[2 * 8 + 4], rm[4 * kb + 2]);   // row 4, K block 2
  EXPECT_EQ(mn[0 * 8 + 7], 0.0f);             // padding
  EXPECT_EQ(scales_from_m_major(mn.data(), rows, kb), rm);
  EXPECT_THROW(scales_to_m_major(rm.data(), rows, kb, 6), Error);
}

}  // namespace
}  // namespace shapejit::runtime
