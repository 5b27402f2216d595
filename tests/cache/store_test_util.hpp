#pragma once
#include <unistd.h>

#include <filesystem>
#include <string>

#include "shapejit/cache/kernel_store.hpp"

namespace shapejit::cache::testing {

inline std::filesystem::path fresh_dir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("shapejit-cache-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

inline KernelRecord record(const std::string& key, std::size_t size = 1000, const std::string& family = "quant") {
  KernelRecord r;
  r.key = key;
  r.spec = family + "/k<" + key + ">@sm_90a";
  r.family = family;
  r.arch = "sm_90a";
  r.lowered_name = "_Z1kv";
  r.cubin.resize(size);
  for (std::size_t i = 0; i < size; ++i) r.cubin[i] = static_cast<std::uint8_t>(i * 31 + key.size());
  r.log = "ptxas info: Used 10 registers";
  r.registers = 10;
  return r;
}

inline StoreOptions quiet(std::string* why = nullptr, int timeout_ms = 2000) {
  StoreOptions o;
  o.busy_timeout_ms = timeout_ms;
  o.on_bypass = [why](const std::string& w) { if (why) *why += w + "\n"; };
  return o;
}

}  // namespace shapejit::cache::testing
