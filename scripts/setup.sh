#!/usr/bin/env bash
# Installs the Debian packages shapejit builds with (only those missing), then configures and
# builds into ${BUILD_DIR:-build}. Sourced by run.sh and test.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
CUDA_HOME="${CUDA_HOME:-/usr/local/cuda}"

PACKAGES=(cmake ninja-build g++ pkg-config libsqlite3-dev libgtest-dev libgmock-dev
          nlohmann-json3-dev libcli11-dev libxxhash-dev llvm-14-tools python3 python3-venv
          python3-dev)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
if [ ! -x "$CUDA_HOME/bin/nvcc" ] && [ ! -f "$CUDA_HOME/include/nvrtc.h" ]; then
  echo "setup: the CUDA toolkit was not found at $CUDA_HOME (set CUDA_HOME)" >&2
  exit 1
fi

# The Python package's build and test tools (python/requirements-dev.txt) in a venv inside the
# build folder, made once; the build below builds the package and ctest runs its pytest suite.
PY_VENV="$BUILD_DIR/pyvenv"
if ! "$PY_VENV/bin/python" -c "import nanobind, scikit_build_core, numpy, pytest" 2>/dev/null; then
  echo "setup: creating $PY_VENV"
  "${PYTHON:-python3}" -m venv --clear "$PY_VENV"
  "$PY_VENV/bin/pip" install -q --disable-pip-version-check -r "$ROOT/python/requirements-dev.txt"
fi

JOBS="${JOBS:-$(nproc)}"
cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" \
      -DCUDAToolkit_ROOT="$CUDA_HOME" -DSHAPEJIT_BUILD_PYTHON=ON -DPython_EXECUTABLE="$PY_VENV/bin/python" \
      ${CMAKE_ARGS:-} >/dev/null
cmake --build "$BUILD_DIR" -j "$JOBS"
