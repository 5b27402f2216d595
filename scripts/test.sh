#!/usr/bin/env bash
# Set up, build, and run the whole test suite through ctest (GPU tests skip without a GPU).
# Extra arguments go to ctest, e.g. scripts/test.sh -L gemm.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup.sh"
rm -rf "$BUILD_DIR/test-cache"
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "${JOBS:-$(nproc)}" --timeout 900 "$@"
