"""Autotuning through Python: without a GPU the compile phase runs, is recorded and can be
resumed; sessions and reports read back."""

from __future__ import annotations

import pytest

import shapejit
from shapejit import tuning

MANIFEST = {"kernels": [{"op": "gemm_fp8", "m": 128, "n": 2112, "k": 7168}]}


def test_cpu_phase_is_recorded_and_reported(cache_path):
    ok, _ = shapejit.driver_available()
    if ok:
        pytest.skip("a GPU is present: the session would measure (covered by the C++ tuning tests)")
    r = tuning.tune(manifest=MANIFEST, ops=["gemm_fp8"], max_candidates=2, arch="sm_90a", cache_path=cache_path,
                    jobs=2)
    assert r["state"] == "cpu_only" and r["unmeasured_reason"]
    assert r["shapes"] == 1 and r["candidates"] >= 1
    assert r["compiled"] + r["pruned"] == r["candidates"] and r["measured"] == 0 and r["winners"] == 0
    (s,) = tuning.sessions(cache_path)
    assert s["id"] == r["session"] and s["state"] == "cpu_only"
    rep = tuning.report(r["session"], cache_path)
    assert isinstance(rep, dict)
    svg = tuning.report(r["session"], cache_path, format="svg")
    assert "<svg" in svg and svg.rstrip().endswith("</svg>")
    again = tuning.tune(resume=r["session"], cache_path=cache_path, arch="sm_90a", jobs=2)
    assert again["session"] == r["session"] and again["compiled"] == 0
    with pytest.raises(shapejit.InvalidArgument, match="format"):
        tuning.report(r["session"], cache_path, format="png")


def test_tune_needs_shapes_and_a_database(tmp_path):
    with pytest.raises(shapejit.InvalidArgument, match="model, manifest or resume"):
        tuning.tune(cache_path=str(tmp_path / "k.db"))
    with pytest.raises(shapejit.CacheError):
        tuning.sessions(str(tmp_path / "missing.db"))
