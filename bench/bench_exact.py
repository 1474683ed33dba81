"""Benchmark of ``exact`` (MISOCP + SCIP): proven optimality on 30x4, certified gap on 60x8.

    python bench/bench_exact.py [--threads 2] [--seed 0] [--limit-small 300] [--limit-large 60]

Prints one line per instance: status, I, lower bound, gap on I - C, SCIP nodes,
SCIP time, wall time, and the warm start's (TMA + local search) gap against the same bound.
"""

from __future__ import annotations

import argparse
import time

from uara.model.instance import Instance
from uara.solvers import get_solver
from uara.scenario.random_instance import random_instance


def run(m: int, e: int, seed: int, limit: float, threads: int) -> None:
    inst = random_instance(m, e, seed=seed)
    t0 = time.perf_counter()
    sol = get_solver("exact").solve(inst, time_limit=limit, threads=threads, seed=seed)
    wall = time.perf_counter() - t0
    info = sol.slots[0].info
    ws = info["warm_start_objective"]
    ws_gap = (ws - sol.lower_bound) / (ws - sol.constant) if sol.lower_bound is not None else float("nan")
    gap = sol.gap if sol.gap is not None else float("nan")
    print(
        f"exact {m}x{e} seed={seed} limit={limit:.0f}s threads={threads}: status={sol.status.value} "
        f"scip={info['scip_status']} I={sol.objective:.6f} LB={sol.lower_bound} gap={gap:.4%} "
        f"nodes={info['nodes']} scip_time={info['scip_time_s']:.1f}s wall={wall:.1f}s "
        f"incumbent_from={info['incumbent_source']} warm_start_gap={ws_gap:.4%}",
        flush=True,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit-small", type=float, default=300.0)
    ap.add_argument("--limit-large", type=float, default=60.0)
    args = ap.parse_args()
    run(30, 4, args.seed, args.limit_small, args.threads)
    run(60, 8, args.seed, args.limit_large, args.threads)


if __name__ == "__main__":
    main()
