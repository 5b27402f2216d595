#!/usr/bin/env bash
# Runs everything that needs a GPU, in one go, and leaves its logs in one folder:
#   device facts → every test binary (GPU tests run instead of skipping) → compute-sanitizer on
#   the kernel tests → `shapejit bench profile` (writes cost-profile.json from the single-node
#   example profile) and `shapejit plan overlap` on it (proves the chooser reads it) → every
#   other `shapejit bench` with --json → summary.txt.
# After a fully green run of the test binaries (every binary exit 0, none cut by the budget, no
# *Gpu* test skipped) every kernel of the DeepSeek-V3 set for this GPU is added to the ledger of
# proven kernels (LEDGER, default bench/proven-kernels.tsv) with this GPU's name, today's date
# and the tested commit (`git rev-parse HEAD`, "-dirty" when tracked files differ from it); rows
# it already holds are not repeated. Commit the updated ledger with the run's RESULTS.md entry.
# Everything after the build shares one time budget (BUDGET_S, default 600 s): each step runs
# under `timeout` with its own limit cut to what is left, the tests and the sanitizer leave
# BENCH_RESERVE_S (default 240 s) for the benches, and a step with no time left is reported as
# skipped.
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
BUDGET_S="${BUDGET_S:-600}"
BENCH_RESERVE_S="${BENCH_RESERVE_S:-240}"
SECONDS=0
# limit WANT [RESERVE]: seconds a step may take, WANT cut to the budget left after RESERVE;
# prints 0 when fewer than 10 s are left.
limit() {
  local left=$((BUDGET_S - SECONDS - ${2:-0}))
  if [ "$left" -lt 10 ]; then echo 0; elif [ "$1" -lt "$left" ]; then echo "$1"; else echo "$left"; fi
}
{
  echo "date: $(date -u +%F\ %T) UTC"
  nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,memory.total --format=csv,noheader 2>/dev/null | sed 's/^/gpu: /'
  echo "cuda: $(nvcc --version 2>/dev/null | tail -1)"
  echo "ldd shapejit:"; ldd "$BIN/shapejit" | sed 's/^/  /'
  "$BIN/shapejit" info
} >>"$summary" 2>&1

status=0
tests_green=1
for t in "$BIN"/*_tests; do
  name=$(basename "$t")
  lim=$(limit 300 "$BENCH_RESERVE_S")
  if [ "$lim" = 0 ]; then echo "$name: skipped (time budget spent)" >>"$summary"; status=1; tests_green=0; continue; fi
  # The ledger check is what a green run updates, so it cannot be a condition of one.
  filter=()
  [ "$name" = ledger_tests ] && filter=(--gtest_filter=-ProvenKernels.EveryDefaultDeepSeekV3KernelIsInTheLedger)
  timeout "$lim" "$t" --gtest_brief=1 --gtest_output="xml:$LOG_DIR/$name.xml" "${filter[@]}" \
    >"$LOG_DIR/$name.log" 2>&1
  rc=$?
  passed=$(grep -c '^\[       OK \]' "$LOG_DIR/$name.log")
  printf '%-16s rc=%d %s\n' "$name" "$rc" "$(grep -E '^\[  (PASSED|FAILED|SKIPPED) ' "$LOG_DIR/$name.log" | tr '\n' ' ')" >>"$summary"
  grep -E '^\[  FAILED  \]' "$LOG_DIR/$name.log" | sort -u >>"$summary"
  [ $rc -ne 0 ] && status=1 && tests_green=0
  gpu_skipped=$(grep -E 'result="skipped".*classname="[A-Za-z0-9_]*Gpu' "$LOG_DIR/$name.xml" 2>/dev/null |
                sed -E 's/.*<testcase name="([^"]*)".*classname="([^"]*)".*/  skipped: \2.\1/')
  if [ -n "$gpu_skipped" ]; then echo "$gpu_skipped" >>"$summary"; tests_green=0; fi
done

if command -v compute-sanitizer >/dev/null && [ "${SANITIZE:-1}" = 1 ]; then
  for tool in memcheck racecheck; do
    lim=$(limit 240 "$BENCH_RESERVE_S")
    if [ "$lim" = 0 ]; then echo "compute-sanitizer $tool: skipped (time budget spent)" >>"$summary"; continue; fi
    for bin in runtime_tests quant_tests; do
      timeout "$lim" compute-sanitizer --tool $tool --error-exitcode 9 "$BIN/$bin" \
        --gtest_filter='*Gpu*' >"$LOG_DIR/sanitizer-$tool-$bin.log" 2>&1
      echo "compute-sanitizer $tool $bin: rc=$? $(grep -E 'ERROR SUMMARY' "$LOG_DIR/sanitizer-$tool-$bin.log" | tail -1)" >>"$summary"
    done
  done
fi

# The ledger of proven kernels: only after a fully green test run.
LEDGER="${LEDGER:-$ROOT/bench/proven-kernels.tsv}"
commit=$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || true)
if [ "$tests_green" != 1 ]; then
  echo "ledger: not updated (a test binary failed, was cut by the budget, or skipped a GPU test)" >>"$summary"
elif [ -z "$commit" ]; then
  echo "ledger: not updated (no git commit to record: $ROOT is not a git checkout)" >>"$summary"
else
  git -C "$ROOT" diff --quiet HEAD -- 2>/dev/null || commit="$commit-dirty"
  timeout 300 "$BIN/shapejit" ledger check --ledger "$LEDGER" >"$LOG_DIR/ledger-before.log" 2>&1
  echo "ledger before this run: $(tail -1 "$LOG_DIR/ledger-before.log")" >>"$summary"
  timeout 300 "$BIN/shapejit" ledger append --ledger "$LEDGER" --commit "$commit" \
    >"$LOG_DIR/ledger.log" 2>&1
  echo "ledger: rc=$? $(tail -1 "$LOG_DIR/ledger.log")" >>"$summary"
fi

# The measured cost profile first (moe_gemm and shared_expert of both phases, decode attention;
# the rest carried from the base), then the overlap chooser on it: proof that it reads it.
rm -f "$LOG_DIR/cost-profile.json"
lim=$(limit 150)
if [ "$lim" = 0 ]; then
  echo "bench profile: skipped (time budget spent)" >>"$summary"; status=1
else
  timeout "$lim" "$BIN/shapejit" bench profile --json --out "$LOG_DIR/cost-profile.json" \
    --base "$ROOT/planner/profiles/h800_deepseek_v3_single_node_ep8.json" \
    >"$LOG_DIR/bench-profile.json" 2>"$LOG_DIR/bench-profile.err"
  rc=$?
  echo "bench profile: rc=$rc (limit ${lim} s)" >>"$summary"
  [ $rc -ne 0 ] && status=1
fi
lim=$(limit 30)
if [ ! -s "$LOG_DIR/cost-profile.json" ]; then
  echo "plan overlap: not run (no cost-profile.json)" >>"$summary"
elif [ "$lim" = 0 ]; then
  echo "plan overlap: skipped (time budget spent)" >>"$summary"; status=1
else
  timeout "$lim" "$BIN/shapejit" plan overlap --profile "$LOG_DIR/cost-profile.json" \
    >"$LOG_DIR/plan-overlap.log" 2>&1
  rc=$?
  echo "plan overlap --profile cost-profile.json: rc=$rc (log plan-overlap.log)" >>"$summary"
  [ $rc -ne 0 ] && status=1
fi

for b in moe gemm mla; do
  lim=$(limit 120)
  if [ "$lim" = 0 ]; then echo "bench $b: skipped (time budget spent)" >>"$summary"; continue; fi
  timeout "$lim" "$BIN/shapejit" bench $b --json >"$LOG_DIR/bench-$b.json" 2>"$LOG_DIR/bench-$b.err"
  echo "bench $b: rc=$? (limit ${lim} s)" >>"$summary"
done
# Expert parallelism: N ranks on this machine's GPU(s) through NCCL's socket transport, each
# checking every received row and combined output (scripts/ep_multirank.sh), then bench ep.
for n in 2 4; do
  lim=$(limit 120)
  if [ "$lim" = 0 ] || [ ! -x "$BIN/ep_rank_check" ]; then echo "ep multirank n=$n: skipped" >>"$summary"; continue; fi
  EP_MULTIRANK_TIMEOUT=$lim timeout "$lim" "$ROOT/scripts/ep_multirank.sh" $n "$BIN/ep_rank_check" --mode normal \
    >"$LOG_DIR/ep-multirank-$n.log" 2>&1
  rc=$?
  echo "ep multirank n=$n normal: rc=$rc (log ep-multirank-$n.log)" >>"$summary"
  [ $rc -ne 0 ] && [ $rc -ne 77 ] && status=1
done
lim=$(limit 90)
if [ "$lim" != 0 ]; then
  timeout "$lim" "$BIN/shapejit" bench ep --tokens 4096 --json >"$LOG_DIR/bench-ep.json" 2>"$LOG_DIR/bench-ep.err"
  echo "bench ep (1 rank): rc=$? (limit ${lim} s)" >>"$summary"
fi
echo "elapsed after the build: ${SECONDS} s of ${BUDGET_S}" >>"$summary"
cat "$summary"
exit $status
