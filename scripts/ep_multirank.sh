#!/usr/bin/env bash
# Runs the multi-rank EP test: N processes of ep_rank_check on the GPUs of this machine (all on
# one GPU when there is one), each with its own NCCL_HOSTID so that NCCL treats them as separate
# hosts and uses its socket transport on loopback (P2P and SHM disabled). Every rank checks
# every received row and every combined output against the host reference.
#
#   scripts/ep_multirank.sh N path/to/ep_rank_check [ep_rank_check arguments...]
#
# Exit 0 when every rank passed, 77 when the test cannot run here (reason printed), else 1.
# EP_MULTIRANK_TIMEOUT (seconds, default 240) bounds the whole run.
set -uo pipefail
N="$1"; BIN="$2"; shift 2
out="$("$BIN" --probe 2>&1)"
code=$?
if [ "$code" -ne 0 ]; then
  echo "$out"
  [ "$code" -eq 77 ] && exit 77
  exit 1
fi
GPUS="$(nvidia-smi -L 2>/dev/null | wc -l)"
[ "$GPUS" -ge 1 ] || GPUS=1
WORK="$(mktemp -d "${TMPDIR:-/tmp}/shapejit-ep.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
pids=()
for ((r = 0; r < N; r++)); do
  SHAPEJIT_EP_RANK=$r SHAPEJIT_EP_WORLD_SIZE=$N SHAPEJIT_EP_ID_FILE="$WORK/nccl-id" \
  SHAPEJIT_EP_LOCAL_RANK=$((r % GPUS)) NCCL_HOSTID="shapejit-ep-host-$r" \
  NCCL_P2P_DISABLE=1 NCCL_SHM_DISABLE=1 NCCL_IB_DISABLE=1 NCCL_NET=Socket NCCL_SOCKET_IFNAME=lo \
  SHAPEJIT_CACHE="${SHAPEJIT_CACHE:-$WORK/kernels.db}" \
    timeout "${EP_MULTIRANK_TIMEOUT:-240}" "$BIN" "$@" >"$WORK/rank$r.log" 2>&1 &
  pids+=($!)
done
status=0
for ((r = 0; r < N; r++)); do
  if ! wait "${pids[$r]}"; then status=1; fi
done
for ((r = 0; r < N; r++)); do
  echo "--- rank $r"; cat "$WORK/rank$r.log"
done
exit $status
