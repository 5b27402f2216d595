#include "shapejit/jit/compile_key.hpp"

#include <xxhash.h>

#include <cstdio>

#include "shapejit/jit/compiler.hpp"
#include "shapejit/jit/embedded_templates.hpp"

namespace shapejit::jit {

KeyParts key_parts(const KernelSpec& spec) {
  const RenderedSource r = render(spec);
  KeyParts p;
  p.rendered_source = r.source + "\n" + r.name_expression;
  for (const auto& o : r.options) p.options += o + '\n';
  p.headers_hash = std::string(embedded_templates_hash());
  p.compiler_identity = nvrtc_identity();
  return p;
}

std::string compile_key(const KeyParts& parts) {
  // Length-prefixed fields, so no two different part lists serialize alike.
  std::string blob;
  auto field = [&blob](const std::string& s) {
    blob += std::to_string(s.size()) + ':' + s + ';';
  };
  field(std::to_string(parts.format_version));
  field(parts.rendered_source);
  field(parts.options);
  field(parts.headers_hash);
  field(parts.compiler_identity);
  return xxh3_128_hex(blob.data(), blob.size());
}

std::string xxh3_128_hex(const void* data, std::size_t size) {
  const XXH128_hash_t h = XXH3_128bits(data, size);
  char hex[33];
  std::snprintf(hex, sizeof hex, "%016llx%016llx", static_cast<unsigned long long>(h.high64),
                static_cast<unsigned long long>(h.low64));
  return hex;
}

std::string compile_key(const KernelSpec& spec) { return compile_key(key_parts(spec)); }

}  // namespace shapejit::jit
