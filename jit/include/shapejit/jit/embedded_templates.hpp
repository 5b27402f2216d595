#pragma once
// The kernel headers under templates/, compiled into the library at build time.
#include <span>
#include <string_view>

namespace shapejit::jit {

struct EmbeddedFile {
  std::string_view name;     // path relative to templates/, e.g. "quant/per_token_group_quant.cuh"
  std::string_view content;
};

std::span<const EmbeddedFile> embedded_templates();
// SHA-256 over every embedded name and content: part of every cache key.
std::string_view embedded_templates_hash();

}  // namespace shapejit::jit
