"""shapejit.eplb: DeepSeek EPLB's documented example, output shapes/dtypes/semantics, the
refinement and migration options, NumPy/torch in and out, errors."""

from __future__ import annotations

import numpy as np
import pytest

import shapejit
from shapejit import eplb

# The example of DeepSeek's EPLB README: 2 layers, 12 experts, 16 replicas, 4 groups, 2 nodes,
# 8 GPUs, and the phy2log it prints.
README_WEIGHT = [[90, 132, 40, 61, 104, 165, 39, 4, 73, 56, 183, 86],
                 [20, 107, 104, 64, 19, 197, 187, 157, 172, 86, 16, 27]]
README_PHY2LOG = [[5, 6, 5, 7, 8, 4, 3, 4, 10, 9, 10, 2, 0, 1, 11, 1],
                  [7, 10, 6, 8, 6, 11, 8, 9, 2, 4, 5, 1, 5, 0, 3, 1]]


def check_consistent(phy2log, log2phy, logcnt, experts):
    layers, slots = phy2log.shape
    assert log2phy.shape == (layers, experts, slots - experts + 1)
    assert logcnt.shape == (layers, experts)
    for arr in (phy2log, log2phy, logcnt):
        assert arr.dtype == np.int64
    for layer in range(layers):
        assert logcnt[layer].sum() == slots
        np.testing.assert_array_equal(np.bincount(phy2log[layer], minlength=experts), logcnt[layer])
        for e in range(experts):
            used = log2phy[layer, e, :logcnt[layer, e]]
            assert (phy2log[layer, used] == e).all()
            assert (log2phy[layer, e, logcnt[layer, e]:] == -1).all()


def gpu_max_load(weight, phy2log, logcnt, gpus):
    w = np.asarray(weight, dtype=np.float64)
    per_slot = np.take_along_axis(w / logcnt, phy2log, axis=1)
    return per_slot.reshape(w.shape[0], gpus, -1).sum(axis=2).max(axis=1)


def test_readme_example_reproduces_the_published_phy2log():
    phy2log, log2phy, logcnt = eplb.rebalance_experts(np.array(README_WEIGHT), 16, 4, 2, 8)
    assert isinstance(phy2log, np.ndarray)
    np.testing.assert_array_equal(phy2log, README_PHY2LOG)
    check_consistent(phy2log, log2phy, logcnt, 12)
    # Layer 0: experts 1, 4, 5 and 10 (the hottest) get a second replica.
    np.testing.assert_array_equal(logcnt[0], [1, 2, 1, 1, 2, 2, 1, 1, 1, 1, 2, 1])
    np.testing.assert_array_equal(log2phy[0, 5], [0, 2, -1, -1, -1])


def test_lists_are_accepted_and_hierarchical_replicas_stay_on_one_node():
    phy2log, _, _, info = eplb.rebalance_experts_report(README_WEIGHT, 16, 4, 2, 8)
    assert info["policy"] == "hierarchical"
    for layer in phy2log:
        nodes = {}
        for slot, e in enumerate(layer):
            nodes.setdefault(int(e), set()).add(slot // 8)
        assert all(len(n) == 1 for n in nodes.values())


def test_global_policy_when_groups_do_not_divide_among_nodes():
    rng = np.random.default_rng(3)
    w = rng.integers(1, 1000, size=(3, 24))
    phy2log, log2phy, logcnt, info = eplb.rebalance_experts_report(w, 32, 3, 2, 8)
    assert info["policy"] == "global"
    check_consistent(phy2log, log2phy, logcnt, 24)


def test_refinement_never_raises_the_heaviest_gpu():
    rng = np.random.default_rng(7)
    w = rng.gamma(0.6, 100.0, size=(6, 64))
    base = eplb.rebalance_experts(w, 80, 8, 2, 16)
    refined, log2phy, logcnt, info = eplb.rebalance_experts_report(w, 80, 8, 2, 16, refine=True)
    check_consistent(refined, log2phy, logcnt, 64)
    before = gpu_max_load(w, base[0], base[2], 16)
    after = gpu_max_load(w, refined, logcnt, 16)
    assert (after <= before + 1e-9).all()
    for layer, rep in enumerate(info["layers"]):
        assert rep["final"]["max"] <= rep["greedy"]["max"] + 1e-9
        assert rep["final"]["max"] == pytest.approx(after[layer])


def test_migration_keeps_the_placement_when_moves_are_expensive():
    w = np.array(README_WEIGHT, dtype=np.float64)
    phy2log, _, _ = eplb.rebalance_experts(w, 16, 4, 2, 8)
    shifted = w[:, ::-1].copy()   # the loads change
    kept, log2phy, logcnt, report = eplb.rebalance_with_migration(phy2log, shifted, 4, 2, 8, move_cost=1e9)
    check_consistent(kept, log2phy, logcnt, 12)
    # No expert's weights are copied: every (GPU, expert) pair of the result was there before
    # (a slot may change to an expert its GPU already holds, which costs nothing).
    assert report["total_moved"] == 0
    for old, new in zip(phy2log, kept):
        before = {(slot // 2, int(e)) for slot, e in enumerate(old)}
        assert {(slot // 2, int(e)) for slot, e in enumerate(new)} <= before
    assert all(layer["moved"] == 0 for layer in report["layers"])
    free, log2phy, logcnt, report = eplb.rebalance_with_migration(phy2log, shifted, 4, 2, 8, move_cost=0.0)
    check_consistent(free, log2phy, logcnt, 12)
    for layer in report["layers"]:
        assert layer["chosen"]["max"] <= layer["current"]["max"] + 1e-9


def test_bad_topologies_raise_invalid_argument_naming_the_problem():
    with pytest.raises(shapejit.InvalidArgument):
        eplb.rebalance_experts(README_WEIGHT, 15, 4, 2, 8)   # slots not a multiple of GPUs
    with pytest.raises(shapejit.InvalidArgument, match="finite"):
        eplb.rebalance_experts([[1.0, -2.0]], 2, 1, 1, 1)
    with pytest.raises(ValueError):   # InvalidArgument is a ValueError too
        eplb.rebalance_experts(README_WEIGHT, 16, 5, 2, 8)
    with pytest.raises(shapejit.InvalidArgument, match="current_phy2log"):
        eplb.rebalance_with_migration(np.full((2, 16), 99), README_WEIGHT, 4, 2, 8)


def test_torch_in_torch_out():
    torch = pytest.importorskip("torch")
    weight = torch.tensor(README_WEIGHT)
    phy2log, log2phy, logcnt = eplb.rebalance_experts(weight, 16, 4, 2, 8)
    assert isinstance(phy2log, torch.Tensor) and phy2log.dtype == torch.int64
    assert phy2log.tolist() == README_PHY2LOG
    assert log2phy.shape == (2, 12, 5) and logcnt.shape == (2, 12)
