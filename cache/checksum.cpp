// Content hashes of stored rows: XXH3-128 as 32 hex digits.
#include <xxhash.h>

#include <cstdio>

#include "shapejit/cache/kernel_record.hpp"

namespace shapejit::cache {
namespace {

class Hasher {
 public:
  Hasher() { XXH3_128bits_reset(&state_); }
  void add(const void* data, std::size_t size) { XXH3_128bits_update(&state_, data, size); }
  void add_sized(const std::string& s) {
    const std::uint64_t n = s.size();
    add(&n, sizeof n);
    add(s.data(), s.size());
  }
  std::string hex() {
    const XXH128_hash_t h = XXH3_128bits_digest(&state_);
    char out[33];
    std::snprintf(out, sizeof out, "%016llx%016llx", static_cast<unsigned long long>(h.high64),
                  static_cast<unsigned long long>(h.low64));
    return out;
  }

 private:
  XXH3_state_t state_;
};

}  // namespace

std::string record_checksum(const KernelRecord& r) {
  // NOTES: this byte layout is part of the stored format (schema version 3); changing it makes
  // every stored kernel read as corrupt. Identity comes first and every field is length-prefixed,
  // so a row whose cubin was copied from another kernel (or whose key or spec was edited) fails.
  Hasher h;
  const std::string version = "shapejit-kernel-v3";
  for (const std::string* part : {&version, &r.key, &r.spec, &r.family, &r.arch, &r.lowered_name})
    h.add_sized(*part);
  const std::uint64_t cubin_size = r.cubin.size();
  h.add(&cubin_size, sizeof cubin_size);
  h.add(r.cubin.data(), r.cubin.size());
  h.add_sized(r.ptx);
  h.add_sized(r.log);
  return h.hex();
}

std::string content_checksum_v2(const KernelRecord& r) {
  // The layout of schema versions 1 and 2: content only.
  Hasher h;
  h.add(r.cubin.data(), r.cubin.size());
  const std::uint64_t sizes[3] = {r.cubin.size(), r.ptx.size(), r.log.size()};
  h.add(sizes, sizeof sizes);
  h.add(r.ptx.data(), r.ptx.size());
  h.add(r.log.data(), r.log.size());
  h.add(r.lowered_name.data(), r.lowered_name.size());
  return h.hex();
}

std::string tuning_key(const std::string& spec_family, const std::string& shape_json,
                       const std::string& config_json, const std::string& device) {
  Hasher h;
  for (const std::string* part : {&spec_family, &shape_json, &config_json, &device}) h.add_sized(*part);
  return h.hex();
}

}  // namespace shapejit::cache
