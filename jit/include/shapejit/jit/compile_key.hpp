#pragma once
#include <cstddef>
#include <string>

#include "shapejit/jit/kernel_spec.hpp"

namespace shapejit::jit {

// Bumped whenever the meaning of a stored entry changes; part of every key.
inline constexpr int kCacheFormatVersion = 1;

// The cache key of a spec: 32 hex digits (XXH3-128) over everything that can change the binary:
// the rendered source, the full option list (which holds the arch), the embedded headers' hash,
// NVRTC's version and build, and kCacheFormatVersion. A wrong hit is worse than a miss.
std::string compile_key(const KernelSpec& spec);

// The same, from explicit parts (used by tests to show that each part matters).
struct KeyParts {
  std::string rendered_source;
  std::string options;        // joined, in order
  std::string headers_hash;
  std::string compiler_identity;
  int format_version = kCacheFormatVersion;
};
KeyParts key_parts(const KernelSpec& spec);
std::string compile_key(const KeyParts& parts);

// XXH3-128 of the bytes as 32 lowercase hex digits, high half first (the form of keys and of
// the proven-kernel ledger's cubin hashes).
std::string xxh3_128_hex(const void* data, std::size_t size);

}  // namespace shapejit::jit
