"""The learned-preference solver on held-out slots (issue 27, items 2 and 4): results/masac/pref_heldout.json.

    python bench/bench_pref.py                         # slots 0, 1 of the shipped set + random 500x30, 1000x50
    python bench/bench_pref.py --shipped m60_e8 --slots 0 --random '' --out /tmp/p.json

Per held-out slot (the same 22 as results/masac/headroom.json; none is in the teacher's training set, which
holds random seeds 20000.. only) it runs, single-threaded, each with its own per-slot deadline:

- ``learned-pref`` with a ``--fast`` (1 s) deadline and without one (the search runs to its local optimum);
- ``learned-pref(zero-action)`` (SNR preferences: the same pipeline with nothing learned), same two budgets;
- ``tma`` (the paper's Alg. 1 with the exact allocation) and ``relax`` (the teacher), ``--limit`` s each;

and records I - C (the controllable cost) and the wall time of each, plus the best certified bound and best
known decision from headroom.json. The headroom of the extended action on a slot is (zero - best known) / zero;
the share of it the policy takes is (zero - learned) / (zero - best known). Resumable (rows kept), seeded
(everything is deterministic except where a deadline cuts a search). Prints the table and the summary.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from uara.io import atomic_write_json, package_versions
from uara.model.evaluator import evaluate
from uara.solvers import get_solver
from uara.solvers.base import SolveContext

import masac_headroom as headroom  # bench/ is on sys.path when the script runs

RUNS = (  # (row key, back-end, options, budget: "fast" | "free" | "limit")
    ("pref_fast", "learned-pref", {}, "fast"),
    ("pref", "learned-pref", {}, "free"),
    ("zero_fast", "learned-pref", {"zero_action": True}, "fast"),
    ("zero", "learned-pref", {"zero_action": True}, "free"),
    ("tma", "tma", {}, "limit"),
    ("relax", "relax", {}, "limit"),
)


def run_one(inst, sd, slot: int, solver, limit_s: float | None) -> dict:
    t0 = time.perf_counter()
    ctx = SolveContext(seed=0, slot=slot, rng=np.random.default_rng([0, slot]),
                       deadline=None if limit_s is None else t0 + limit_s, threads=1, instance=inst)
    dec = solver.solve_slot(sd, ctx)
    wall = time.perf_counter() - t0
    ev = evaluate(sd, dec.association, dec.bandwidth_share, dec.compute_share)
    return {"value": ev.objective - sd.constant, "time_s": wall, "feasible": not ev.violations}


def bounds_from_headroom(path: Path) -> dict:
    if not path.is_file():
        return {}
    return {(r["instance"], r["slot"]): (r["best_bound"], r["best_known"]) for r in json.loads(path.read_text())["rows"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shipped", default=",".join(headroom.SHIPPED))
    ap.add_argument("--slots", default="0,1")
    ap.add_argument("--random", default=",".join(headroom.RANDOM))
    ap.add_argument("--fast", type=float, default=1.0, help="the fast budget, seconds per slot")
    ap.add_argument("--limit", type=float, default=10.0, help="seconds per slot for tma and relax")
    ap.add_argument("--out", default="results/masac/pref_heldout.json")
    args = ap.parse_args()
    out = Path(args.out)
    doc = json.loads(out.read_text()) if out.is_file() else {"rows": []}
    done = {(r["instance"], r["slot"]) for r in doc["rows"]}
    known = bounds_from_headroom(Path("results/masac/headroom.json"))
    jobs = [(n, int(s)) for n in filter(None, args.shipped.split(",")) for s in args.slots.split(",")]
    jobs += [(f"random_{size}_seed{headroom.RANDOM[size]}", 0) for size in filter(None, args.random.split(","))]
    budgets = {"fast": args.fast, "free": None, "limit": args.limit}
    t_start = time.perf_counter()
    solvers = {key: get_solver(name, **options) for key, name, options, _ in RUNS}  # one object each: loads once
    warm = headroom.load_slot("m30_e8", 0)  # torch's import and the policy's load, untimed
    for key in ("pref", "pref_fast"):
        solvers[key].preferences(warm[1], SolveContext(seed=0, slot=0, rng=np.random.default_rng(0), deadline=None,
                                                       threads=1, instance=warm[0]))
    for name, slot in jobs:
        if (name, slot) in done:
            continue
        inst, sd = headroom.load_slot(name, slot)
        row = {"instance": name, "slot": slot, "devices": sd.num_devices, "servers": sd.num_servers}
        for key, _, _, budget in RUNS:
            row[key] = run_one(inst, sd, slot, solvers[key], budgets[budget])
        bound, best = known.get((name, slot), (float("nan"), float("nan")))
        row["best_bound"] = bound
        row["best_known"] = float(np.nanmin([best, *(row[k]["value"] for k, *_ in RUNS)]))
        doc["rows"].append(row)
        doc["provenance"] = provenance(args, time.perf_counter() - t_start)
        atomic_write_json(out, doc)
        print(line(row), flush=True)
    summarise(doc["rows"], args.fast)


def line(r: dict) -> str:
    parts = [f"{r['instance']:>24} {r['slot']}"] + [f"{k} {r[k]['value']:.4g} ({r[k]['time_s']:.2f} s)" for k, *_ in RUNS]
    return " | ".join(parts)


def provenance(args: argparse.Namespace, wall_s: float) -> dict:
    return {"command": "python bench/bench_pref.py " + " ".join(f"--{k.replace('_', '-')} '{v}'" for k, v in vars(args).items()),
            "wall_s_this_run": round(wall_s, 1), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
            "python": platform.python_version(), "versions": package_versions(),
            "solver_versions": {n: type(get_solver(n)).VERSION for n in ("learned-pref", "tma", "relax")},
            "values": "I - C of one slot (controllable cost); time_s: wall seconds of solve_slot, one thread; "
                      "best_bound / best_known: from results/masac/headroom.json (relax and price, 15 s each), "
                      "best_known also over this file's runs"}


def summarise(rows: list[dict], fast: float) -> None:
    """Print the medians the README quotes."""
    if not rows:
        return
    def rel(a: str, b: str) -> np.ndarray:
        return np.array([r[a]["value"] / r[b]["value"] - 1.0 for r in rows])
    head = np.array([(r["zero"]["value"] - r["best_known"]) / r["zero"]["value"] for r in rows])
    big = head >= 0.005  # the share of a headroom below 0.5 % is noise
    share = np.array([(r["zero"]["value"] - r["pref"]["value"]) / (r["zero"]["value"] - r["best_known"])
                      for r, b in zip(rows, big) if b])
    print(f"{len(rows)} slots. learned-pref above relax: median {100 * np.median(rel('pref', 'relax')):.2f} %, "
          f"max {100 * rel('pref', 'relax').max():.2f} %; at {fast:g} s: median {100 * np.median(rel('pref_fast', 'relax')):.2f} %, "
          f"max {100 * rel('pref_fast', 'relax').max():.2f} %")
    print(f"  vs tma: learned-pref better on {int(np.sum(rel('pref', 'tma') < 0))}/{len(rows)} (free), "
          f"{int(np.sum(rel('pref_fast', 'tma') < 0))}/{len(rows)} (at {fast:g} s); worst {100 * rel('pref_fast', 'tma').max():.2f} %")
    print(f"  headroom of the extended action (zero - best known) / zero: median {100 * np.median(head):.2f} %, "
          f">= 0.5 % on {int(big.sum())} slots" + (f", where the policy takes a median {100 * np.median(share):.0f} % "
          f"(min {100 * share.min():.0f} %)" if big.any() else "") +
          f"; learned better than zero on {int(np.sum(rel('pref', 'zero') < -1e-12))}/{len(rows)}, "
          f"worse on {int(np.sum(rel('pref', 'zero') > 1e-12))}")
    times = {k: np.median([r[k]["time_s"] for r in rows]) for k in ("pref_fast", "pref", "tma", "relax")}
    print("  median time per slot: " + ", ".join(f"{k} {v:.2f} s" for k, v in times.items()))


if __name__ == "__main__":
    main()
