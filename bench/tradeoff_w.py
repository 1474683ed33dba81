"""The latency/energy trade-off of P1 as the energy weight w goes from 20 to 100 (paper Fig. 6).

For each w: TMA + exact allocation on the same instance; prints the mean
optimal uplink time T_i and communication energy E^CM for high-battery
(B >= 0.5) and low-battery devices, and the controllable objective.
Run: python bench/tradeoff_w.py [INSTANCE] [--protocol SPEC]
(without INSTANCE: a random 60 x 8 instance whose tasks use the uplink
protocol SPEC, default the PSD profiles' own: full@4; try topk:128).
"""

from __future__ import annotations

import argparse

import numpy as np

from uara.model.instance import Instance
from uara.solvers import get_solver


def main(path: str | None = None, protocol: str | None = None) -> None:
    if path:
        inst = Instance.load(path)
    else:
        from uara.scenario.builder import build_instance
        from uara.scenario.random_instance import RANDOM_CHANNEL

        inst = build_instance(devices=60, servers=8, slots=1, channel="free-space", seed=0, channel_options=RANDOM_CHANNEL,
                              task_options={"protocol": protocol} if protocol else None, name="random_m60_e8_s0")
    tk = inst.slots[0].tasks[0]
    proto = (tk.psd or {}).get("protocol", "n/a")
    print(f"instance {inst.name}: tma+exact, slot 0, uplink protocol {proto}, median d_i {np.median([t.bits for t in inst.slots[0].tasks]):.3g} bit")
    print(f"{'w':>5} {'I - C':>9} {'T high [s]':>11} {'T low [s]':>10} {'E_CM high [J]':>14} {'E_CM low [J]':>13} {'sum y':>7}")
    for w in (20, 40, 60, 80, 100):
        iw = inst.with_params(energy_weight=float(w)).slot_subset([0])
        sol = get_solver("tma").solve(iw)
        ev = sol.evaluations[0]
        t = ev.terms.uplink_s
        ecm = ev.energy_j - iw.params.delta_cp_j_per_flop * np.array([tk.flops_device for tk in iw.slots[0].tasks])
        hi = iw.slots[0].battery >= 0.5
        print(f"{w:5d} {sol.objective - sol.constant:9.2f} {t[hi].mean():11.2f} {t[~hi].mean():10.2f} "
              f"{ecm[hi].mean():14.5f} {ecm[~hi].mean():13.5f} {sol.slots[0].bandwidth_share.sum():7.3f}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("instance", nargs="?")
    ap.add_argument("--protocol", default=None)
    a = ap.parse_args()
    main(a.instance, a.protocol)
