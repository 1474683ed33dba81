"""Do the back-ends keep to --time-limit? Wall time / limit per solver and instance (prints, asserts nothing).

    python bench/bench_time_limits.py                        # exact, price, relax on m180_e8 (20 s) and random 1000x50 (20 s)
    python bench/bench_time_limits.py --solvers relax --limits 5,20 --no-random
    python bench/bench_time_limits.py --no-limit relax       # relax on random 1000x50 without a limit: time and peak memory
    python bench/bench_time_limits.py --solvers relax --limits 5 --load 2   # under load: 2 busy processes beside

Wall time is measured around ``Solver.solve`` after ``import_solver()`` (a first import of cvxpy or
Pyomo is not the solver's time). The acceptance of issue 16 is a ratio <= 1.2.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def one_run(instance: str, solver: str, limit: float | None) -> None:
    """Child process: one solve, one line of results (peak memory is per process)."""
    from uara.model.instance import Instance
    from uara.solvers import get_solver

    inst = Instance.load(instance)
    slv = get_solver(solver)
    type(slv).import_solver()
    t0 = time.perf_counter()
    sol = slv.solve(inst, time_limit=limit)
    wall = time.perf_counter() - t0
    shares = [(d.info["wall_time_s"], d.info["time_share_s"]) for d in sol.slots] if limit else []
    worst = max((w / s for w, s in shares if s > 0), default=float("nan"))  # a 0 s share: the run was out of time
    gap = "n/a" if sol.gap is None else f"{100 * sol.gap:.4f} %"
    ratio = f"{wall / limit:.3f}" if limit else "-"
    print(f"{inst.name:>16s} {solver:>6s} limit {str(limit):>5s} s: wall {wall:7.2f} s  ratio {ratio:>6s}  "
          f"worst slot/share {worst:5.2f}  status {sol.status.value:<10s} gap {gap:>10s}  "
          f"peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--solvers", default="exact,price,relax")
    ap.add_argument("--limits", default="20", help="comma-separated seconds")
    ap.add_argument("--no-random", action="store_true", help="skip the random 1000x50 instance")
    ap.add_argument("--no-limit", default=None, metavar="SOLVER", help="run SOLVER on random 1000x50 without a limit")
    ap.add_argument("--load", type=int, default=0, help="busy-loop processes running beside the runs (machine load)")
    ap.add_argument("--child", nargs=3, metavar=("INSTANCE", "SOLVER", "LIMIT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        inst, solver, limit = args.child
        one_run(inst, solver, None if limit == "none" else float(limit))
        return
    import uara

    big = Path("/tmp/uara_bench_random_1000x50_s100.json")
    if not big.exists():
        uara.random_instance(1000, 50, seed=100).save(big)
    instances = [str(ROOT / "instances" / "m180_e8.json")] + ([] if args.no_random else [str(big)])
    jobs = [(i, s, lim) for i in instances for s in args.solvers.split(",") for lim in args.limits.split(",")]
    if args.no_limit:
        jobs = [(str(big), args.no_limit, "none")]
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.load)]
    if burners:
        print(f"load: {len(burners)} busy process(es) beside each run", flush=True)
    try:
        for inst, solver, limit in jobs:
            subprocess.run([sys.executable, __file__, "--child", inst, solver, limit], check=False)
    finally:
        for b in burners:
            b.kill()


if __name__ == "__main__":
    main()
