"""Column generation / branch-and-price (`price`) against the relaxation and SCIP (`exact`).

For random_instance(M, E, seed=s): the continuous relaxation's bound (its Lagrangian
dual, solvers/core/lagrangian.py, maximised from the Max-SINR start with UB cuts, as
`relax` does), the root column-generation bound, the time to close and the certified
gap of `price` at the time limit, next to `exact` (SCIP) at the same limit. Gaps
are relative to I - C of the best solution either method found.

    python bench/bench_price.py                       # 30x4 and 60x8 at 60 s, seeds 0 1 2; 180x20 at 30 s
    python bench/bench_price.py --sizes 30x4 --seeds 0 --limit 20 --no-exact
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from uara.model.allocation import exact_allocation
from uara.model.formulation import slot_data
from uara.model.instance import Instance
from uara.solvers import get_solver
from uara.solvers.core.lagrangian import maximise_dual, start_from_association
from uara.solvers.core.misocp import usable_pairs
from uara.solvers.p1.relax import association_values
from uara.solvers.core.moves import masked_argmax
from uara.scenario.random_instance import random_instance


def relaxation_bound(inst: Instance) -> tuple[float, float]:
    """(bound on I - C, seconds): the relaxation's Lagrangian dual from Max-SINR with UB cuts."""
    sd = slot_data(inst)
    t0 = time.perf_counter()
    pairs = usable_pairs(sd)
    start = masked_argmax(sd.snr, sd.usable & np.isfinite(sd.uplink_s_full))
    ub = float(association_values(sd, start[None, :])[0])
    dual = maximise_dual(pairs, start_from_association(pairs, start, exact_allocation(sd, start).band_price), ub=ub)
    return dual.bound, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", nargs="*", default=["30x4", "60x8"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--limit", type=float, default=60.0, help="time limit (s) for price and exact")
    ap.add_argument("--large", default="180x20", help="size run with --large-limit only by price ('' to skip)")
    ap.add_argument("--large-limit", type=float, default=30.0)
    ap.add_argument("--no-exact", action="store_true")
    args = ap.parse_args()

    runs = [(s, seed, args.limit, not args.no_exact) for s in args.sizes for seed in args.seeds]
    if args.large:
        runs += [(args.large, seed, args.large_limit, False) for seed in args.seeds]
    head = ("instance", "relax gap", "root CG gap", "root s", "price status", "price s", "price gap", "nodes",
            "exact status", "exact s", "exact gap")
    rows = []
    print(" | ".join(head), flush=True)
    for size, seed, limit, with_exact in runs:
        m, e = (int(v) for v in size.split("x"))
        inst = random_instance(m, e, seed=seed)
        rb, _ = relaxation_bound(inst)
        t0 = time.perf_counter()
        p = get_solver("price").solve(inst, time_limit=limit, seed=seed)
        p_s = time.perf_counter() - t0
        ev = p.evaluations[0]
        const = ev.constant
        objs = [ev.objective]
        info = p.slots[0].info
        ex = None
        if with_exact:
            t0 = time.perf_counter()
            ex = get_solver("exact").solve(inst, time_limit=limit, seed=seed)
            ex_s = time.perf_counter() - t0
            objs.append(ex.evaluations[0].objective)
        best = min(objs) - const

        def gap(lb: float | None) -> str:
            return "-" if lb is None else f"{100 * (best - lb) / best:.4f} %"

        p_lb = p.slots[0].lower_bound
        p_gap = "-" if p_lb is None else f"{100 * (ev.objective - p_lb) / (ev.objective - const):.4f} %"
        root = info.get("root_bound")
        row = [f"{size} s{seed}", gap(rb), gap(root), f"{info.get('root_time_s', float('nan')):.1f}",
               str(p.status), f"{p_s:.1f}", p_gap, str(info.get("nodes"))]
        if ex is not None:
            e_lb = ex.slots[0].lower_bound
            e_ev = ex.evaluations[0]
            e_gap = "-" if e_lb is None else f"{100 * (e_ev.objective - e_lb) / (e_ev.objective - const):.4f} %"
            row += [str(ex.status), f"{ex_s:.1f}", e_gap]
        else:
            row += ["-", "-", "-"]
        rows.append(row)
        print(" | ".join(row), flush=True)
    print()
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
