#include "shapejit/runtime/op_shape.hpp"

#include "shapejit/error.hpp"

namespace shapejit::runtime {

OpShape::OpShape(const nlohmann::json& entry, std::string_view op,
                 std::initializer_list<std::string_view> known)
    : entry_(entry), op_(op) {
  if (!entry.is_object()) reject("shape must be a JSON object");
  for (const auto& [name, value] : entry.items()) {
    if (name == "op") continue;
    bool ok = false;
    for (auto k : known) ok |= (k == name);
    if (ok) continue;
    std::string list;
    for (auto k : known) list += (list.empty() ? "" : ", ") + std::string(k);
    reject("unknown field '" + name + "' (fields: " + list + ")");
  }
}

bool OpShape::has(std::string_view name) const { return entry_.contains(std::string(name)); }

void OpShape::reject(const std::string& why) const {
  fail(Errc::invalid_argument, "op " + op_ + ": " + why);
}

int OpShape::integer(std::string_view name, long long min, long long max) const {
  if (!has(name)) reject("missing field '" + std::string(name) + "'");
  const nlohmann::json& v = entry_[std::string(name)];
  const std::string range = "[" + std::to_string(min) + ", " + std::to_string(max) + "]";
  if (!v.is_number_integer())
    reject("field '" + std::string(name) + "' must be an integer in " + range);
  // Unsigned JSON integers above INT64_MAX are out of every range this reader serves.
  const bool too_big = v.is_number_unsigned() && v.get<unsigned long long>() > static_cast<unsigned long long>(max);
  const long long x = too_big ? max : v.get<long long>();
  if (too_big || x < min || x > max)
    reject("field '" + std::string(name) + "' = " + v.dump() + " is outside " + range);
  return static_cast<int>(x);
}

int OpShape::integer(std::string_view name, long long min, long long max, int fallback) const {
  return has(name) ? integer(name, min, max) : fallback;
}

std::string OpShape::text(std::string_view name) const {
  if (!has(name)) reject("missing field '" + std::string(name) + "'");
  const nlohmann::json& v = entry_[std::string(name)];
  if (!v.is_string()) reject("field '" + std::string(name) + "' must be a string");
  return v.get<std::string>();
}

std::string OpShape::choice(std::string_view name, std::initializer_list<std::string_view> allowed,
                            std::string_view fallback) const {
  if (!has(name)) return std::string(fallback);
  const nlohmann::json& v = entry_[std::string(name)];
  std::string list;
  for (auto a : allowed) list += (list.empty() ? "\"" : ", \"") + std::string(a) + "\"";
  if (v.is_string())
    for (auto a : allowed)
      if (v.get<std::string>() == a) return std::string(a);
  reject("field '" + std::string(name) + "' = " + v.dump() + " must be one of " + list);
}

}  // namespace shapejit::runtime
