"""Time of shapejit.eplb.rebalance_experts through Python at DeepSeek-V3 size (CPU only).

58 MoE layers x 256 routed experts -> 288 physical slots on 4 nodes x 8 GPUs, 8 expert groups
(DeepSeek-V3's n_group), token counts per expert drawn log-normally (sigma 0.8: the hottest
expert of a layer carries ~6x the mean; fixed seed). Prints the
median and min of the greedy placement and of the refined one, whole call (NumPy in and out).

    PYTHONPATH=build/python python bench/python/eplb_rebalance.py [--repeat 20]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import numpy as np


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--repeat", type=int, default=20)
    args = p.parse_args()

    from shapejit import eplb

    layers, experts, slots, groups, nodes, gpus = 58, 256, 288, 8, 4, 32
    rng = np.random.default_rng(2025)
    weight = (1e4 * rng.lognormal(0.0, 0.8, size=(layers, experts))).round()

    print(f"machine: {platform.processor() or platform.machine()}, {platform.python_implementation()} "
          f"{platform.python_version()}")
    print(f"shape: {layers} layers x {experts} experts -> {slots} slots, {nodes} nodes x {gpus // nodes} GPUs, "
          f"{groups} groups; median/min of {args.repeat}")
    for refine in (False, True):
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            phy2log, log2phy, logcnt, info = eplb.rebalance_experts_report(weight, slots, groups, nodes, gpus,
                                                                           refine=refine)
            times.append(time.perf_counter() - start)
        balance = max(layer["final"]["balance"] for layer in info["layers"])
        print(f"rebalance_experts(refine={refine!s:5}): median {statistics.median(times) * 1e3:7.2f} ms, "
              f"min {min(times) * 1e3:7.2f} ms; policy {info['policy']}, worst layer max/mean {balance:.4f}; "
              f"outputs {phy2log.shape} {log2phy.shape} {logcnt.shape}")


if __name__ == "__main__":
    main()
