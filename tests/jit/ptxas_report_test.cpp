#include <gtest/gtest.h>

#include "shapejit/jit/compiler.hpp"

using shapejit::jit::CompileResult;

TEST(PtxasReport, ReadsTheFiguresOfTheNamedEntryOnly) {
  const std::string log =
      "ptxas info    : Compiling entry function '_Z5otherv' for 'sm_90a'\n"
      "ptxas info    : Function properties for _Z5otherv\n"
      "ptxas         .     8 bytes stack frame, 4 bytes spill stores, 4 bytes spill loads\n"
      "ptxas info    : Used 40 registers, used 1 barriers, 512 bytes smem\n"
      "ptxas info    : Compiling entry function '_Z4mainv' for 'sm_90a'\n"
      "ptxas info    : Function properties for _Z4mainv\n"
      "ptxas         .     0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads\n"
      "ptxas info    : Used 168 registers, used 1 barriers, 1024 bytes smem, 400 bytes cmem[0]\n";
  CompileResult r;
  shapejit::jit::parse_ptxas_report(log, "_Z4mainv", r);
  EXPECT_EQ(r.registers, 168);
  EXPECT_EQ(r.static_smem_bytes, 1024);
  EXPECT_EQ(r.spill_store_bytes, 0);
  CompileResult o;
  shapejit::jit::parse_ptxas_report(log, "_Z5otherv", o);
  EXPECT_EQ(o.registers, 40);
  EXPECT_EQ(o.spill_store_bytes, 4);
  EXPECT_EQ(o.stack_frame_bytes, 8);
}
