"""shapejit: JIT-specialized kernels (FP8 GEMMs, MLA decode, MoE) and an expert/pipeline planner
for DeepSeek-V3/R1-style models, from Python.

Ops take DLPack tensors (torch, CuPy) without copies and run on torch's current stream by
default; see shapejit.gemm, shapejit.mla, shapejit.moe. Planning: shapejit.eplb,
shapejit.pipeline, shapejit.overlap. Kernels and the cache: Runtime, compile, precompile,
kernel_specs, shapejit.cache, shapejit.tuning.
"""

from __future__ import annotations

import json as _json
from typing import Any, List, Optional, Union

from . import errors
from ._shapejit import (
    Runtime,
    compile_worker_path,
    current_device,
    default_cache_path,
    default_target_device,
    describe_spec,
    driver_available,
    op_families,
    resolve_spec,
)
from .errors import (
    CacheError,
    CompileError,
    DriverError,
    Error,
    FileError,
    InvalidArgument,
    NoDriver,
    Unsupported,
)
from . import _shapejit as _C
from . import cache, eplb, gemm, mla, moe, overlap, pipeline, tuning
from .gemm import (
    bf16_gemm_nt,
    fp8_gemm_nt,
    m_grouped_fp8_gemm_nt_contiguous,
    m_grouped_fp8_gemm_nt_masked,
    m_major_scales,
    per_token_group_quant_fp8,
)
from .mla import flash_mla_with_kvcache, get_mla_metadata
from .moe import MoeConfig, MoeWeights, MoeWorkspace, moe_layer

__version__ = "0.1.0"


def kernel_specs(manifest: Union[dict, str, None] = None, *, manifest_path: Optional[str] = None,
                 model: Optional[str] = None, arch: Optional[str] = None, num_sms: Optional[int] = None) -> List[str]:
    """The canonical kernel specs of a precompile manifest (a dict or JSON text, the format of
    ``shapejit precompile --manifest``), a manifest file, or a built-in model's kernel set
    (``model="deepseek-v3"``), for the target: ``arch``/``num_sms`` when given, else the current
    device, else the default Hopper target (sm_90a, 132 SMs)."""
    text = _json.dumps(manifest) if isinstance(manifest, dict) else manifest
    return _C.kernel_specs(text, None if manifest_path is None else str(manifest_path), model, arch, num_sms)


def precompile(specs: Optional[List[str]] = None, *, manifest: Union[dict, str, None] = None,
               manifest_path: Optional[str] = None, model: Optional[str] = None, arch: Optional[str] = None,
               num_sms: Optional[int] = None, cache_path: Optional[str] = None, jobs: int = 0,
               compile_in_process: bool = False, compile_timeout_s: int = 300,
               compile_worker: Optional[str] = None) -> dict:
    """Fills the kernel database ahead of the first call (the library's runtime::precompile,
    what ``shapejit precompile`` runs), in parallel, with the GIL released.

    The kernels: ``specs`` (canonical or named spec texts), or those of a manifest / manifest
    file / built-in model as :func:`kernel_specs` gives them for ``arch``/``num_sms``. Returns a
    dict: total, compiled, cache_hits, failures (spec, code, message each: one kernel's failure
    never raises), not_stored (keys the database file did not take), cache_damaged, seconds,
    median_compile_ms, cache_path and ok (every kernel is in the file).
    """
    if specs is None:
        specs = kernel_specs(manifest, manifest_path=manifest_path, model=model, arch=arch, num_sms=num_sms)
    elif manifest is not None or manifest_path is not None or model is not None:
        raise InvalidArgument("give specs or one of manifest, manifest_path, model; not both")
    return _C.precompile(list(specs), None if cache_path is None else str(cache_path), compile_in_process,
                         compile_timeout_s, jobs, compile_worker)


def compile(spec: str, *, runtime: Optional[Runtime] = None) -> dict:  # noqa: A001 - the verb users look for
    """Compiles one kernel spec (or finds it in the cache); see Runtime.compile."""
    return (runtime or Runtime.global_runtime()).compile(spec)


__all__ = [
    "Runtime", "compile", "precompile", "kernel_specs", "compile_worker_path", "current_device", "default_cache_path", "default_target_device",
    "describe_spec", "driver_available", "op_families", "resolve_spec",
    "Error", "InvalidArgument", "Unsupported", "CompileError", "CacheError", "NoDriver", "DriverError", "FileError",
    "errors", "cache", "eplb", "gemm", "mla", "moe", "overlap", "pipeline", "tuning",
    "per_token_group_quant_fp8", "m_major_scales", "fp8_gemm_nt", "bf16_gemm_nt",
    "m_grouped_fp8_gemm_nt_contiguous", "m_grouped_fp8_gemm_nt_masked",
    "get_mla_metadata", "flash_mla_with_kvcache", "MoeConfig", "MoeWeights", "MoeWorkspace", "moe_layer",
]
