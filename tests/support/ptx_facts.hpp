#pragma once
// Launch facts a kernel was compiled with, read from its PTX: the launch bound (.maxntid) and
// the value of a static constexpr member of its config (NVRTC's -default-device emits each
// such member as an initialized .global, e.g. "...MlaSplitConfig...10kSmemBytesE = 231504;").
#include <regex>
#include <string>

namespace shapejit::testing {

// The kernel's maximum threads per CTA; -1 when it has no launch bounds.
inline int ptx_max_threads(const std::string& ptx) {
  static const std::regex re(R"(\.maxntid\s+(\d+),\s*1,\s*1)");
  std::smatch m;
  return std::regex_search(ptx, m, re) ? std::stoi(m[1]) : -1;
}

// The value of the member `member` (e.g. "kSmemBytes") of a struct whose name contains
// `type` (e.g. "MlaSplitConfig"); -1 when the PTX has none.
inline long long ptx_member_value(const std::string& ptx, const std::string& type,
                                  const std::string& member) {
  const std::regex re(type + R"(\w*?E)" + std::to_string(member.size()) + member +
                      R"(E = (\d+);)");
  std::smatch m;
  return std::regex_search(ptx, m, re) ? std::stoll(m[1]) : -1;
}

}  // namespace shapejit::testing
