// A host application that uses the installed library: compiles one kernel through the runtime
// (no source tree needed: the kernel headers are inside the library) and prints its size.
#include <shapejit/runtime/quant.hpp>
#include <shapejit/runtime/runtime.hpp>

#include <iostream>

int main() {
  const auto result = shapejit::runtime::Runtime::global().cubin(
      shapejit::runtime::quant_fp8_spec(7168, 128, "sm_90a"));
  std::cout << "cubin " << result->cubin.size() << " bytes\n";
  return result->cubin.empty() ? 1 : 0;
}
