#pragma once
// Compile each distinct spec once per test binary (with PTX), however many tests inspect it.
#include <map>
#include <mutex>
#include <string>

#include "shapejit/jit/compiler.hpp"

namespace shapejit::testing {

inline const jit::CompileResult& compiled(const jit::KernelSpec& spec) {
  static std::mutex mutex;
  static std::map<std::string, jit::CompileResult> results;
  std::lock_guard lock(mutex);
  auto it = results.find(spec.canonical());
  if (it == results.end())
    it = results.emplace(spec.canonical(), jit::compile_in_process(spec, true)).first;
  return it->second;
}

}  // namespace shapejit::testing
