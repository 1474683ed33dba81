"""relax and relax-dw on whole shipped instances at a time limit per run (issue 26: "relax's certified gap on
every shipped instance <= 0.1 % at 60 s per run").

    python bench/bench_relax_runs.py                                  # every instances/m*_e*.json, 60 s per run
    python bench/bench_relax_runs.py --instances m60_e20 --limit 60 --solvers relax relax-dw

A run is ``Solver.solve(instance, time_limit=limit)`` over all of the instance's slots, as ``uara solve
--time-limit`` and ``uara compare --time-limit`` run it: the driver gives each slot an even share of the
time left (about 6 s of a 60 s run for 10 slots; what a slot leaves goes to the later ones). Per instance and
back-end it prints the run's wall time, the per-slot certified gap (I - LB) / (I - C) (median and maximum),
how many slots are within 0.1 %, and the instance's gap sum_t (I_t - LB_t) / sum_t (I_t - C_t); the last line
gives the machine, package versions and solver VERSIONs.
"""

from __future__ import annotations

import argparse
import glob
import os
import platform
import time
from importlib import metadata

import numpy as np

from uara.model.instance import Instance
from uara.solvers import get_solver


def run_instance(path: str, name: str, limit: float) -> dict:
    """One run of back-end ``name`` on the instance at ``path`` within ``limit`` seconds."""
    solver = get_solver(name)
    solver.import_solver()
    inst = Instance.load(path)
    t0 = time.perf_counter()
    sol = solver.solve(inst, time_limit=limit, seed=0)
    wall = time.perf_counter() - t0
    values = np.array([ev.objective - ev.constant for ev in sol.evaluations])
    bounds = np.array([np.nan if d.lower_bound is None else d.lower_bound - ev.constant
                       for d, ev in zip(sol.slots, sol.evaluations)])
    gaps = np.where(values > 0, (values - bounds) / np.where(values > 0, values, 1.0), 0.0)
    return {"wall_s": wall, "gaps": gaps, "instance_gap": float(np.nansum(values - bounds) / values.sum()),
            "version": solver.VERSION}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--instances", nargs="*", default=None, help="shipped names (default: every instances/m*_e*.json)")
    ap.add_argument("--limit", type=float, default=60.0, help="seconds per run (the whole instance)")
    ap.add_argument("--solvers", nargs="+", default=["relax", "relax-dw"])
    args = ap.parse_args()
    paths = (sorted(glob.glob("instances/m*_e*.json")) if args.instances is None
             else [os.path.join("instances", f"{n}.json") for n in args.instances])
    t_start, versions = time.perf_counter(), {}
    for path in paths:
        label = os.path.basename(path).removesuffix(".json")
        for name in args.solvers:
            r = run_instance(path, name, args.limit)
            versions[name] = r["version"]
            g = r["gaps"]
            print(f"{label:9} {name:9} @{args.limit:g}s/run wall={r['wall_s']:6.1f}s slot gap median={np.median(g):.4%} "
                  f"max={g.max():.4%} slots<=0.1%: {int((g <= 1e-3).sum())}/{g.size} instance gap={r['instance_gap']:.4%}",
                  flush=True)
    pk = ", ".join(f"{p} {metadata.version(p)}" for p in ("numpy", "scipy", "cvxpy", "clarabel", "highspy"))
    vs = ", ".join(f"{k} VERSION {v}" for k, v in versions.items())
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}; {pk}; {vs}; "
          f"total {time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
    main()
