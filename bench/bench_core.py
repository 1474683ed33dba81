"""Speed of the core: exact allocation and TMA on a full 180 x 20 slot.

Targets (issue 2): exact allocation < 5 ms, TMA (+exact) < 1 s. Prints the
median of repeated runs and the ratio to each target; asserts nothing.
Run: python bench/bench_core.py
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from uara.model.allocation import exact_allocation
from uara.model.formulation import slot_data
from uara.model.instance import Instance
from uara.solvers import get_solver
from uara.scenario.random_instance import random_instance


def timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    inst = random_instance(180, 20, seed=0)
    sd = slot_data(inst)
    rng = np.random.default_rng(0)
    assocs = [rng.integers(0, 20, 180) for _ in range(50)] + [sd.snr.argmax(1)]
    k = iter(range(10**9))
    alloc_times = timed(lambda: exact_allocation(sd, assocs[next(k) % len(assocs)]), 200)
    med = statistics.median(alloc_times)
    print(f"exact allocation 180x20: median {med * 1e3:.3f} ms, p95 {np.percentile(alloc_times, 95) * 1e3:.3f} ms "
          f"(target 5 ms: {med / 5e-3:.2f} of it)")
    sd_build = timed(lambda: slot_data(inst), 50)
    print(f"slot data 180x20:        median {statistics.median(sd_build) * 1e3:.3f} ms")
    for alloc in ("exact", "uniform"):
        solver = get_solver("tma", allocation=alloc)
        runs = []
        for seed in range(3):
            inst_s = random_instance(180, 20, seed=seed)
            t0 = time.perf_counter()
            sol = solver.solve(inst_s)
            runs.append((time.perf_counter() - t0, sol.slots[0].info["swaps"]))
        med = statistics.median(r[0] for r in runs)
        print(f"tma+{alloc:7s} 180x20:      median {med:.3f} s over 3 instances, swaps {[r[1] for r in runs]} "
              f"(target 1 s: {med:.2f} of it)")


if __name__ == "__main__":
    main()
