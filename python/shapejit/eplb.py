"""Expert-parallel load balancing: a drop-in for DeepSeek's ``eplb.rebalance_experts`` plus
shapejit's refinement and migration-aware rebalancing (planner/include/shapejit/planner/eplb.hpp).

Tensors in, tensors out: NumPy in -> NumPy out, torch in -> torch out (on the input's device).
The planner runs on the CPU in C++ with the GIL released.
"""

from __future__ import annotations

import sys
from typing import Any, Tuple

import numpy as np

from . import _shapejit as _C

__all__ = ["rebalance_experts", "rebalance_experts_report", "rebalance_with_migration"]


def _loads(weight: Any) -> Tuple[np.ndarray, Any]:
    t = sys.modules.get("torch")
    if t is not None and isinstance(weight, t.Tensor):
        return np.ascontiguousarray(weight.detach().to("cpu", t.float64).numpy()), weight.device
    return np.ascontiguousarray(np.asarray(weight, dtype=np.float64)), None


def _out(arrays, device):
    if device is None:
        return arrays
    import torch  # noqa: PLC0415

    return tuple(torch.from_numpy(a).to(device) for a in arrays)


def rebalance_experts_report(weight: Any, num_replicas: int, num_groups: int, num_nodes: int, num_gpus: int, *,
                             refine: bool = False, policy: str = "auto", refine_max_moves: int = 100000):
    """:func:`rebalance_experts` plus a report dict: the policy used and per layer the GPU load
    statistics (max, mean, balance = max/mean) after the greedy placement and after refinement,
    and the refinement's accepted moves."""
    loads, device = _loads(weight)
    phy2log, log2phy, logcnt, info = _C.eplb_plan(loads, num_replicas, num_groups, num_nodes, num_gpus, policy,
                                                  refine, refine_max_moves)
    return (*_out((phy2log, log2phy, logcnt), device), info)


def rebalance_experts(weight: Any, num_replicas: int, num_groups: int, num_nodes: int, num_gpus: int, *,
                      refine: bool = False, policy: str = "auto"):
    """Entry point of expert-parallel load balancing, DeepSeek EPLB's ``rebalance_experts``.

    weight: ``[layers, num_logical_experts]`` load statistics of all logical experts;
    num_replicas: physical experts (a multiple of num_gpus); num_groups: expert groups;
    num_nodes: server nodes (inter-node bandwidth is slower); num_gpus: GPUs (a multiple of
    num_nodes).

    Returns ``(phy2log, log2phy, logcnt)`` as int64 arrays: ``phy2log [layers, num_replicas]``
    the logical expert of each physical slot; ``log2phy [layers, num_logical_experts,
    num_replicas - num_logical_experts + 1]`` the physical slots of each expert's replicas, -1
    padded; ``logcnt [layers, num_logical_experts]`` replicas per expert. The hierarchical policy
    (groups -> nodes, replicate inside nodes, pack onto GPUs) is used when num_groups divides by
    num_nodes, else the global one, as in EPLB; ties go to the lowest index (EPLB's results).

    shapejit options (keyword-only): ``refine=True`` runs a local search after the greedy
    placement that never raises any layer's heaviest GPU; ``policy`` forces 'hierarchical' or
    'global'.
    """
    out = rebalance_experts_report(weight, num_replicas, num_groups, num_nodes, num_gpus, refine=refine,
                                   policy=policy)
    return out[:3]


def rebalance_with_migration(current_phy2log: Any, weight: Any, num_groups: int, num_nodes: int, num_gpus: int, *,
                             move_cost: float = 1.0, policy: str = "auto", max_moves: int = 100000):
    """A new placement for new loads that weighs balance against expert weights copied between
    GPUs: of the current placement, an incremental search from it and a fresh EPLB placement
    (GPUs relabelled to keep experts in place), per layer the one of least
    ``max GPU load + move_cost * copies``.

    current_phy2log: ``[layers, num_replicas]`` (e.g. from :func:`rebalance_experts`); weight:
    the new loads ``[layers, experts]``. Returns ``(phy2log, log2phy, logcnt, report)``; report
    per layer: current/fresh/chosen load statistics, copies (moved, fresh_moved), cost and the
    choice ('current' | 'incremental' | 'fresh'), and total_moved.
    """
    loads, device = _loads(weight)
    t = sys.modules.get("torch")
    if t is not None and isinstance(current_phy2log, t.Tensor):
        current = np.ascontiguousarray(current_phy2log.detach().cpu().numpy().astype(np.int64))
    else:
        current = np.ascontiguousarray(np.asarray(current_phy2log, dtype=np.int64))
    phy2log, log2phy, logcnt, info = _C.eplb_rebalance_with_migration(current, loads, num_groups, num_nodes, num_gpus,
                                                                      move_cost, policy, max_moves)
    return (*_out((phy2log, log2phy, logcnt), device), info)
