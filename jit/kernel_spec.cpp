#include "shapejit/jit/kernel_spec.hpp"

#include <algorithm>
#include <cctype>
#include <string_view>

#include "shapejit/error.hpp"

namespace shapejit::jit {

std::string known_archs_text();
std::string allowed_options_text();

namespace {

std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

bool is_identifier(const std::string& s) {
  if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  return true;
}

// Template arguments: integers, identifiers, qualified names, each optionally named
// (NAME=value); no nesting, no spaces.
bool is_valid_value(const std::string& s);
bool is_valid_arg(const std::string& s) {
  const size_t eq = s.find('=');
  if (eq == std::string::npos) return is_valid_value(s);
  return is_identifier(s.substr(0, eq)) && is_valid_value(s.substr(eq + 1));
}

bool is_valid_value(const std::string& s) {
  if (s.empty()) return false;
  size_t i = (s[0] == '-') ? 1 : 0;
  if (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
    for (size_t j = i; j < s.size(); ++j)
      if (!std::isalnum(static_cast<unsigned char>(s[j]))) return false;   // 123, 0x1F, 128u
    return true;
  }
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == ':')) return false;
  return true;
}

[[noreturn]] void bad(const std::string& text, const std::string& why) {
  fail(Errc::invalid_argument, "bad kernel spec '" + text + "': " + why +
                                   " (expected family/kernel<arg,...>@sm_90a[;option...])");
}

}  // namespace

std::string KernelSpec::instance_name() const {
  std::string s = "shapejit::kernels::" + kernel + "<";
  for (size_t i = 0; i < args.size(); ++i) s += (i ? ", " : "") + args[i];
  return s + ">";
}

std::string KernelSpec::canonical() const {
  std::string s = family + "/" + kernel + "<";
  for (size_t i = 0; i < args.size(); ++i) s += (i ? "," : "") + args[i];
  s += ">@" + arch;
  for (const auto& o : options) s += ";" + o;
  return s;
}

KernelSpec KernelSpec::parse(const std::string& input) {
  const std::string text = trim(input);
  KernelSpec spec;
  const size_t slash = text.find('/');
  const size_t lt = text.find('<');
  const size_t gt = text.find('>');
  const size_t at = text.find('@');
  if (slash == std::string::npos) bad(text, "missing '/' between family and kernel");
  if (lt == std::string::npos || gt == std::string::npos || gt < lt) bad(text, "missing <...>");
  if (at == std::string::npos || at != gt + 1) bad(text, "missing '@arch' right after '>'");
  if (slash > lt) bad(text, "'/' must come before '<'");
  spec.family = text.substr(0, slash);
  spec.kernel = text.substr(slash + 1, lt - slash - 1);
  if (!is_identifier(spec.family)) bad(text, "family '" + spec.family + "' is not an identifier");
  if (!is_identifier(spec.kernel)) bad(text, "kernel '" + spec.kernel + "' is not an identifier");

  const std::string arglist = text.substr(lt + 1, gt - lt - 1);
  if (!trim(arglist).empty()) {
    size_t start = 0;
    while (true) {
      size_t comma = arglist.find(',', start);
      std::string arg = trim(arglist.substr(start, comma == std::string::npos ? std::string::npos
                                                                               : comma - start));
      if (!is_valid_arg(arg)) bad(text, "template argument '" + arg + "' is not valid");
      spec.args.push_back(arg);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }

  std::string rest = text.substr(at + 1);
  size_t semi = rest.find(';');
  spec.arch = trim(rest.substr(0, semi));
  if (!is_known_arch(spec.arch)) bad(text, "arch '" + spec.arch + "' is not a known target (" + known_archs_text() + ")");
  while (semi != std::string::npos) {
    size_t next = rest.find(';', semi + 1);
    std::string opt = trim(rest.substr(semi + 1, next == std::string::npos ? std::string::npos
                                                                            : next - semi - 1));
    if (opt.empty()) bad(text, "empty option");
    if (!is_allowed_option(opt))
      bad(text, "option '" + opt + "' is not allowed (allowed: " + allowed_options_text() + ")");
    spec.options.push_back(opt);
    semi = next;
  }
  return spec;
}

// Targets the kernels can be compiled for; anything else never reaches NVRTC.
constexpr std::string_view kKnownArchs[] = {"sm_80",  "sm_86",   "sm_89",  "sm_90",
                                            "sm_90a", "sm_100a", "sm_120a"};

bool is_known_arch(std::string_view arch) {
  for (auto a : kKnownArchs)
    if (a == arch) return true;
  return false;
}

std::string known_archs_text() {
  std::string s;
  for (auto a : kKnownArchs) s += (s.empty() ? "" : ", ") + std::string(a);
  return s;
}

void check_arch(const std::string& arch) {
  if (!is_known_arch(arch))
    fail(Errc::invalid_argument,
         "arch '" + arch + "' is not a known target (" + known_archs_text() + ")");
}

// Specs may come from manifests shared between machines, so their options are data: only
// code-generation switches that cannot name a host file pass (no include paths, no
// pre-includes, no output or timing files).
bool is_allowed_option(std::string_view opt) {
  for (auto fixed : {"-lineinfo", "--generate-line-info", "-G", "--device-debug",
                     "--use_fast_math", "-use_fast_math"})
    if (opt == fixed) return true;
  auto digits = [](std::string_view v) {
    return !v.empty() && v.size() <= 4 &&
           std::all_of(v.begin(), v.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
  };
  auto boolean = [](std::string_view v) { return v == "true" || v == "false"; };
  for (std::string_view flag : {"--ftz=", "--prec-div=", "--prec-sqrt=", "--fmad="})
    if (opt.substr(0, flag.size()) == flag) return boolean(opt.substr(flag.size()));
  for (std::string_view flag : {"-maxrregcount=", "--maxrregcount="})
    if (opt.substr(0, flag.size()) == flag) return digits(opt.substr(flag.size()));
  if (opt.substr(0, 2) == "-D") {
    // -DNAME or -DNAME=VALUE with a plain token as the value.
    const std::string_view def = opt.substr(2);
    const size_t eq = def.find('=');
    const std::string name(def.substr(0, eq));
    if (!is_identifier(name)) return false;
    if (eq == std::string_view::npos) return true;
    const std::string_view value = def.substr(eq + 1);
    return !value.empty() && std::all_of(value.begin(), value.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
    });
  }
  return false;
}

std::string allowed_options_text() {
  return "-lineinfo, -G, --use_fast_math, --ftz=, --prec-div=, --prec-sqrt=, --fmad=, "
         "-maxrregcount=N, -DNAME[=VALUE]";
}

std::string spec_arg(long long value) { return std::to_string(value); }
std::string spec_arg(bool value) { return value ? "true" : "false"; }

}  // namespace shapejit::jit
