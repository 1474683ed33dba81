"""masac's actor trained for latency against the latency search, on held-out slots (issue 27 item 3).

    python bench/masac_latency_heldout.py --policy-latency runs/masac_es/masac_latency.pt

For slots 0 and 1 of every shipped instance (none used in training) it prints, as the slot's summed PSD
latency sum_i L_i in seconds on the batched, work-conserving server's event simulation (latency-aware UARA's
objective at energy weight 0, :func:`uara.experiments.studies.action_headroom.decision_latency_s`):

- ``zero_action``: the ``masac`` pipeline (the paper's semantics: policy shares on Max-SINR, then TMA's swaps)
  at the zero action, i.e. the exact allocation's shares;
- ``cost_policy``: the same pipeline with the policy trained on I - C (``uara/rl/policies/masac.pt``);
- ``latency_policy``: the same pipeline with the policy trained on this latency (``--policy-latency``);
- ``best_searched`` (with ``--headroom-evals`` N > 0): the best action of a seeded block (1+1)-ES over the
  action space on this latency (:func:`uara.experiments.studies.action_headroom.block_search`, N evaluations,
  from the better of the zero action and the latency policy): a lower bound on what any policy could gain;
- ``latency_search``: the ``latency-search`` back-end at ``--search-s`` seconds per slot, whose decision space is
  larger (draft lengths, share rules, any association; it starts from masac-uara, TMA, Max-SINR and
  Max-Compute), and its best start.

The three masac rows keep every task's own draft length. Decision seconds are wall time per slot on one
thread. Writes ``--out`` atomically with the command, wall time, machine and versions.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from uara.experiments.studies.action_headroom import action_objective, block_search
from uara.io import atomic_write_json, package_versions
from uara.model.formulation import slot_data
from uara.model.instance import Instance
from uara.psd.server_configs import slot_tasks
from uara.rl.environment import ACT_DIM
from uara.rl.policy import load_policy
from uara.solvers import get_solver
from uara.solvers.p1.masac import default_policy_path, policy_observation

SHIPPED = ("m30_e8", "m60_e4", "m60_e8", "m60_e12", "m60_e16", "m60_e20", "m90_e8", "m120_e8", "m150_e8", "m180_e8")


def score_slot(inst: Instance, name: str, t: int, policies: dict, search_s: float, headroom_evals: int) -> dict:
    """One row: the three masac decisions' latency, the action search's and the latency search's, with seconds."""
    sd = slot_data(inst, t)
    f = action_objective(sd, "paper", slot_tasks(inst, t))
    row: dict = {"instance": name, "slot": t, "devices": sd.num_devices, "servers": sd.num_servers}
    actions = {}
    for key, policy in (("zero_action", None), ("cost_policy", policies["cost"]), ("latency_policy", policies["latency"])):
        t0 = time.perf_counter()
        actions[key] = (np.zeros((sd.num_devices, ACT_DIM)) if policy is None
                        else policy.act(policy_observation(sd, policy.feature_set)))
        row[key] = f(actions[key])
        row[f"{key}_s"] = round(time.perf_counter() - t0, 3)
    zero = row["zero_action"]
    if headroom_evals > 0:
        t0 = time.perf_counter()
        start = actions["latency_policy"] if row["latency_policy"] < zero else actions["zero_action"]
        found = block_search(f, start, np.random.default_rng(t), max_evaluations=headroom_evals)
        row["best_searched"] = min(found.value, row["latency_policy"], zero)
        row["best_searched_s"] = round(time.perf_counter() - t0, 1)
    t0 = time.perf_counter()
    sol = get_solver("latency-search").solve(inst, slots=[t], time_limit=search_s)
    info = sol.slots[0].info
    row["latency_search"] = float(info["objective_s"]) * sd.num_devices
    row["latency_search_start"] = float(info["start_objective_s"]) * sd.num_devices
    row["latency_search_start_name"] = info["start"]
    row["latency_search_s"] = round(time.perf_counter() - t0, 2)
    print(f"{name:>8} {t} zero {zero:9.3f} s  cost policy {100 * (zero - row['cost_policy']) / zero:+6.2f} %  "
          f"latency policy {100 * (zero - row['latency_policy']) / zero:+6.2f} %  searched action "
          f"{100 * (zero - row.get('best_searched', zero)) / zero:+6.2f} %  latency search "
          f"{100 * (zero - row['latency_search']) / zero:+6.2f} % ({row['latency_search_s']:.1f} s)", flush=True)
    return row


def summary(rows: list[dict]) -> dict:
    """Medians of each method's gain over the zero action, and how often the latency policy beats the others."""
    gain = lambda k: np.array([(r["zero_action"] - r[k]) / r["zero_action"] for r in rows])  # noqa: E731
    out = {k: {"median_gain": float(np.median(gain(k))), "mean_gain": float(gain(k).mean())}
           for k in ("cost_policy", "latency_policy", "best_searched", "latency_search", "latency_search_start")
           if all(k in r for r in rows)}
    lat = np.array([r["latency_policy"] for r in rows])
    out["latency_policy_better_than"] = {k: int((lat < np.array([r[k] for r in rows])).sum())
                                         for k in ("zero_action", "cost_policy", "latency_search")}
    out["slots"] = len(rows)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--policy-latency", required=True, help="masac checkpoint trained with --es-objective latency")
    ap.add_argument("--policy-cost", default=str(default_policy_path()), help="masac checkpoint trained on I - C")
    ap.add_argument("--instances", nargs="+", default=list(SHIPPED), help="names under instances/")
    ap.add_argument("--slots", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--search-s", type=float, default=10.0, help="latency-search seconds per slot")
    ap.add_argument("--headroom-evals", type=int, default=40, help="action-search evaluations per slot (0: none)")
    ap.add_argument("--out", default="results/masac/latency_heldout.json")
    args = ap.parse_args()
    t0 = time.perf_counter()
    policies = {"cost": load_policy(args.policy_cost), "latency": load_policy(args.policy_latency)}
    rows = []
    for name in args.instances:
        inst = Instance.load(Path("instances") / f"{name}.json")
        rows += [score_slot(inst, name, t, policies, args.search_s, args.headroom_evals) for t in args.slots if t < inst.num_slots]
    doc = {"rows": rows, "summary": summary(rows), "provenance": {
        "command": "python bench/masac_latency_heldout.py " + " ".join(sys.argv[1:]),
        "policies": {"cost": args.policy_cost, "latency": args.policy_latency},
        "wall_s": round(time.perf_counter() - t0, 1), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "python": platform.python_version(), "versions": package_versions(),
        "values": "summed PSD latency of the slot's devices (s), batched server's event simulation, energy weight 0"}}
    atomic_write_json(args.out, doc)
    s = doc["summary"]
    print(f"median gain over the zero action: cost policy {100 * s['cost_policy']['median_gain']:+.2f} %, latency "
          f"policy {100 * s['latency_policy']['median_gain']:+.2f} %, latency search "
          f"{100 * s['latency_search']['median_gain']:+.2f} %; the latency policy is better than the zero action on "
          f"{s['latency_policy_better_than']['zero_action']}/{len(rows)}, than the cost policy on "
          f"{s['latency_policy_better_than']['cost_policy']}/{len(rows)}")
    print(f"wrote {args.out} ({doc['provenance']['wall_s']} s)")


if __name__ == "__main__":
    main()
