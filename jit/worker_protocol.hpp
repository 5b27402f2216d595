#pragma once
// The framed messages between WorkerPool and shapejit-compile-worker over a socket pair:
// each message is a 4-byte little-endian length followed by fields, each field a 4-byte length
// and its bytes.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "shapejit/error.hpp"
#include "shapejit/jit/compile_result.hpp"

namespace shapejit::jit::worker_protocol {

struct Request {
  std::string spec;     // canonical text
  bool want_ptx = false;
};

enum class Status : std::uint8_t { ok = 0, error = 1 };

struct Response {
  Status status = Status::ok;
  Errc error_code = Errc::compile_failed;   // when status == error
  std::string message;                      // when status == error
  CompileResult result;                     // when ok; result.log also on errors
};

std::string encode(const Request& r);
std::string encode(const Response& r);
Request decode_request(const std::string& payload);     // throws Error(io) on malformed data
Response decode_response(const std::string& payload);

// Blocking whole-message I/O. read_message returns nullopt on clean EOF before a message, or
// when peer_alive (asked while the socket is idle) says the peer has ended.
// deadline_ms < 0: no deadline; on expiry throws Error(compile_timeout).
bool write_message(int fd, const std::string& payload);
std::optional<std::string> read_message(int fd, int deadline_ms = -1,
                                        const std::function<bool()>& peer_alive = nullptr);

}  // namespace shapejit::jit::worker_protocol
