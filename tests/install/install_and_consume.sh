#!/usr/bin/env bash
# The installed package, used as a new user would: install into a prefix, move the prefix
# elsewhere (relocation), check the public headers, build a consumer with find_package(shapejit)
# and run it with no SHAPEJIT_* environment variables. The library must find its compile worker
# relative to itself, in the moved prefix; with the worker gone, the error must say where it
# looked and how to name it.
#   install_and_consume.sh BUILD_DIR SOURCE_DIR WORK CXX CUDA_INCLUDE_DIR
set -euo pipefail
BUILD_DIR="$1"; SOURCE_DIR="$2"; WORK="$(realpath -m "$3")"; CXX="$4"; CUDA_INCLUDE="$5"
fail() { echo "FAIL: $*" >&2; exit 1; }
run_clean() { env -u SHAPEJIT_COMPILE_WORKER -u SHAPEJIT_CACHE "$@"; }
rm -rf "$WORK"; mkdir -p "$WORK"
cmake --install "$BUILD_DIR" --prefix "$WORK/staged" >/dev/null
mkdir -p "$WORK/moved"; mv "$WORK/staged" "$WORK/moved/prefix"
PREFIX="$(realpath "$WORK/moved/prefix")"

# Public headers: the umbrella is there, internals are not, none pulls in nlohmann/json, and each
# compiles on its own from the installed tree alone.
[ -f "$PREFIX/include/shapejit/shapejit.hpp" ] || fail "no umbrella header"
for internal in jit/worker_pool.hpp jit/embedded_templates.hpp runtime/driver_api.hpp runtime/tensor_map.hpp \
                runtime/op_registry.hpp runtime/op_shape.hpp; do
  [ ! -e "$PREFIX/include/shapejit/$internal" ] || fail "internal header installed: $internal"
done
if grep -rl 'nlohmann/json\.hpp' "$PREFIX/include"; then fail "public headers include nlohmann/json.hpp"; fi
headers=$(cd "$PREFIX/include" && find shapejit -name '*.hpp' | sort)
echo "$headers" | xargs -P 2 -I{} sh -c \
  "echo '#include <{}>' | '$CXX' -std=c++20 -fsyntax-only -I'$PREFIX/include' -I'$CUDA_INCLUDE' -x c++ - \
   || { echo 'header does not compile on its own: {}' >&2; exit 255; }"
echo "$(echo "$headers" | wc -l) public headers compile on their own"

# A consumer that sets no C++ standard, against the moved prefix.
cmake -S "$SOURCE_DIR/tests/install/consumer" -B "$WORK/consumer" -G Ninja \
      -DCMAKE_PREFIX_PATH="$PREFIX" >/dev/null
cmake --build "$WORK/consumer" >/dev/null
cd "$WORK"
out=$(run_clean "$WORK/consumer/consumer" "$WORK/kernels.db") || { echo "$out"; fail "consumer failed"; }
echo "$out"
grep -qx "worker $PREFIX/libexec/shapejit/shapejit-compile-worker" <<<"$out" || fail "worker not the moved prefix's"
grep -q "compiled" <<<"$out" || fail "no compile through the worker"
grep -q "^precompile 2 kernels: 1 compiled, 1 cache hits, 0 failed, 0 not stored" <<<"$out" || fail "precompile result"
"$PREFIX/bin/shapejit" cache ls --cache "$WORK/kernels.db" |
  grep -q "quant/per_token_group_quant<K=7168,GROUP_SIZE=128,THREADS=256>@sm_90a" || fail "kernel not in the cache"

# No worker anywhere the library looks: a clear error naming the places and the fixes.
mv "$PREFIX/libexec" "$WORK/libexec.away"; mv "$PREFIX/bin/shapejit-compile-worker" "$WORK/"
rc=0; out=$(run_clean "$WORK/consumer/consumer" "$WORK/other.db") || rc=$?
echo "$out"
[ "$rc" = 3 ] || fail "expected a shapejit::Error without a worker (exit $rc)"
for expected in "$PREFIX/libexec/shapejit/shapejit-compile-worker" "$PREFIX/bin/shapejit-compile-worker" \
                "RuntimeOptions::compile_worker" "SHAPEJIT_COMPILE_WORKER"; do
  grep -qF "$expected" <<<"$out" || fail "the error does not mention $expected"
done
echo "installed library works"
