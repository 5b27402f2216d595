"""The overlap chooser (planner/include/shapejit/planner/overlap.hpp): per phase of a cost
profile, whether to split a step into two micro-batches and at which token count, how many SMs
to give communication, and the step time and throughput that follow, with the reasoning."""

from __future__ import annotations

import json
import os
from typing import Any, List, Union

from . import _shapejit as _C

__all__ = ["choose_overlap"]


def choose_overlap(profile: Union[str, os.PathLike, dict, Any]) -> List[dict]:
    """profile: a cost profile as a dict, JSON text or a path to a JSON file (the format
    `shapejit plan overlap` reads). Returns one dict per phase: phase, best, best_unsplit,
    best_even_split (each: split, tokens, comm_sms, layer_us, step_us, tokens_per_s, compute_us,
    comm_us), evaluated (every candidate) and reasoning (sentences)."""
    if isinstance(profile, dict):
        text = json.dumps(profile)
    elif isinstance(profile, os.PathLike) or (isinstance(profile, str) and not profile.lstrip().startswith("{")):
        with open(profile, encoding="utf-8") as f:
            text = f.read()
    else:
        text = profile
    return _C.choose_overlap(text)
