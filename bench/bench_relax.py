"""Benchmark of ``relax`` on 180x20 (target: gap <= 0.2 % of its own bound in < 5 s wall).

    python bench/bench_relax.py [--seeds 0 1 2] [--m 180] [--e 20] [--solver CLARABEL|LAGRANGIAN]
                                [--protocol topk:128] [--perturbations N]

``--protocol`` sets the PSD uplink protocol of the random tasks (default: the
profiles' own full@4, ~50 Mbit per task, every band binds; topk:128 sends ~1 Mbit).

Prints per seed: certified gap, wall time (total, SOCP, local search), and the
gaps of argmax rounding, the best rounding, and TMA+exact against the same bound.
"""

from __future__ import annotations

import argparse
import time

from uara.model.instance import Instance
from uara.solvers import get_solver
from uara.scenario.random_instance import random_instance


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--m", type=int, default=180)
    ap.add_argument("--e", type=int, default=20)
    ap.add_argument("--solver", default="CLARABEL")
    ap.add_argument("--protocol", default=None, help="PSD uplink protocol of the tasks, e.g. topk:128")
    ap.add_argument("--perturbations", type=int, default=0, help="rounds of iterated local search (relax option)")
    args = ap.parse_args()
    for seed in args.seeds:
        inst = random_instance(args.m, args.e, seed=seed,
                               task_options={"protocol": args.protocol} if args.protocol else None)
        t0 = time.perf_counter()
        sol = get_solver("relax", solver=args.solver, perturbations=args.perturbations).solve(inst, seed=seed)
        wall = time.perf_counter() - t0
        info = sol.slots[0].info
        lb, c = sol.lower_bound, sol.constant

        def gap(v: float) -> float:
            return (v - lb) / (v - c)

        t1 = time.perf_counter()
        tma = get_solver("tma+exact").solve(inst, seed=seed)
        tma_s = time.perf_counter() - t1
        if sol.gap is None:
            print(f"relax {args.m}x{args.e} seed={seed}: no certified bound (relaxation status "
                  f"{info.get('relaxation_status', info.get('relaxation_error'))}) wall={wall:.2f}s, "
                  f"I - C = {sol.objective - sol.constant:.6g}, tma+exact I - C = {tma.objective - sol.constant:.6g}", flush=True)
            continue
        print(
            f"relax {args.m}x{args.e} seed={seed}: gap={sol.gap:.4%} wall={wall:.2f}s "
            f"(relaxation + dual {info['relax_total_s']:.2f}s, of which dual {info['dual_s']:.2f}s; local search {info.get('local_search_s', 0):.2f}s, "
            f"{info.get('moves', 0)} moves, {info.get('swaps', 0)} swaps) "
            f"argmax_gap={gap(info['rounded_argmax']):.4%} rounded_gap={gap(info['rounded']):.4%} "
            f"tma+exact_gap={gap(tma.objective):.4%} ({tma_s:.1f}s)",
            flush=True,
        )


if __name__ == "__main__":
    main()
