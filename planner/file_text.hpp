#pragma once
// Whole-file reads with the project's error style. Internal to the planner.
#include <fstream>
#include <sstream>
#include <string>

#include "shapejit/error.hpp"

namespace shapejit::planner::detail {

inline std::string read_text_file(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(Errc::io, std::string("cannot open ") + what + " file '" + path + "'");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace shapejit::planner::detail
