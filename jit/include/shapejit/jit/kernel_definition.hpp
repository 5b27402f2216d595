#pragma once
// The one description of a kernel template: its family, name, header and each template
// parameter's name, kind and allowed values, plus the rules that tie parameters together.
// Specs are built by parameter name and checked against it; the catalog, the runtime's spec
// builders and heuristics, the tuner's search space, the lit tests and every display of a spec
// read it. Every parameter is an integer, a bool or an enumeration, so a spec's values are
// integers; the canonical (cache key) text spells them positionally as the template takes them.
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "shapejit/jit/kernel_spec.hpp"

namespace shapejit::jit {

enum class ParamKind { integer, boolean, enumeration };

// An enumeration value: the name people read and write, the integer the template takes.
struct EnumChoice {
  std::string_view name;
  long long value;
};

struct KernelParam {
  std::string_view name;                // the template parameter's name
  ParamKind kind = ParamKind::integer;
  std::string_view meaning;             // one line for listings and docs
  // integer: one of `one_of` when given, else in [min, max] and a multiple of `multiple_of`.
  long long min = 0, max = 0, multiple_of = 1;
  std::vector<long long> one_of;
  std::vector<EnumChoice> choices;      // enumeration

  // Empty when the value is fine, else the broken rule ("a multiple of 16 in [16, 160]").
  std::string violation(long long value) const;
  // The allowed values in order when there are at most `limit` of them (a search space),
  // else empty (a wide range such as a problem size).
  std::vector<long long> values(std::size_t limit = 1024) const;
  std::string rule() const;                            // the allowed values, in words
  std::string format(long long value) const;           // "128", "true", "masked"
  std::string canonical(long long value) const;        // "128", "true", "2"
  // Parses a value as written in a spec; nullopt when it is not of this kind.
  std::optional<long long> parse(std::string_view text) const;
};

// Parameter constructors, so definitions read as a table.
KernelParam int_param(std::string_view name, long long min, long long max,
                      long long multiple_of = 1, std::string_view meaning = {});
KernelParam one_of_param(std::string_view name, std::initializer_list<long long> values,
                         std::string_view meaning = {});
KernelParam bool_param(std::string_view name, std::string_view meaning = {});
KernelParam enum_param(std::string_view name, std::initializer_list<EnumChoice> choices,
                       std::string_view meaning = {});

class KernelDefinition;

// The values of one spec, looked up by parameter name.
class ParamValues {
 public:
  ParamValues(const KernelDefinition& def, std::vector<long long> values)
      : def_(&def), values_(std::move(values)) {}
  long long operator[](std::string_view name) const;   // throws on an unknown name
  const std::vector<long long>& values() const { return values_; }

 private:
  const KernelDefinition* def_;
  std::vector<long long> values_;
};

// A rule over several parameters, e.g. "NUM_SMS is a multiple of kNumMulticast".
struct KernelRule {
  std::string_view text;
  bool (*holds)(const ParamValues&);
};

using NamedValues = std::vector<std::pair<std::string_view, long long>>;

class KernelDefinition {
 public:
  std::string_view family;
  std::string_view kernel;
  std::string_view header;             // path under templates/
  std::string_view summary;
  std::vector<KernelParam> params = {};   // in template order
  std::vector<KernelRule> rules = {};

  const KernelParam* find(std::string_view name) const;   // nullptr when unknown
  std::size_t index(std::string_view name) const;         // throws on an unknown name

  // A checked spec from values named by parameter (every parameter exactly once).
  KernelSpec spec(const NamedValues& values, std::string arch = "sm_90a") const;
  // A checked spec from values in template order.
  KernelSpec spec(const std::vector<long long>& values, std::string arch = "sm_90a") const;

  // The spec's values: arguments positional or all named (NAME=value), parsed and checked.
  // Throws Error(invalid_argument) naming the parameter and the rule it breaks.
  ParamValues values(const KernelSpec& spec) const;
  // The spec with its arguments in canonical positional form (what keys and caches use).
  KernelSpec canonical(const KernelSpec& spec) const;
  // For people: family/kernel<NAME=value,...>@arch[;options].
  std::string describe(const KernelSpec& spec) const;

  // Empty when the values satisfy every parameter and rule, else why not (names the
  // parameter and the rule).
  std::string violation(const std::vector<long long>& values) const;

 private:
  std::string label() const;
  // Values named by parameter, in template order; every parameter exactly once.
  std::vector<long long> in_order(const NamedValues& named, const std::string& where) const;
};

}  // namespace shapejit::jit
