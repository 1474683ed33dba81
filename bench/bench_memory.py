"""How close each back-end's memory estimate (what the driver's guard refuses on) is to the measured peak.

    python bench/bench_memory.py                         # relax, tma at M = 500, 1000, 2000 (E = 8);
                                                         # pipeline-dp at K = 500, 1000, 2000
    python bench/bench_memory.py --sizes 250,500 --solvers relax --time-limit 20

Each run is a fresh process: it builds the instance (random_instance(M, 8, slots=1, seed=0), or
random_pipeline_instance(K, seed=1)), imports the back-end's packages, reads its resident set size
(/proc/self/statm), solves, and reads the peak resident set size (getrusage ru_maxrss). It prints the
estimate (``Solver.memory_estimate_bytes`` / ``memory_estimate_users``), the measured peak above the
baseline, and their ratio (the goal: between 0.5 and 2). Runs are capped by ``--time-limit``: the
peak comes while the tables are first built, long before a large local search ends.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys

CHILD = r"""
import json, resource, sys, time
solver, size, limit = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
from uara.solvers import get_solver
s = get_solver(solver)
if s.PROBLEM == "pipeline":
    from uara.scenario.pipeline_builder import random_pipeline_instance
    inst = random_pipeline_instance(size, seed=1)
    estimate = s.memory_estimate_users(size)
else:
    from uara.scenario.random_instance import random_instance
    inst = random_instance(size, 8, slots=1, seed=0)
    estimate = s.memory_estimate_bytes(size, 8)
type(s).import_solver()
base = int(open("/proc/self/statm").read().split()[1]) * 4096
t0 = time.perf_counter()
sol = s.solve(inst, time_limit=limit)
wall = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"estimate": estimate, "peak": peak - base, "wall_s": wall, "status": sol.status.value}))
"""


def measure(solver: str, size: int, time_limit: float) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", CHILD, solver, str(size), str(time_limit)], capture_output=True,
                         text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--solvers", default="relax,tma,pipeline-dp")
    ap.add_argument("--sizes", default="500,1000,2000", help="devices M (P1, E = 8) or users K (pipeline)")
    ap.add_argument("--time-limit", type=float, default=60.0, help="seconds per run")
    args = ap.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPU(s), Python {platform.python_version()}")
    print(f"{'solver':<12} {'size':>6} {'estimate_MiB':>12} {'peak_MiB':>9} {'estimate/peak':>13} {'wall_s':>7}  status")
    for solver in args.solvers.split(","):
        for size in (int(v) for v in args.sizes.split(",")):
            r = measure(solver, size, args.time_limit)
            ratio = r["estimate"] / r["peak"] if r["peak"] > 0 else float("inf")
            print(f"{solver:<12} {size:>6} {r['estimate'] / 2**20:>12.1f} {r['peak'] / 2**20:>9.1f} {ratio:>13.2f} "
                  f"{r['wall_s']:>7.1f}  {r['status']}", flush=True)


if __name__ == "__main__":
    main()
