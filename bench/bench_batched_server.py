"""Speed and behaviour of the batched server model against the reserved one on a whole instance.

Simulates every slot of an instance (default instances/m180_e8.json, 180 devices x 8 servers x 10 slots)
under one decision (Max-SINR with even shares by default) with both server models, times each (median of
--repeat), and prints the ratio, the mean latencies and, for the batched model, the passes per server-slot,
the requests per pass and the busy share of each server while its tasks run. Goal (issue 23): the batched
simulation of a 180 x 8 x 10 instance in at most 2 s on the 2-core development machine. Asserts nothing.

    python bench/bench_batched_server.py [--instance instances/m180_e8.json] [--solver max-sinr] [--repeat 3]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import numpy as np

import uara
from uara.model.instance import Instance
from uara.psd.latency import LatencyOptions, solution_latency


def timed(fn, repeat: int) -> tuple[float, object]:
    out, res = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        res = fn()
        out.append(time.perf_counter() - t0)
    return statistics.median(out), res


def pass_statistics(inst: Instance, sol) -> dict[str, float]:
    """Passes, requests per pass and busy share while tasks run, from the batched simulator's pass log."""
    from uara.psd.latency import _batched_slots, _decisions
    from uara.psd.simulation.batched import PassLog

    log = PassLog([], [], [], [], [], [], [])
    _batched_slots(inst, {t: _decisions(s) for t, s in enumerate(sol.slots)}, protocol=None, seed=0,
                   options=LatencyOptions(server_model="batched"), log=log)
    a = log.arrays()
    srv = a["server"].astype(int)
    busy = np.bincount(srv, weights=a["duration_s"])
    span = np.array([(a["start_s"][srv == g] + a["duration_s"][srv == g]).max() if (srv == g).any() else np.nan
                     for g in range(busy.size)])
    util = busy / span
    return {"passes": float(a["server"].size), "passes_per_server_slot_max": float(np.bincount(srv).max()),
            "requests_per_pass_mean": float(a["requests"].mean()), "requests_per_pass_p95": float(np.percentile(a["requests"], 95)),
            "busy_share_median": float(np.nanmedian(util)), "busy_share_p95": float(np.nanpercentile(util, 95))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--instance", default="instances/m180_e8.json")
    ap.add_argument("--solver", default="max-sinr")
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    inst = Instance.load(a.instance)
    sol = uara.solve(inst, solver=a.solver)
    print(f"machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}, numpy {np.__version__}")
    print(f"instance {inst.name}: {inst.num_devices} devices x {inst.num_servers} servers x {inst.num_slots} slots; "
          f"decision {a.solver}; background_load {inst.params.background_load}")
    times = {}
    for model in ("reserved", "batched"):
        t, res = timed(lambda: solution_latency(inst, sol, options=LatencyOptions(server_model=model)), a.repeat)
        times[model] = t
        print(f"{model:>8}: {t:.3f} s (median of {a.repeat}); mean latency {res['mean_s']:.3f} s, p95 {res['p95_s']:.3f} s")
    print(f"batched / reserved time: {times['batched'] / times['reserved']:.2f}x; goal: batched <= 2 s "
          f"({'met' if times['batched'] <= 2.0 else 'not met'} on this machine)")
    for k, v in pass_statistics(inst, sol).items():
        print(f"  {k}: {v:.3f}")


if __name__ == "__main__":
    main()
