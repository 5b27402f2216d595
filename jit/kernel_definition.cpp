#include "shapejit/jit/kernel_definition.hpp"

#include <algorithm>
#include <charconv>

#include "shapejit/error.hpp"

namespace shapejit::jit {
namespace {

std::optional<long long> parse_decimal(std::string_view text) {
  long long v = 0;
  const char* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, v);
  if (ec != std::errc() || p != end || text.empty()) return std::nullopt;
  if (text.size() > 1 && (text[0] == '0' || (text[0] == '-' && text[1] == '0'))) return std::nullopt;
  return v;
}

std::string join(const std::vector<long long>& values) {
  std::string s;
  for (long long v : values) s += (s.empty() ? "" : ", ") + std::to_string(v);
  return s;
}

}  // namespace

std::string KernelParam::violation(long long value) const {
  switch (kind) {
    case ParamKind::boolean:
      return value == 0 || value == 1 ? "" : rule();
    case ParamKind::enumeration:
      for (const auto& c : choices)
        if (c.value == value) return "";
      return rule();
    case ParamKind::integer:
      if (!one_of.empty())
        return std::find(one_of.begin(), one_of.end(), value) != one_of.end() ? "" : rule();
      if (value < min || value > max || value % multiple_of != 0) return rule();
      return "";
  }
  return rule();
}

std::vector<long long> KernelParam::values(std::size_t limit) const {
  std::vector<long long> v;
  switch (kind) {
    case ParamKind::boolean:
      return {0, 1};
    case ParamKind::enumeration:
      for (const auto& c : choices) v.push_back(c.value);
      return v;
    case ParamKind::integer:
      if (!one_of.empty()) return one_of;
      if ((max - min) / multiple_of >= static_cast<long long>(limit)) return {};
      for (long long x = (min + multiple_of - 1) / multiple_of * multiple_of; x <= max;
           x += multiple_of)
        v.push_back(x);
      return v;
  }
  return v;
}

std::string KernelParam::rule() const {
  switch (kind) {
    case ParamKind::boolean:
      return "true or false";
    case ParamKind::enumeration: {
      std::string s;
      for (const auto& c : choices)
        s += (s.empty() ? "" : ", ") + std::string(c.name) + " (" + std::to_string(c.value) + ")";
      return "one of " + s;
    }
    case ParamKind::integer:
      if (!one_of.empty()) return "one of " + join(one_of);
      return (multiple_of > 1 ? "a multiple of " + std::to_string(multiple_of) + " in [" : "in [") +
             std::to_string(min) + ", " + std::to_string(max) + "]";
  }
  return {};
}

std::string KernelParam::format(long long value) const {
  if (kind == ParamKind::boolean) return value ? "true" : "false";
  if (kind == ParamKind::enumeration)
    for (const auto& c : choices)
      if (c.value == value) return std::string(c.name);
  return std::to_string(value);
}

std::string KernelParam::canonical(long long value) const {
  if (kind == ParamKind::boolean) return value ? "true" : "false";
  return std::to_string(value);
}

std::optional<long long> KernelParam::parse(std::string_view text) const {
  switch (kind) {
    case ParamKind::boolean:
      if (text == "true") return 1;
      if (text == "false") return 0;
      return std::nullopt;
    case ParamKind::enumeration:
      for (const auto& c : choices)
        if (c.name == text) return c.value;
      return parse_decimal(text);
    case ParamKind::integer:
      return parse_decimal(text);
  }
  return std::nullopt;
}

KernelParam int_param(std::string_view name, long long min, long long max, long long multiple_of,
                      std::string_view meaning) {
  KernelParam p;
  p.name = name;
  p.kind = ParamKind::integer;
  p.min = min;
  p.max = max;
  p.multiple_of = multiple_of;
  p.meaning = meaning;
  return p;
}

KernelParam one_of_param(std::string_view name, std::initializer_list<long long> values,
                         std::string_view meaning) {
  KernelParam p;
  p.name = name;
  p.one_of = values;
  p.meaning = meaning;
  return p;
}

KernelParam bool_param(std::string_view name, std::string_view meaning) {
  KernelParam p;
  p.name = name;
  p.kind = ParamKind::boolean;
  p.meaning = meaning;
  return p;
}

KernelParam enum_param(std::string_view name, std::initializer_list<EnumChoice> choices,
                       std::string_view meaning) {
  KernelParam p;
  p.name = name;
  p.kind = ParamKind::enumeration;
  p.choices = choices;
  p.meaning = meaning;
  return p;
}

long long ParamValues::operator[](std::string_view name) const {
  return values_.at(def_->index(name));
}

const KernelParam* KernelDefinition::find(std::string_view name) const {
  for (const auto& p : params)
    if (p.name == name) return &p;
  return nullptr;
}

std::size_t KernelDefinition::index(std::string_view name) const {
  for (std::size_t i = 0; i < params.size(); ++i)
    if (params[i].name == name) return i;
  std::string known;
  for (const auto& p : params) known += (known.empty() ? "" : ", ") + std::string(p.name);
  fail(Errc::invalid_argument, label() + " has no parameter '" + std::string(name) +
                                   "' (parameters: " + known + ")");
}

std::string KernelDefinition::label() const {
  return std::string(family) + "/" + std::string(kernel);
}

std::string KernelDefinition::violation(const std::vector<long long>& values) const {
  if (values.size() != params.size())
    return label() + " takes " + std::to_string(params.size()) + " template arguments, " +
           std::to_string(values.size()) + " given";
  for (std::size_t i = 0; i < params.size(); ++i) {
    const std::string why = params[i].violation(values[i]);
    if (!why.empty())
      return label() + ": " + std::string(params[i].name) + " = " + std::to_string(values[i]) +
             " must be " + why;
  }
  const ParamValues named(*this, values);
  for (const auto& r : rules)
    if (!r.holds(named)) return label() + ": the rule '" + std::string(r.text) + "' does not hold";
  return {};
}

KernelSpec KernelDefinition::spec(const std::vector<long long>& values, std::string arch) const {
  const std::string why = violation(values);
  if (!why.empty()) fail(Errc::invalid_argument, why);
  KernelSpec s;
  s.family = family;
  s.kernel = kernel;
  s.arch = std::move(arch);
  for (std::size_t i = 0; i < params.size(); ++i) s.args.push_back(params[i].canonical(values[i]));
  return s;
}

std::vector<long long> KernelDefinition::in_order(const NamedValues& named,
                                                  const std::string& where) const {
  std::vector<std::optional<long long>> slots(params.size());
  for (const auto& [name, value] : named) {
    auto& slot = slots[index(name)];
    if (slot) fail(Errc::invalid_argument, where + ": " + std::string(name) + " given twice");
    slot = value;
  }
  std::vector<long long> values;
  for (std::size_t i = 0; i < params.size(); ++i) {
    if (!slots[i]) fail(Errc::invalid_argument, where + ": no value for " + std::string(params[i].name));
    values.push_back(*slots[i]);
  }
  return values;
}

KernelSpec KernelDefinition::spec(const NamedValues& named, std::string arch) const {
  return spec(in_order(named, label()), std::move(arch));
}

ParamValues KernelDefinition::values(const KernelSpec& s) const {
  const std::string where = label() + " (" + s.canonical() + ")";
  const bool named = !s.args.empty() && s.args.front().find('=') != std::string::npos;
  if (!named && s.args.size() != params.size())
    fail(Errc::invalid_argument, "kernel " + label() + " takes " +
                                     std::to_string(params.size()) + " template arguments, spec gives " +
                                     std::to_string(s.args.size()) + " (" + s.canonical() + ")");
  // Each argument parsed by its parameter's kind; named ones are then put in template order.
  NamedValues given;
  for (std::size_t i = 0; i < s.args.size(); ++i) {
    std::string_view arg = s.args[i];
    const size_t eq = arg.find('=');
    if ((eq != std::string_view::npos) != named)
      fail(Errc::invalid_argument, where + ": name every argument (NAME=value) or none");
    const KernelParam& p = params[named ? index(arg.substr(0, eq)) : i];
    if (named) arg = arg.substr(eq + 1);
    const auto v = p.parse(arg);
    if (!v)
      fail(Errc::invalid_argument, where + ": " + std::string(p.name) + " = '" + std::string(arg) +
                                       "' must be " + p.rule());
    given.emplace_back(p.name, *v);
  }
  const std::vector<long long> values = in_order(given, where);
  const std::string why = violation(values);
  if (!why.empty()) fail(Errc::invalid_argument, why + " (" + s.canonical() + ")");
  return ParamValues(*this, std::move(values));
}

KernelSpec KernelDefinition::canonical(const KernelSpec& s) const {
  const ParamValues v = values(s);
  KernelSpec out = s;
  for (std::size_t i = 0; i < params.size(); ++i) out.args[i] = params[i].canonical(v.values()[i]);
  return out;
}

std::string KernelDefinition::describe(const KernelSpec& s) const {
  const ParamValues v = values(s);
  std::string text = label() + "<";
  for (std::size_t i = 0; i < params.size(); ++i)
    text += (i ? "," : "") + std::string(params[i].name) + "=" + params[i].format(v.values()[i]);
  text += ">@" + s.arch;
  for (const auto& o : s.options) text += ";" + o;
  return text;
}

}  // namespace shapejit::jit
