#!/usr/bin/env bash
# Set up, build, and pre-compile the built-in DeepSeek-V3 kernel set into the default cache
# ($XDG_CACHE_HOME/shapejit/kernels.db, else ~/.cache/shapejit/kernels.db). A second run is
# all cache hits. Extra arguments go to `shapejit precompile`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup.sh"
exec "$BUILD_DIR/bin/shapejit" precompile --model deepseek-v3 "$@"
