#!/usr/bin/env bash
# shapejit inside a host project (add_subdirectory), used as a new user would: the host sets no
# C++ standard and its own (empty) build type, builds only its app target, and runs it with no
# SHAPEJIT_* environment variables. Building the app must build the compile worker, shapejit's
# tests and CLI must stay off, and the library must find the worker the host's tree built.
# WORK is kept between runs, so a rerun rebuilds only what changed.
#   subdirectory_consume.sh SOURCE_DIR WORK [COMPILER_LAUNCHER]
set -euo pipefail
SOURCE_DIR="$1"; WORK="$2"; LAUNCHER="${3:-}"
fail() { echo "FAIL: $*" >&2; exit 1; }
mkdir -p "$WORK"; WORK="$(realpath "$WORK")"
start=$(date +%s)
cmake -S "$SOURCE_DIR/tests/install/host" -B "$WORK/build" -G Ninja -DSHAPEJIT_SOURCE_DIR="$SOURCE_DIR" \
      -DCMAKE_BUILD_TYPE= ${LAUNCHER:+-DCMAKE_CXX_COMPILER_LAUNCHER="$LAUNCHER"} >/dev/null
cache="$WORK/build/CMakeCache.txt"
grep -qx "CMAKE_BUILD_TYPE:STRING=" "$cache" || fail "the host's build type was changed: $(grep '^CMAKE_BUILD_TYPE' "$cache")"
grep -qx "SHAPEJIT_BUILD_TESTS:BOOL=OFF" "$cache" || fail "shapejit's tests are on in a host project"
cmake --build "$WORK/build" --target app >/dev/null
echo "configured and built the app in $(( $(date +%s) - start )) s"
[ -x "$WORK/build/shapejit/bin/shapejit-compile-worker" ] || fail "building the app did not build the worker"
[ ! -e "$WORK/build/shapejit/bin/shapejit" ] || fail "the CLI was built for a host project"
rm -f "$WORK/kernels.db"
cd "$WORK"
out=$(env -u SHAPEJIT_COMPILE_WORKER -u SHAPEJIT_CACHE "$WORK/build/app" "$WORK/kernels.db") ||
  { echo "$out"; fail "app failed"; }
echo "$out"
grep -qx "worker $WORK/build/shapejit/bin/shapejit-compile-worker" <<<"$out" || fail "not the host tree's worker"
grep -q "compiled" <<<"$out" || fail "no compile through the worker"
grep -q "^precompile 2 kernels: 1 compiled, 1 cache hits, 0 failed, 0 not stored" <<<"$out" || fail "precompile result"
echo "subdirectory library works"
