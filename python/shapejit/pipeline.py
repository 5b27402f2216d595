"""Pipeline-parallel schedules (1F1B, ZB1P, DualPipe, DualPipeV) and their discrete-event
simulation, as plain Python data (planner/include/shapejit/planner/pipeline*.hpp)."""

from __future__ import annotations

from . import _shapejit as _C

__all__ = ["schedule", "simulate"]


def schedule(kind: str, ranks: int, micro_batches: int) -> dict:
    """The schedule ``kind`` ('1f1b' | 'zb1p' | 'dualpipe' | 'dualpipev') for ``ranks`` ranks and
    ``micro_batches`` micro-batches: a dict with kind, ranks, stages, micro_batches and ``ops``,
    per rank the ops in execution order, each ``{"label": "F3" | "F5&B2" | ..., "passes": [{"kind":
    'F'|'B'|'I'|'W', "stage", "micro_batch", "recv_from", "send_to"}, ...]}`` (-1: local)."""
    return _C.pipeline_schedule(kind, ranks, micro_batches)


def simulate(kind: str, ranks: int, micro_batches: int, *, F: float = 1.0, B: float = 2.0, W: float = 1.0,
             FB: float = 0.0, p2p: float = 0.0) -> dict:
    """Simulates the schedule with per-chunk costs F (forward), B (full backward), W (its
    weight-gradient part), FB (an overlapped forward+backward; <= 0 means F + B) and p2p
    (stage-to-stage latency). Returns makespan, max_bubble, max_peak_activations,
    max_parameter_copies, per_rank stats, timing (per rank: (label, start, end)), published (the
    DualPipe paper's figures for comparison), ``svg`` (a timeline picture) and ``text``."""
    return _C.pipeline_simulate(kind, ranks, micro_batches, F, B, W, FB, p2p)
