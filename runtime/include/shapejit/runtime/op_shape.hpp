#pragma once
// Reads the fields of one operator shape (a manifest entry such as
// {"op":"gemm_fp8","m":4096,"n":7168,"k":2048}). Every field name must be one the op knows:
// a typo is an error naming the field, never a silent fall-back to a default. Every number is
// checked at its full width against the field's range before it is narrowed, so 4294967424
// is an error, not K = 128.
#include <nlohmann/json.hpp>

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace shapejit::runtime {

class OpShape {
 public:
  // Throws Error(invalid_argument) when the entry is not an object or holds a field outside
  // `known` ("op" is always known).
  OpShape(const nlohmann::json& entry, std::string_view op,
          std::initializer_list<std::string_view> known);

  bool has(std::string_view name) const;
  // A required integer field in [min, max].
  int integer(std::string_view name, long long min, long long max) const;
  // An optional integer field in [min, max]; `fallback` when absent.
  int integer(std::string_view name, long long min, long long max, int fallback) const;
  // A required string field.
  std::string text(std::string_view name) const;
  // An optional string field, one of `allowed`; `fallback` when absent.
  std::string choice(std::string_view name, std::initializer_list<std::string_view> allowed,
                     std::string_view fallback) const;

  [[noreturn]] void reject(const std::string& why) const;   // "op <op>: <why>"

 private:
  const nlohmann::json& entry_;
  std::string op_;
};

}  // namespace shapejit::runtime
