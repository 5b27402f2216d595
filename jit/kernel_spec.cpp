#include "shapejit/jit/kernel_spec.hpp"

#include <cctype>

#include "shapejit/error.hpp"

namespace shapejit::jit {
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

// Template arguments: integers, identifiers, qualified names; no nesting, no spaces.
bool is_valid_arg(const std::string& s) {
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
  if (spec.arch.rfind("sm_", 0) != 0 || spec.arch.size() < 5)
    bad(text, "arch '" + spec.arch + "' is not of the form sm_XY[a]");
  while (semi != std::string::npos) {
    size_t next = rest.find(';', semi + 1);
    std::string opt = trim(rest.substr(semi + 1, next == std::string::npos ? std::string::npos
                                                                            : next - semi - 1));
    if (opt.empty()) bad(text, "empty option");
    spec.options.push_back(opt);
    semi = next;
  }
  return spec;
}

std::string spec_arg(long long value) { return std::to_string(value); }
std::string spec_arg(bool value) { return value ? "true" : "false"; }

}  // namespace shapejit::jit
