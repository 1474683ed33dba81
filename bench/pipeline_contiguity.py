"""What pipeline-dp's decision space (contiguous batches in expected-rounds order) loses against every
ordered set partition (pipeline-brute-force -o space=all, proven optimal).

    python bench/pipeline_contiguity.py            # -> results/pipeline/contiguity.csv

Instances: free-space K = 5..7 (seeds 1..5) and UMi K = 6..8 (seeds 1..3), each UMi one also with a
50x slower SBS (compute and memory) and with the makespan objective.
"""

from __future__ import annotations

import csv
import sys
import time
from dataclasses import replace
from pathlib import Path

from uara.scenario.pipeline_builder import random_pipeline_instance
from uara.solvers import get_solver


def cases():
    for k in (5, 6, 7):
        for seed in range(1, 6):
            yield k, seed, "free-space", random_pipeline_instance(k, seed=seed)
    for k in (6, 7, 8):
        for seed in range(1, 4):
            base = random_pipeline_instance(k, seed=seed, channel="sionna-umi")
            yield k, seed, "umi", base
            yield k, seed, "umi-slow-sbs", replace(base, sbs=replace(base.sbs, flops=base.sbs.flops / 50,
                                                   memory_bandwidth_bytes_per_s=base.sbs.memory_bandwidth_bytes_per_s / 20))
            yield k, seed, "umi-makespan", replace(base, objective="makespan")


def main(out: str = "results/pipeline/contiguity.csv") -> None:
    rows = []
    for k, seed, variant, inst in cases():
        t0 = time.perf_counter()
        full = get_solver("pipeline-brute-force", space="all").solve(inst)
        dp = get_solver("pipeline-dp").solve(inst)
        rows.append({"users": k, "seed": seed, "variant": variant, "dp_s": dp.objective_s, "optimum_s": full.objective_s,
                     "status": full.status.value, "loss_pct": 100 * (dp.objective_s / full.objective_s - 1),
                     "brute_force_time_s": round(time.perf_counter() - t0, 2)})
        print(f"K={k} seed={seed} {variant:<13} loss {rows[-1]['loss_pct']:.4f} %", flush=True)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    losses = [r["loss_pct"] for r in rows]
    print(f"{len(rows)} instances: DP optimal on {sum(v < 1e-9 for v in losses)}, largest loss {max(losses):.3f} %")


if __name__ == "__main__":
    main(*sys.argv[1:])
