#pragma once
// Autotuning: search spaces from the kernel definitions, sessions that compile, check and time
// candidates and persist every outcome, the records the runtime consults, and reports.
// docs/tuning.md explains the design.
#include "shapejit/runtime/tuning_records.hpp"
#include "shapejit/runtime/tuning_report.hpp"
#include "shapejit/runtime/tuning_session.hpp"
#include "shapejit/runtime/tuning_space.hpp"
