"""The masac policies against the measured headroom on the held-out slots (issue 27, acceptance 2).

    python bench/masac_policy_heldout.py                      # the shipped policies of masac and masac-uara
    python bench/masac_policy_heldout.py --policy-paper runs/masac_es/masac_paper.pt --semantics paper

For every row of ``results/masac/headroom.json`` (slots 0, 1 of the shipped set and random 500x30 and 1000x50,
none used in training) it scores the policy of that row's semantics (paper: the ``masac`` back-end, uara:
``masac-uara``) and prints, all as I - C of the slot: the zero action, the headroom file's policy (the SAC
policy shipped when the headroom was measured), the policy given here, the best searched action and the
share of the measured headroom the policy takes, (zero - policy) / (zero - best searched). The headroom is a
lower bound (the searches did not converge on most slots), so a share above 1 means the policy beats the
search. Writes ``--out`` atomically with the command, wall time, machine and versions.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from masac_headroom import load_slot  # noqa: E402

from uara.experiments.studies.action_headroom import SEMANTICS, action_objective  # noqa: E402
from uara.io import atomic_write_json, package_versions  # noqa: E402
from uara.rl.policy import load_policy  # noqa: E402
from uara.solvers.p1.masac import default_policy_path, default_uara_policy_path, policy_observation  # noqa: E402


def score_rows(rows: list[dict], policies: dict, semantics: list[str]) -> list[dict]:
    """One output row per headroom row of the chosen semantics, with the policy's value and share."""
    out = []
    for r in rows:
        if r["semantics"] not in semantics:
            continue
        _, sd = load_slot(r["instance"], r["slot"])
        t0 = time.perf_counter()
        pol = policies[r["semantics"]]
        value = action_objective(sd, r["semantics"])(pol.act(policy_observation(sd, pol.feature_set)))
        zero, searched = r["zero_action"], r["best_searched"]
        head = zero - searched
        row = {"instance": r["instance"], "slot": r["slot"], "semantics": r["semantics"], "devices": r["devices"],
               "servers": r["servers"], "zero_action": zero, "sac_policy": r["shipped_policy"], "policy": value,
               "best_searched": min(searched, value), "best_bound": r["best_bound"],
               "headroom": head / zero, "policy_gain": (zero - value) / zero,
               "share_of_headroom": (zero - value) / head if head > 0 else None,
               "seconds": round(time.perf_counter() - t0, 2)}
        out.append(row)
        share = "n/a" if row["share_of_headroom"] is None else f"{row['share_of_headroom']:.2f}"
        print(f"{r['instance']:>24} {r['slot']} {r['semantics']:>5} zero {zero:10.4f} sac {r['shipped_policy']:10.4f} "
              f"policy {value:10.4f} searched {searched:10.4f} gain {100 * row['policy_gain']:+6.2f} % "
              f"headroom {100 * head / zero:5.2f} % share {share}", flush=True)
    return out


def summary(rows: list[dict]) -> dict:
    """Per semantics: the median gain, the aggregate share sum(zero - policy) / sum(zero - searched) of the
    relative values, the median share, and how many rows take at least half or lose to the zero action."""
    res = {}
    for sem in SEMANTICS:
        rs = [r for r in rows if r["semantics"] == sem]
        if not rs:
            continue
        gain = np.array([r["policy_gain"] for r in rs])
        head = np.array([r["headroom"] for r in rs])
        shares = np.array([r["share_of_headroom"] for r in rs if r["share_of_headroom"] is not None])
        res[sem] = {"rows": len(rs), "median_gain": float(np.median(gain)), "mean_gain": float(gain.mean()),
                    "mean_headroom": float(head.mean()), "median_headroom": float(np.median(head)),
                    "aggregate_share": float(gain.sum() / head.sum()), "median_share": float(np.median(shares)),
                    "rows_at_least_half": int((shares >= 0.5).sum()), "rows_worse_than_zero": int((gain < 0).sum())}
        s = res[sem]
        print(f"{sem}: {len(rs)} rows; gain over the zero action median {100 * s['median_gain']:.2f} %, mean "
              f"{100 * s['mean_gain']:.2f} % (headroom mean {100 * s['mean_headroom']:.2f} %, median "
              f"{100 * s['median_headroom']:.2f} %); share of the headroom: aggregate {s['aggregate_share']:.2f}, median "
              f"{s['median_share']:.2f}; >= half on {s['rows_at_least_half']}, worse than zero on {s['rows_worse_than_zero']}")
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--headroom", default="results/masac/headroom.json")
    ap.add_argument("--policy-paper", default=str(default_policy_path()), help="policy of the paper's semantics (masac)")
    ap.add_argument("--policy-uara", default=str(default_uara_policy_path()), help="policy of uara's semantics (masac-uara)")
    ap.add_argument("--semantics", nargs="+", default=list(SEMANTICS), choices=SEMANTICS)
    ap.add_argument("--out", default="results/masac/policy_heldout.json")
    args = ap.parse_args()
    t0 = time.perf_counter()
    rows = json.loads(Path(args.headroom).read_text())["rows"]
    policies = {"paper": load_policy(args.policy_paper), "uara": load_policy(args.policy_uara)}
    out = score_rows(rows, policies, args.semantics)
    doc = {"rows": out, "summary": summary(out), "provenance": {
        "command": "python bench/masac_policy_heldout.py " + " ".join(sys.argv[1:]),
        "policies": {"paper": args.policy_paper, "uara": args.policy_uara}, "headroom": args.headroom,
        "wall_s": round(time.perf_counter() - t0, 1), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "python": platform.python_version(), "versions": package_versions(),
        "values": "I - C of one slot; sac_policy: the policy of the headroom file (the SAC policy shipped then); "
                  "best_searched: min of the headroom search and this policy"}}
    atomic_write_json(args.out, doc)
    print(f"wrote {args.out} ({doc['provenance']['wall_s']} s)")


if __name__ == "__main__":
    main()
