"""Where association matters (issue 24, item 7): each method's simulated latency, its gap to the certified
floor and its reduction against the baselines, as the servers get busier.

    python bench/load_sweep.py [--output results/load_sweep] [--loads 0,0.2,0.4,0.6,0.8]

Load axes on the shipped etoile geometry (one ray-traced scene, 10 slots each):
- devices per server: m30..m180 on 8 servers, and m60 on 4..20 servers (3 to 22.5 devices per server);
- background load rho of other tenants (``params.background_load``, a latency parameter: P1 and its
  decisions do not change, only the batched server's Poisson stream of other requests).

Per (instance, method) the decision is solved once (seed 0); per rho its latency is simulated under the
batched server, and once under the reserved one (which has no lost capacity: background only as the
instance's recorded start delay, so its column does not move with rho). ``utilisation`` is the batched
servers' busy fraction from each slot's start to the end of their last pass for the slot's tasks, mean
over (slot, server) pairs with tasks. Writes ``sweep.csv`` (one row per instance, rho, method), ``sweep.json``
and ``load_sweep.png`` atomically; prints the table. Seeded: reruns give the same numbers.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

import uara
from uara.io import atomic_write_json, atomic_write_text
from uara.model.instance import Instance
from uara.psd.latency import LatencyOptions, _batched_slots, _decisions, _stats, solution_latency
from uara.psd.latency_floor import solution_floor
from uara.psd.simulation.batched import PassLog

INSTANCES = ["m30_e8", "m60_e8", "m90_e8", "m120_e8", "m150_e8", "m180_e8", "m60_e4", "m60_e12", "m60_e16", "m60_e20"]
METHODS = ["random", "max-sinr", "max-compute", "tma", "masac", "relax"]
BASELINES = ["random", "max-sinr", "max-compute"]


def batched_run(inst: Instance, sol: object) -> tuple[float, float]:
    """One batched simulation of every slot (as :func:`solution_latency` runs it: seed 0, default options):
    the mean latency over device-slots and the mean over (slot, server with tasks) of the server's busy
    share until its last own pass."""
    log = PassLog([], [], [], [], [], [], [])
    res = _batched_slots(inst, {t: _decisions(s) for t, s in enumerate(sol.slots)}, protocol=None, seed=0,
                         options=LatencyOptions(), log=log)
    mean_s = _stats(np.stack([r.per_device_s for r in res]).ravel())[0]
    arr = log.arrays()
    e = inst.num_servers
    shares = []
    for k, r in enumerate(res):
        for j in range(e):
            until = float(r.server_busy_until_s[j])
            on = arr["server"] == k * e + j
            own = on & (arr["requests"] > arr["background"])
            if not own.any() or until <= 0:
                continue
            before = on & (arr["start_s"] < until)
            busy = np.minimum(arr["start_s"][before] + arr["duration_s"][before], until) - arr["start_s"][before]
            shares.append(float(busy.sum() / until))
    return mean_s, (float(np.mean(shares)) if shares else float("nan"))


def sweep(names: list[str], loads: list[float], log=print) -> list[dict]:
    rows = []
    for name in names:
        inst = Instance.load(f"instances/{name}.json")
        sols = {m: uara.solve(inst, solver=m, seed=0) for m in METHODS}
        reserved = {m: solution_latency(inst, s, options=LatencyOptions(server_model="reserved"))["mean_s"]
                    for m, s in sols.items()}
        floor_r = solution_floor(inst, inst.num_slots, options=LatencyOptions(server_model="reserved"))["floor_mean_s"]
        floor_b = solution_floor(inst, inst.num_slots, options=LatencyOptions(server_model="batched"))["floor_mean_s"]
        for rho in loads:
            loaded = replace(inst, params=replace(inst.params, background_load=rho, server_model="batched"))
            for m, s in sols.items():
                lat, util = batched_run(loaded, s)
                rows.append({"instance": name, "devices": inst.num_devices, "servers": inst.num_servers,
                             "devices_per_server": inst.num_devices / inst.num_servers, "background_load": rho,
                             "method": m, "objective_controllable": sols[m].objective - sols[m].constant,
                             "batched_mean_s": lat, "batched_floor_s": floor_b, "batched_gap_to_floor": lat / floor_b - 1,
                             "reserved_mean_s": reserved[m], "reserved_floor_s": floor_r,
                             "reserved_gap_to_floor": reserved[m] / floor_r - 1, "utilisation": util})
            log(f"{name} rho {rho:.1f}: " + ", ".join(f"{r['method']} {r['batched_mean_s']:.3f}" for r in rows[-len(METHODS):]))
    _reductions(rows)
    return rows


def _reductions(rows: list[dict]) -> None:
    """Each row's reduction against the mean of the three baselines' latencies at the same (instance, rho)."""
    for key in ("batched", "reserved"):
        for r in rows:
            base = [q[f"{key}_mean_s"] for q in rows if q["instance"] == r["instance"]
                    and q["background_load"] == r["background_load"] and q["method"] in BASELINES]
            r[f"{key}_reduction_vs_baselines"] = 1 - r[f"{key}_mean_s"] / float(np.mean(base))


def figure(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for m, mark in (("relax", "o"), ("masac", "s"), ("tma", "^")):
        pts = [r for r in rows if r["method"] == m]
        util = [np.mean([q["utilisation"] for q in rows if q["instance"] == r["instance"]
                         and q["background_load"] == r["background_load"] and q["method"] in BASELINES]) for r in pts]
        axes[0].scatter(util, [100 * r["batched_reduction_vs_baselines"] for r in pts], marker=mark, s=18, label=m)
        axes[1].scatter(util, [100 * r["batched_gap_to_floor"] for r in pts], marker=mark, s=18, label=m)
    for m in BASELINES:
        pts = [r for r in rows if r["method"] == m]
        axes[1].scatter([r["utilisation"] for r in pts], [100 * r["batched_gap_to_floor"] for r in pts], s=8, alpha=0.5,
                        label=m)
    axes[0].axhline(0, color="grey", lw=0.8)
    axes[0].set(xlabel="server utilisation under the baselines (batched server)", ylabel="latency reduction vs baselines (%)",
                title="(a) what association gains, as servers get busier")
    axes[1].set(xlabel="server utilisation (batched server)", ylabel="gap to the certified floor (%)",
                title="(b) distance to the floor")
    for ax in axes:
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=130)
    tmp.replace(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--output", "-O", type=Path, default=Path("results/load_sweep"))
    ap.add_argument("--loads", default="0,0.2,0.4,0.6,0.8")
    ap.add_argument("--instances", default=",".join(INSTANCES))
    args = ap.parse_args()
    args.output.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    rows = sweep(args.instances.split(","), [float(x) for x in args.loads.split(",")])
    cols = list(rows[0])
    atomic_write_text(args.output / "sweep.csv", ",".join(cols) + "\n" + "".join(
        ",".join(str(r[c]) for c in cols) + "\n" for r in rows))
    figure(rows, args.output / "load_sweep.png")
    atomic_write_json(args.output / "sweep.json", {
        "format": "uara-load-sweep/1", "rows": rows, "methods": METHODS, "baselines": BASELINES,
        "command": "python bench/load_sweep.py", "wall_time_s": time.perf_counter() - start,
        "machine": platform.platform(), "python": platform.python_version()})
    print(json.dumps({"rows": len(rows), "wall_time_s": round(time.perf_counter() - start, 1)}))


if __name__ == "__main__":
    main()
