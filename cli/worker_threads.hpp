#pragma once
// The CLI's commands share the runtime's work loop (shapejit/runtime/work_loop.hpp).
#include "shapejit/runtime/work_loop.hpp"

namespace shapejit::cli {
using runtime::run_work_loop;
using runtime::ThreadStarter;
}  // namespace shapejit::cli
