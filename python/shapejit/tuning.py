"""Autotuning (runtime/tuning, docs/tuning.md): sessions that compile candidate configurations
of the GEMM ops, prune what spills or fails, check and time the rest on the GPU against the
heuristic's pick, and record every outcome in the kernel database, whose winners later calls
use (``Runtime(use_tuning_records=True)``, the default). What ``shapejit tune`` runs.
"""

from __future__ import annotations

import json
from typing import List, Optional, Sequence, Union

from . import _shapejit as _C

__all__ = ["tune", "sessions", "report"]


def tune(*, model: Optional[str] = None, manifest: Union[dict, str, None] = None, ops: Sequence[str] = (),
         resume: Optional[str] = None, budget_s: float = 0.0, max_candidates: int = 0, wide: bool = False,
         sm_counts: Sequence[int] = (), runs: int = 20, cache_path: Optional[str] = None, arch: Optional[str] = None,
         num_sms: int = 0, jobs: int = 0, cuda_graph: bool = False, compile_in_process: bool = False,
         compile_timeout_s: int = 300) -> dict:
    """Runs (or, with ``resume=ID``, resumes) a tuning session over a built-in model's shapes
    (``model="deepseek-v3"``) or a precompile manifest's op entries, for the ops named (default:
    every tunable op). ``budget_s`` limits the GPU phase (0: none); ``max_candidates``/``wide``/
    ``sm_counts`` shape the search space; ``runs`` timed runs per candidate. Without a GPU only
    the compile phase runs (state ``"cpu_only"``, with the reason) and is recorded, so the session
    can be resumed on a GPU. Returns the session's counts as a dict (session, state, shapes,
    candidates, compiled, pruned, rejected, measured, winners, ...). Releases the GIL.
    """
    text = json.dumps(manifest) if isinstance(manifest, dict) else manifest
    return _C.tune(list(ops), model, text, resume, budget_s, max_candidates, wide, list(sm_counts), runs,
                   None if cache_path is None else str(cache_path), arch, num_sms, jobs, cuda_graph,
                   compile_in_process, compile_timeout_s)


def sessions(cache_path: Optional[str] = None) -> List[dict]:
    """The tuning sessions stored in the database (id, state, created, updated, device, request
    and summary as JSON text)."""
    return _C.tune_sessions(None if cache_path is None else str(cache_path))


def report(session: str, cache_path: Optional[str] = None, *, format: str = "json") -> Union[dict, str]:  # noqa: A002
    """A session's report: the parsed JSON report, or with ``format="svg"`` the SVG picture."""
    text = _C.tune_report(session, None if cache_path is None else str(cache_path), format)
    return json.loads(text) if format == "json" else text
