#pragma once
// Everything a host application uses, in one include: the runtime and its operators, the kernel
// cache, precompilation, tuning, the planner and the expert-parallel exchange. The compile
// worker, driver and NCCL loading and other internals are not part of the public headers (see
// README "Using the library").
#include "shapejit/error.hpp"

#include "shapejit/jit/compile_key.hpp"
#include "shapejit/jit/compile_result.hpp"
#include "shapejit/jit/kernel_catalog.hpp"
#include "shapejit/jit/kernel_definition.hpp"
#include "shapejit/jit/kernel_spec.hpp"

#include "shapejit/cache/kernel_record.hpp"
#include "shapejit/cache/kernel_store.hpp"
#include "shapejit/cache/recovery.hpp"

#include "shapejit/runtime/device.hpp"
#include "shapejit/runtime/device_buffer.hpp"
#include "shapejit/runtime/host_numerics.hpp"
#include "shapejit/runtime/manifest.hpp"
#include "shapejit/runtime/precompile.hpp"
#include "shapejit/runtime/runtime.hpp"
#include "shapejit/runtime/scale_layout.hpp"

#include "shapejit/runtime/deepseek_v3_gemm_shapes.hpp"
#include "shapejit/runtime/gemm.hpp"
#include "shapejit/runtime/gemm_heuristic.hpp"
#include "shapejit/runtime/mla.hpp"
#include "shapejit/runtime/moe.hpp"
#include "shapejit/runtime/quant.hpp"
#include "shapejit/runtime/tuning.hpp"

#include "shapejit/planner/cost_profile.hpp"
#include "shapejit/planner/eplb.hpp"
#include "shapejit/planner/overlap.hpp"
#include "shapejit/planner/overlap_schedule.hpp"
#include "shapejit/planner/pipeline.hpp"
#include "shapejit/planner/pipeline_simulator.hpp"
#include "shapejit/planner/timeline.hpp"

#include "shapejit/comm/ep_exchange.hpp"
#include "shapejit/comm/ep_group.hpp"
#include "shapejit/comm/ep_overlap_layer.hpp"
