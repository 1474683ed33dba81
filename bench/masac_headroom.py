"""The headroom of TMA-MASAC's action space (issue 27, item 1): results/masac/headroom.json.

    python bench/masac_headroom.py                       # slots 0, 1 of the shipped set + random 500x30, 1000x50
    python bench/masac_headroom.py --shipped m60_e8 --slots 0 --random '' --out /tmp/h.json   # one instance

For each held-out slot (the shipped policy was trained on random instances only, results/masac/README.md)
and each semantics (paper: the policy's shares + TMA swaps; uara: moves + exact re-solve), it searches the
action space directly (:mod:`uara.experiments.studies.action_headroom`: coordinate sweeps, or a block evolution
strategy where one evaluation takes seconds) and writes one row with, as I - C, the zero action, the
shipped policy, the best searched action, the best certified lower bound of relax and price (15 s each)
and the best decision known.
Resumable: finished rows are kept and skipped on a rerun (the file is rewritten atomically after each).
Seeded: the same command gives the same rows (times aside). Prints the table and the summary.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from uara.experiments.studies.action_headroom import SEMANTICS, headroom_row
from uara.io import atomic_write_json, package_versions
from uara.model.formulation import slot_data
from uara.model.instance import Instance
from uara.scenario.random_instance import random_instance

SHIPPED = ("m30_e8", "m60_e4", "m60_e8", "m60_e12", "m60_e16", "m60_e20", "m90_e8", "m120_e8", "m150_e8", "m180_e8")
#: random held-out sizes: seeds 900000 + k are used neither in training nor in selection
RANDOM = {"500x30": 900001, "1000x50": 900002}


def policy_action(sd) -> np.ndarray:
    """The SAC policy's deterministic action on the slot: the policy shipped when the headroom was measured
    (for both semantics), now masac-uara's ``masac_uara.pt``, so a rerun gives the same rows; the policy
    ``masac`` ships now is scored against the headroom by ``bench/masac_policy_heldout.py``."""
    from uara.rl.environment import device_features
    from uara.rl.policy import load_policy
    from uara.solvers.p1.masac import default_uara_policy_path

    return load_policy(default_uara_policy_path()).act(device_features(sd))


def certified_bound(inst: Instance, sd, slot: int, limit_s: float) -> tuple[float, float]:
    """(best lower bound on I, best I) of relax and price on the slot, ``limit_s`` seconds each."""
    from uara.model.evaluator import evaluate
    from uara.solvers import get_solver
    from uara.solvers.base import SolveContext

    bound, known = -np.inf, np.inf
    for name in ("relax", "price"):
        ctx = SolveContext(seed=0, slot=slot, rng=np.random.default_rng([0, slot]),
                           deadline=time.perf_counter() + limit_s, threads=1, instance=inst)
        dec = get_solver(name).solve_slot(sd, ctx)
        ev = evaluate(sd, dec.association, dec.bandwidth_share, dec.compute_share)
        bound = max(bound, float(dec.lower_bound))
        known = min(known, float(ev.objective)) if not ev.violations else known
    return bound, known


def budget(semantics: str, m: int) -> tuple[str, int]:
    """(method, evaluations): coordinate sweeps while one evaluation is cheap; the block strategy for the
    paper's semantics from 500 devices (TMA's swaps take 2-20 s per evaluation there)."""
    if semantics == "paper" and m >= 500:
        return "block", 40 if m < 1000 else 16
    return "coordinate", 2000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shipped", default=",".join(SHIPPED), help="shipped instance names ('' for none)")
    ap.add_argument("--slots", default="0,1")
    ap.add_argument("--random", default=",".join(RANDOM), help="random sizes of RANDOM ('' for none)")
    ap.add_argument("--bound-limit", type=float, default=15.0, help="seconds per slot for relax and for price (the bound)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="results/masac/headroom.json")
    ap.add_argument("--rebound", action="store_true",
                    help="recompute best_bound and best_known of the rows already in --out, keep their searches")
    args = ap.parse_args()
    out = Path(args.out)
    doc = json.loads(out.read_text()) if out.is_file() else {"rows": []}
    if args.rebound:
        rebound(doc, out, args)
        summarise(doc["rows"])
        return
    done = {(r["instance"], r["slot"], r["semantics"]) for r in doc["rows"]}
    jobs = [(n, int(s)) for n in filter(None, args.shipped.split(",")) for s in args.slots.split(",")]
    jobs += [(f"random_{size}_seed{RANDOM[size]}", 0) for size in filter(None, args.random.split(","))]
    t_start = time.perf_counter()
    for name, slot in jobs:
        if all((name, slot, sem) in done for sem in SEMANTICS):
            continue
        inst, sd = load_slot(name, slot)
        bound, known = certified_bound(inst, sd, slot, args.bound_limit)
        action = policy_action(sd)
        for sem in SEMANTICS:
            if (name, slot, sem) in done:
                continue
            method, evals = budget(sem, sd.num_devices)
            rng = np.random.default_rng([args.seed, slot, SEMANTICS.index(sem)])
            row = headroom_row(name, slot, sd, sem, action, bound, known, rng, max_evaluations=evals, method=method)
            rec = asdict(row) | {"headroom": row.headroom, "policy_share_of_headroom": row.policy_share_of_headroom}
            doc["rows"].append(rec)
            doc["provenance"] = provenance(args, time.perf_counter() - t_start)
            atomic_write_json(out, doc)
            print(f"{name:>24} {slot} {sem:>5} zero {row.zero_action:10.4f} policy {row.shipped_policy:10.4f} "
                  f"searched {row.best_searched:10.4f} bound {row.best_bound:10.4f} headroom {100 * row.headroom:6.2f} % "
                  f"({row.search['method']}, {row.search['evaluations']} evals, {row.search['time_s']:.0f} s)", flush=True)
    summarise(doc["rows"])


def load_slot(name: str, slot: int):
    """(instance, slot data) of a row's instance name: a shipped name, or random_<M>x<E>_seed<S>."""
    if name.startswith("random_"):
        size, seed = name.removeprefix("random_").split("_seed")
        m, e = (int(v) for v in size.split("x"))
        inst = random_instance(m, e, seed=int(seed))
    else:
        inst = Instance.load(Path("instances") / f"{name}.json")
    return inst, slot_data(inst, slot)


def rebound(doc: dict, out: Path, args: argparse.Namespace) -> None:
    """Recompute the certified bound and the best known value of every (instance, slot) in ``doc``."""
    t0 = time.perf_counter()
    for key in dict.fromkeys((r["instance"], r["slot"]) for r in doc["rows"]):
        inst, sd = load_slot(*key)
        bound, known = certified_bound(inst, sd, key[1], args.bound_limit)
        for r in doc["rows"]:
            if (r["instance"], r["slot"]) == key:
                r["best_bound"] = bound - sd.constant
                r["best_known"] = min(known - sd.constant, r["best_searched"])
        doc["provenance"]["rebound"] = {"command": "python bench/masac_headroom.py --rebound",
                                        "wall_s": round(time.perf_counter() - t0, 1), "versions": package_versions()}
        atomic_write_json(out, doc)
        print(f"{key[0]:>24} {key[1]} bound {bound - sd.constant:.6f} known {known - sd.constant:.6f}", flush=True)


def provenance(args: argparse.Namespace, wall_s: float) -> dict:
    return {"command": "python bench/masac_headroom.py " + " ".join(
                f"--{k.replace('_', '-')} '{v}'" for k, v in vars(args).items()),
            "wall_s_this_run": round(wall_s, 1), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
            "python": platform.python_version(), "versions": package_versions(),
            "values": "I - C of one slot (controllable cost); best_bound: the higher certified lower bound of relax and price, best_known: the best decision of relax, price and the searches"}


def summarise(rows: list[dict]) -> None:
    for sem in SEMANTICS:
        rs = [r for r in rows if r["semantics"] == sem]
        if not rs:
            continue
        head = np.array([r["headroom"] for r in rs])
        pol = np.array([(r["zero_action"] - r["shipped_policy"]) / r["zero_action"] for r in rs])
        opt = np.array([(r["zero_action"] - r["best_bound"]) / r["zero_action"] for r in rs])
        print(f"{sem}: {len(rs)} slots; headroom (zero - searched) / zero: median {100 * np.median(head):.2f} %, "
              f"max {100 * head.max():.2f} %; shipped policy's gain: median {100 * np.median(pol):.2f} %; "
              f"zero above the bound: median {100 * np.median(opt):.2f} %")


if __name__ == "__main__":
    main()
