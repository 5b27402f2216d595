#!/usr/bin/env bash
# Installs the build into a scratch prefix, builds a consumer with find_package(shapejit) from
# there, moves the source tree out of reach, and runs it.
set -euo pipefail
BUILD_DIR="$1"; SOURCE_DIR="$2"; WORK="$3"
rm -rf "$WORK"; mkdir -p "$WORK"
cmake --install "$BUILD_DIR" --prefix "$WORK/prefix" >/dev/null
cmake -S "$SOURCE_DIR/tests/install/consumer" -B "$WORK/consumer" -G Ninja \
      -DCMAKE_PREFIX_PATH="$WORK/prefix" >/dev/null
cmake --build "$WORK/consumer" >/dev/null
cd "$WORK"
SHAPEJIT_CACHE="$WORK/kernels.db" \
SHAPEJIT_COMPILE_WORKER="$WORK/prefix/libexec/shapejit/shapejit-compile-worker" \
  "$WORK/consumer/consumer"
"$WORK/prefix/bin/shapejit" cache ls --cache "$WORK/kernels.db" | grep -q "quant/per_token_group_quant<K=7168,GROUP_SIZE=128,THREADS=256>@sm_90a"
echo "installed library works"
