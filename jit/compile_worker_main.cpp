// shapejit-compile-worker: compiles specs sent by WorkerPool over fd 0/1 until EOF. Runs NVRTC
// in its own process so a compiler crash or hang ends this process, not the caller.
#include <unistd.h>

#include <exception>

#include "shapejit/error.hpp"
#include "shapejit/jit/compiler.hpp"
#include "worker_protocol.hpp"

namespace proto = shapejit::jit::worker_protocol;

int main() {
  while (true) {
    std::optional<std::string> message;
    try {
      message = proto::read_message(0);
    } catch (const std::exception&) {
      return 1;
    }
    if (!message) return 0;
    proto::Response response;
    try {
      const proto::Request request = proto::decode_request(*message);
      response.result = shapejit::jit::compile_in_process(
          shapejit::jit::KernelSpec::parse(request.spec), request.want_ptx);
    } catch (const shapejit::CompileError& e) {
      response.status = proto::Status::error;
      response.error_code = e.code();
      response.message = e.what();
      response.result.log = e.log();
    } catch (const shapejit::Error& e) {
      response.status = proto::Status::error;
      response.error_code = e.code();
      response.message = e.what();
    } catch (const std::exception& e) {
      response.status = proto::Status::error;
      response.error_code = shapejit::Errc::compile_failed;
      response.message = e.what();
    }
    if (!proto::write_message(1, proto::encode(response))) return 1;
  }
}
