"""Runtime, compile and the kernel database through Python (NVRTC works without a GPU)."""

from __future__ import annotations

import threading
import time

import pytest

import shapejit
from shapejit import cache

QUANT_MANIFEST = {"kernels": [{"op": "quant_fp8", "k": 7168}, {"op": "quant_fp8", "k": 7168}]}


def test_compile_goes_memory_cache_compiled(cache_path):
    (spec,) = shapejit.kernel_specs(QUANT_MANIFEST, arch="sm_90a")   # duplicates removed
    first = shapejit.Runtime(cache_path=cache_path)
    got = first.compile(spec)
    assert got["source"] == "compiled" and got["spec"] == spec and got["cubin_bytes"] > 0
    assert len(got["key"]) == 32 and got["registers"] > 0
    assert first.compile(spec)["source"] == "memory"
    second = shapejit.Runtime(cache_path=cache_path)
    again = second.compile(spec)
    assert again["source"] == "cache" and again["key"] == got["key"]
    s = first.stats()
    assert (s["compiles"], s["memory_hits"]) == (1, 1) and cache_path in s["cache_status"]
    assert second.stats()["cache_hits"] == 1


def test_cache_stats_ls_verify(cache_path):
    rt = shapejit.Runtime(cache_path=cache_path)
    spec = shapejit.kernel_specs(QUANT_MANIFEST, arch="sm_90a")[0]
    key = rt.compile(spec)["key"]
    st = cache.stats(cache_path)
    assert st["entries"] == 1 and st["families"] == {"quant": 1} and st["schema_version"] >= 3
    (entry,) = cache.ls(cache_path)
    assert (entry["key"], entry["spec"], entry["family"], entry["arch"]) == (key, spec, "quant", "sm_90a")
    assert cache.ls(cache_path, family="gemm") == []
    assert cache.verify(cache_path) == []


def test_cache_calls_on_a_missing_database_raise_cache_error(tmp_path):
    missing = str(tmp_path / "nothing-here.db")
    with pytest.raises(shapejit.CacheError, match="nothing-here.db"):
        cache.stats(missing)
    assert not (tmp_path / "nothing-here.db").exists()   # nothing was created


def test_runtime_options_and_sm_limit(cache_path):
    rt = shapejit.Runtime(cache_path=cache_path, use_cache=False, compile_in_process=True, jobs=1, num_sms=66)
    assert rt.options == {"cache_path": cache_path, "use_cache": False, "compile_in_process": True,
                          "compile_timeout_s": 120, "jobs": 1, "num_sms": 66, "compile_worker": "",
                          "use_tuning_records": True}
    assert rt.num_sms == 66
    rt.num_sms = 0
    assert rt.num_sms == 0
    with pytest.raises(shapejit.InvalidArgument):
        rt.num_sms = 5000
    assert shapejit.Runtime.global_runtime() is shapejit.Runtime.global_runtime()


def test_compile_error_carries_spec_and_log(runtime):
    spec = "selftest/static_assert_fails<1>@sm_90a"
    with pytest.raises(shapejit.CompileError) as info:
        runtime.compile(spec)
    err = info.value
    assert err.code == "compile_failed" and err.spec == spec
    assert "static_assert" in err.log or "error" in err.log.lower()


def test_kernel_specs_of_model_and_bad_manifests(tmp_path):
    specs = shapejit.kernel_specs(model="deepseek-v3", arch="sm_90a", num_sms=132)
    assert len(specs) == len(set(specs)) > 10
    assert {s.split("/")[0] for s in specs} >= {"quant", "gemm", "mla", "moe"}
    path = tmp_path / "m.json"
    path.write_text('{"kernels": [{"op": "gemm_fp8", "m": 128, "n": 7168, "k": 100}]}')
    with pytest.raises(shapejit.InvalidArgument, match="0"):   # names the entry
        shapejit.kernel_specs(manifest_path=str(path), arch="sm_90a")
    with pytest.raises(shapejit.InvalidArgument, match="exactly one"):
        shapejit.kernel_specs()
    with pytest.raises(shapejit.InvalidArgument, match="deepseek-v3"):
        shapejit.kernel_specs(model="llama")
    with pytest.raises(shapejit.InvalidArgument, match="sm_"):
        shapejit.kernel_specs(QUANT_MANIFEST, arch="sm_12")


def test_compile_releases_the_gil(tmp_path):
    # While another thread compiles (hundreds of ms), this thread keeps running Python.
    rt = shapejit.Runtime(cache_path=str(tmp_path / "k.db"), use_cache=False)
    spec = shapejit.kernel_specs({"kernels": [{"op": "gemm_fp8", "m": 256, "n": 4096, "k": 7168}]}, arch="sm_90a")[0]
    worker = threading.Thread(target=rt.compile, args=(spec,))
    ticks, longest, last = 0, 0.0, time.perf_counter()
    worker.start()
    while worker.is_alive():
        now = time.perf_counter()
        longest, last = max(longest, now - last), now
        ticks += 1
    worker.join()
    assert rt.stats()["compiles"] == 1
    # With the GIL held through the compile this loop would stall for the whole compile.
    assert longest < 0.1, f"the main thread stalled {longest * 1e3:.0f} ms during a compile"
    assert ticks > 1000


def test_device_queries_without_a_driver_say_why():
    ok, why = shapejit.driver_available()
    if ok:
        pytest.skip("a CUDA driver is present")
    assert why
    with pytest.raises(shapejit.NoDriver):
        shapejit.current_device()
    t = shapejit.default_target_device()
    assert (t["arch"], t["num_sms"]) == ("sm_90a", 132)


def test_precompile_compiles_once_then_hits_and_records_failures(cache_path):
    first = shapejit.precompile(manifest=QUANT_MANIFEST, arch="sm_90a", cache_path=cache_path, jobs=1)
    assert (first["total"], first["compiled"], first["cache_hits"], first["ok"]) == (1, 1, 0, True)
    assert first["cache_path"] == cache_path and first["failures"] == [] and first["not_stored"] == []
    again = shapejit.precompile(shapejit.kernel_specs(QUANT_MANIFEST, arch="sm_90a"), cache_path=cache_path)
    assert (again["compiled"], again["cache_hits"], again["ok"]) == (0, 1, True)
    assert cache.stats(cache_path)["entries"] == 1
    bad = shapejit.precompile(["selftest/static_assert_fails<2>@sm_90a"], cache_path=cache_path, jobs=1)
    assert not bad["ok"] and bad["compiled"] == 0
    (failure,) = bad["failures"]
    assert failure["code"] == "compile failed" and "static_assert_fails" in failure["spec"]
    with pytest.raises(shapejit.InvalidArgument, match="not both"):
        shapejit.precompile(["x"], model="deepseek-v3")


def test_the_compile_worker_is_the_one_shipped_beside_the_module(tmp_path, monkeypatch):
    import os

    monkeypatch.delenv("SHAPEJIT_COMPILE_WORKER", raising=False)
    found = shapejit.compile_worker_path()
    assert os.path.dirname(found) == os.path.dirname(shapejit._shapejit.__file__)
    with pytest.raises(shapejit.Unsupported, match="nope"):
        shapejit.compile_worker_path(str(tmp_path / "nope"))
    rt = shapejit.Runtime(cache_path=str(tmp_path / "k.db"), compile_worker=found)
    assert rt.options["compile_worker"] == found
