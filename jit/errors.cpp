#include "shapejit/error.hpp"

namespace shapejit {

const char* to_string(Errc code) {
  switch (code) {
    case Errc::invalid_argument: return "invalid argument";
    case Errc::unsupported: return "unsupported";
    case Errc::compile_failed: return "compile failed";
    case Errc::compiler_crashed: return "compiler crashed";
    case Errc::compile_timeout: return "compile timed out";
    case Errc::cache: return "cache";
    case Errc::no_driver: return "no CUDA driver/device";
    case Errc::driver: return "CUDA driver";
    case Errc::io: return "I/O";
  }
  return "error";
}

}  // namespace shapejit
