#!/usr/bin/env bash
# compare-kernels.sh BASE_REV [HEAD_REV]: do two revisions compile the DeepSeek-V3 kernel set
# (sm_90a, 132 SMs) to the same cubins?
# Builds each revision in a temporary git worktree (only the shapejit CLI and its compile worker;
# ccache when installed), precompiles the set into a fresh database, hashes every cubin and
# prints the specs that are identical, changed, added (only in HEAD_REV) and removed (only in
# BASE_REV). Exit 0 when nothing changed, 1 when anything did, 2 on a usage or build error.
# HEAD_REV defaults to HEAD. WORK_DIR keeps the worktrees and builds there for the next run
# (default: a temporary folder removed at exit). Needs git, cmake, ninja, sqlite3, sha256sum.
# NOTES: before --frandom-seed was a base compile option, NVRTC named internal-linkage symbols
# after the process id, so such a revision's kernels with namespace-scope constants differed from
# run to run; its worktree gets that one option added (a symbol-name change only, no codegen).
set -euo pipefail
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
ROOT="$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --show-toplevel)"
for tool in git cmake ninja sqlite3 sha256sum; do
  command -v "$tool" >/dev/null || { echo "compare-kernels: $tool not found" >&2; exit 2; }
done
resolve() { git -C "$ROOT" rev-parse --verify --quiet "$1^{commit}" || { echo "compare-kernels: unknown revision '$1'" >&2; exit 2; }; }
BASE=$(resolve "$1")
HEAD_SHA=$(resolve "${2:-HEAD}")

if [ -n "${WORK_DIR:-}" ]; then
  mkdir -p "$WORK_DIR"
  WORK="$(cd "$WORK_DIR" && pwd)"
else
  WORK="$(mktemp -d "${TMPDIR:-/tmp}/compare-kernels.XXXXXX")"
fi
cleanup() {
  [ -n "${WORK_DIR:-}" ] && return
  for sha in "$BASE" "$HEAD_SHA"; do
    git -C "$ROOT" worktree remove --force "$WORK/wt-$sha" >/dev/null 2>&1 || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)

# hashes SHA: SPEC<TAB>SHA-256 of the cubin for every kernel of the set, sorted, in $WORK/SHA.tsv.
hashes() {
  local sha=$1 wt="$WORK/wt-$1" db="$WORK/$1.db"
  [ -d "$wt" ] || git -C "$ROOT" worktree add --detach "$wt" "$sha" >/dev/null 2>&1 \
    || { echo "compare-kernels: cannot make a worktree for $sha" >&2; exit 2; }
  if ! git -C "$ROOT" show "$sha:jit/nvrtc_compiler.cpp" | grep -q -- --frandom-seed; then
    grep -q -- --frandom-seed "$wt/jit/nvrtc_compiler.cpp" ||
      sed -i 's|"--ptxas-options=-v"};|"--ptxas-options=-v", "--frandom-seed=0"};|' "$wt/jit/nvrtc_compiler.cpp"
    if grep -q -- --frandom-seed "$wt/jit/nvrtc_compiler.cpp"; then
      echo "note: ${sha:0:7} built with --frandom-seed=0 added to its base options" >&2
    else
      echo "note: ${sha:0:7} has no fixed --frandom-seed: kernels with internal-linkage constants" \
           "differ from run to run there" >&2
    fi
  fi
  if ! { cmake -S "$wt" -B "$wt/build" -G Ninja -DSHAPEJIT_BUILD_TESTS=OFF "${launcher[@]}" \
           && ninja -C "$wt/build" -j "${JOBS:-2}" shapejit_cli shapejit_compile_worker; } \
         >"$WORK/$sha.build.log" 2>&1; then
    echo "compare-kernels: build of ${sha:0:7} failed (log $WORK/$sha.build.log):" >&2
    tail -20 "$WORK/$sha.build.log" >&2
    exit 2
  fi
  rm -f "$db" "$db-wal" "$db-shm"
  "$wt/build/bin/shapejit" precompile --model deepseek-v3 --arch sm_90a --num-sms 132 \
    --cache "$db" --json >"$WORK/$sha.precompile.json" 2>&1 \
    || { echo "compare-kernels: precompile at ${sha:0:7} failed:" >&2; tail -5 "$WORK/$sha.precompile.json" >&2; exit 2; }
  sqlite3 -separator $'\t' "$db" "SELECT spec, hex(cubin) FROM kernels ORDER BY spec" |
    while IFS=$'\t' read -r spec hex; do
      printf '%s\t%s\n' "$spec" "$(printf '%s' "$hex" | sha256sum | cut -c1-32)"
    done | LC_ALL=C sort >"$WORK/$sha.tsv"
}

hashes "$BASE"
hashes "$HEAD_SHA"

# join on the spec: "spec base_hash head_hash", a missing side as "-".
LC_ALL=C join -t $'\t' -a1 -a2 -e - -o 0,1.2,2.2 "$WORK/$BASE.tsv" "$WORK/$HEAD_SHA.tsv" >"$WORK/joined.tsv"
section() {   # section TITLE AWK_CONDITION
  local rows
  rows=$(awk -F'\t' "$2 { print \"  \" \$1 }" "$WORK/joined.tsv")
  echo "$1: $(printf '%s' "$rows" | grep -c . || true)"
  [ -n "$rows" ] && printf '%s\n' "$rows"
  return 0
}
echo "DeepSeek-V3 kernel set, sm_90a, 132 SMs: ${BASE:0:7} -> ${HEAD_SHA:0:7}"
section identical '$2 != "-" && $2 == $3'
section changed '$2 != "-" && $3 != "-" && $2 != $3'
section added '$2 == "-"'
section removed '$3 == "-"'
if awk -F'\t' '$2 != $3 { found = 1 } END { exit !found }' "$WORK/joined.tsv"; then exit 1; fi
exit 0
