#include "worker_protocol.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <chrono>
#include <cstring>

namespace shapejit::jit::worker_protocol {
namespace {

constexpr std::uint32_t kMaxMessage = 512u << 20;   // far above any cubin + PTX

void put_u32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put_field(std::string& out, const std::string& s) {
  put_u32(out, static_cast<std::uint32_t>(s.size()));
  out += s;
}
void put_int(std::string& out, long long v) { put_field(out, std::to_string(v)); }

class Reader {
 public:
  explicit Reader(const std::string& s) : s_(s) {}
  std::string field() {
    if (pos_ + 4 > s_.size()) malformed();
    std::uint32_t n = 0;
    for (int i = 0; i < 4; ++i) n |= std::uint32_t(static_cast<unsigned char>(s_[pos_ + i])) << (8 * i);
    pos_ += 4;
    if (pos_ + n > s_.size()) malformed();
    std::string out = s_.substr(pos_, n);
    pos_ += n;
    return out;
  }
  long long integer() {
    const std::string f = field();
    try {
      return std::stoll(f);
    } catch (const std::exception&) {
      malformed();
    }
  }
  double real() {
    const std::string f = field();
    try {
      return std::stod(f);
    } catch (const std::exception&) {
      malformed();
    }
  }

 private:
  [[noreturn]] static void malformed() { fail(Errc::io, "malformed message from compile worker"); }
  const std::string& s_;
  size_t pos_ = 0;
};

}  // namespace

std::string encode(const Request& r) {
  std::string out;
  put_field(out, r.spec);
  put_int(out, r.want_ptx ? 1 : 0);
  return out;
}

Request decode_request(const std::string& payload) {
  Reader in(payload);
  Request r;
  r.spec = in.field();
  r.want_ptx = in.integer() != 0;
  return r;
}

std::string encode(const Response& r) {
  std::string out;
  put_int(out, static_cast<int>(r.status));
  put_int(out, static_cast<int>(r.error_code));
  put_field(out, r.message);
  const CompileResult& c = r.result;
  put_field(out, std::string(c.cubin.begin(), c.cubin.end()));
  put_field(out, c.ptx);
  put_field(out, c.log);
  put_field(out, c.lowered_name);
  for (long long v : {c.registers, c.spill_store_bytes, c.spill_load_bytes, c.stack_frame_bytes,
                      c.static_smem_bytes})
    put_int(out, v);
  put_field(out, std::to_string(c.compile_ms));
  return out;
}

Response decode_response(const std::string& payload) {
  Reader in(payload);
  Response r;
  r.status = static_cast<Status>(in.integer());
  r.error_code = static_cast<Errc>(in.integer());
  r.message = in.field();
  CompileResult& c = r.result;
  const std::string cubin = in.field();
  c.cubin.assign(cubin.begin(), cubin.end());
  c.ptx = in.field();
  c.log = in.field();
  c.lowered_name = in.field();
  c.registers = static_cast<int>(in.integer());
  c.spill_store_bytes = static_cast<int>(in.integer());
  c.spill_load_bytes = static_cast<int>(in.integer());
  c.stack_frame_bytes = static_cast<int>(in.integer());
  c.static_smem_bytes = static_cast<int>(in.integer());
  c.compile_ms = in.real();
  return r;
}

bool write_message(int fd, const std::string& payload) {
  std::string frame;
  put_u32(frame, static_cast<std::uint32_t>(payload.size()));
  frame += payload;
  size_t done = 0;
  while (done < frame.size()) {
    // MSG_NOSIGNAL: a dead peer is an error to report, not a SIGPIPE that kills the caller.
    ssize_t n = ::send(fd, frame.data() + done, frame.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

namespace {

// Reads exactly n bytes; false on EOF or when the peer is found dead. Honors the deadline
// (steady clock, ms since epoch of the clock; < 0 = none).
bool read_exact(int fd, char* buf, size_t n, long long deadline, const std::function<bool()>& peer_alive) {
  // NOTES: how often an idle wait asks whether the peer still lives; a child it left behind may
  // hold the socket open, so EOF alone cannot tell.
  constexpr int kAliveCheckMs = 100;
  size_t done = 0;
  while (done < n) {
    if (deadline >= 0 || peer_alive) {
      int wait = peer_alive ? kAliveCheckMs : -1;
      if (deadline >= 0) {
        const long long now = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::steady_clock::now().time_since_epoch())
                                  .count();
        if (now >= deadline) fail(Errc::compile_timeout, "deadline passed");
        wait = wait < 0 ? static_cast<int>(deadline - now) : static_cast<int>(std::min<long long>(wait, deadline - now));
      }
      pollfd p{fd, POLLIN, 0};
      int rc = ::poll(&p, 1, wait);
      if (rc < 0 && errno == EINTR) continue;
      if (rc == 0) {
        if (peer_alive && !peer_alive()) return false;
        continue;   // re-check the deadline
      }
    }
    ssize_t got = ::read(fd, buf + done, n - done);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    done += static_cast<size_t>(got);
  }
  return true;
}

}  // namespace

std::optional<std::string> read_message(int fd, int deadline_ms, const std::function<bool()>& peer_alive) {
  const long long deadline =
      deadline_ms < 0 ? -1
                      : std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::steady_clock::now().time_since_epoch())
                                .count() +
                            deadline_ms;
  char header[4];
  if (!read_exact(fd, header, 4, deadline, peer_alive)) return std::nullopt;
  std::uint32_t n = 0;
  for (int i = 0; i < 4; ++i) n |= std::uint32_t(static_cast<unsigned char>(header[i])) << (8 * i);
  if (n > kMaxMessage) fail(Errc::io, "compile worker message too large");
  std::string payload(n, '\0');
  if (!read_exact(fd, payload.data(), n, deadline, peer_alive)) return std::nullopt;
  return payload;
}

}  // namespace shapejit::jit::worker_protocol
