#pragma once
// One error style for the whole project: functions report failure by throwing shapejit::Error
// (or a subclass); the code says what kind of failure, the message names the problem
// (shape, alignment, dtype, arch, file) so a user can act on it. Header-only (target
// shapejit_error), so the planner uses it without the JIT.
#include <stdexcept>
#include <string>

namespace shapejit {

enum class Errc {
  invalid_argument,   // bad shape, dtype, alignment, spec or manifest entry
  unsupported,        // valid request this build or device cannot serve (arch, family)
  compile_failed,     // NVRTC rejected the source; the log is attached
  compiler_crashed,   // the compile worker died on a signal
  compile_timeout,    // the compile worker ran past its time limit
  cache,              // the kernel database could not be used
  no_driver,          // no CUDA driver or device on this machine
  driver,             // a CUDA Driver API call failed
  io,                 // a file could not be read or written
};

inline const char* to_string(Errc code) {
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

class Error : public std::runtime_error {
 public:
  Error(Errc code, const std::string& message)
      : std::runtime_error(message), code_(code) {}
  Errc code() const noexcept { return code_; }

 private:
  Errc code_;
};

// A compile that did not produce a cubin: carries the spec and the compiler's log.
class CompileError : public Error {
 public:
  CompileError(Errc code, std::string spec, std::string log, const std::string& message)
      : Error(code, message), spec_(std::move(spec)), log_(std::move(log)) {}
  const std::string& spec() const noexcept { return spec_; }
  const std::string& log() const noexcept { return log_; }

 private:
  std::string spec_;
  std::string log_;
};

[[noreturn]] inline void fail(Errc code, const std::string& message) { throw Error(code, message); }

}  // namespace shapejit
