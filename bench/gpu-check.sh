#!/usr/bin/env bash
# Runs everything that needs a GPU, in one go, and leaves its logs in one folder:
#   device facts → every test binary (GPU tests run instead of skipping) → compute-sanitizer on
#   the kernel tests → every `shapejit bench` with --json (bench moe also writes
#   cost-profile.json for `shapejit plan overlap`) → summary.txt.
# BUILD_DIR: a build folder made with -DSHAPEJIT_STATIC_DEPS=ON (built here when absent).
# LOG_DIR: where the logs go (default: gpu-check-logs).
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build-gpu}"
LOG_DIR="${LOG_DIR:-$ROOT/gpu-check-logs}"
mkdir -p "$LOG_DIR"
export SHAPEJIT_CACHE="$LOG_DIR/kernels.db"
if [ ! -x "$BUILD_DIR/bin/shapejit" ]; then
  BUILD_DIR="$BUILD_DIR" BUILD_TYPE=Release CMAKE_ARGS="-DSHAPEJIT_STATIC_DEPS=ON" \
    bash "$ROOT/scripts/setup.sh" >"$LOG_DIR/build.log" 2>&1 || { echo "build failed"; tail -30 "$LOG_DIR/build.log"; exit 1; }
fi
BIN="$BUILD_DIR/bin"
summary="$LOG_DIR/summary.txt"
: >"$summary"
{
  echo "date: $(date -u +%F\ %T) UTC"
  nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,memory.total --format=csv,noheader 2>/dev/null | sed 's/^/gpu: /'
  echo "cuda: $(nvcc --version 2>/dev/null | tail -1)"
  echo "ldd shapejit:"; ldd "$BIN/shapejit" | sed 's/^/  /'
  "$BIN/shapejit" info
} >>"$summary" 2>&1

status=0
for t in "$BIN"/*_tests; do
  name=$(basename "$t")
  timeout 300 "$t" --gtest_brief=1 >"$LOG_DIR/$name.log" 2>&1
  rc=$?
  passed=$(grep -c '^\[       OK \]' "$LOG_DIR/$name.log")
  printf '%-16s rc=%d %s\n' "$name" "$rc" "$(grep -E '^\[  (PASSED|FAILED|SKIPPED) ' "$LOG_DIR/$name.log" | tr '\n' ' ')" >>"$summary"
  grep -E '^\[  FAILED  \]' "$LOG_DIR/$name.log" | sort -u >>"$summary"
  [ $rc -ne 0 ] && status=1
done

if command -v compute-sanitizer >/dev/null && [ "${SANITIZE:-1}" = 1 ]; then
  for tool in memcheck racecheck; do
    timeout 240 compute-sanitizer --tool $tool --error-exitcode 9 "$BIN/runtime_tests" \
      --gtest_filter='*Gpu*' >"$LOG_DIR/sanitizer-$tool.log" 2>&1
    echo "compute-sanitizer $tool runtime_tests: rc=$? $(grep -E 'ERROR SUMMARY' "$LOG_DIR/sanitizer-$tool.log" | tail -1)" >>"$summary"
  done
fi

for b in gemm mla moe; do
  extra=()
  # The MoE bench also writes a planner cost profile with the measured MoE compute.
  [ $b = moe ] && extra=(--profile "$LOG_DIR/cost-profile.json"
                         --base "$ROOT/planner/profiles/h800_deepseek_v3_single_node_ep8.json")
  timeout 300 "$BIN/shapejit" bench $b --json "${extra[@]}" >"$LOG_DIR/bench-$b.json" 2>"$LOG_DIR/bench-$b.err"
  echo "bench $b: rc=$?" >>"$summary"
done
cat "$summary"
exit $status
