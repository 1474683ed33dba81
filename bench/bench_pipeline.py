"""How pipeline-dp's time grows with the number of users K and of candidate speculation lengths |G|.

    python bench/bench_pipeline.py                      # K = 10..1000, |G| = 1, 3, 9
    python bench/bench_pipeline.py --users 10,100 --out /tmp/scale.csv

Free-space instances (the channel does not change the DP's work), seed 1. The DP fills a K x K table
of batch durations (each a max-plus power for two micro-batches), then a Pareto DP pruned by an
upload-free bound. Prints wall time, time / K^2 and the number of batches; writes a CSV.
"""

from __future__ import annotations

import argparse
import csv
import platform
import time
from pathlib import Path

from uara.scenario.pipeline_builder import random_pipeline_instance
from uara.solvers import get_solver

LENGTHS = {1: "4", 3: "0,2,4", 9: None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", default="10,50,100,200,500,1000")
    ap.add_argument("--out", default="results/pipeline/scale.csv")
    args = ap.parse_args()
    rows = []
    print(f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}")
    print(f"{'K':>5} {'|G|':>4} {'pipelining':>10} {'time_s':>8} {'us/K^2':>8} {'batches':>7} {'mean_latency_s':>14}")
    for k in (int(v) for v in args.users.split(",")):
        inst = random_pipeline_instance(k, seed=1)
        for n_len, lengths in LENGTHS.items():
            for pipelining in (True, False):
                t0 = time.perf_counter()
                sol = get_solver("pipeline-dp", lengths=lengths, pipelining=pipelining).solve(inst)
                dt = time.perf_counter() - t0
                row = {"users": k, "lengths": n_len, "pipelining": pipelining, "time_s": round(dt, 4),
                       "us_per_k2": round(1e6 * dt / k ** 2, 3), "batches": len(sol.decision.batches),
                       "mean_latency_s": round(float(sol.evaluation.completion_s.mean()), 6)}
                rows.append(row)
                print(f"{k:>5} {n_len:>4} {str(pipelining):>10} {dt:>8.3f} {row['us_per_k2']:>8.2f} "
                      f"{row['batches']:>7} {row['mean_latency_s']:>14.4f}", flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
