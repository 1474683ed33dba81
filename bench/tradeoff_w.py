"""The latency/energy trade-off of P1 as the energy weight w goes from 20 to 100 (paper Fig. 6).

For each w: TMA + exact allocation on the same instance; prints the mean
optimal uplink time T_i and communication energy E^CM for high-battery
(B >= 0.5) and low-battery devices, and the controllable objective.
Run: python bench/tradeoff_w.py [INSTANCE]
"""

from __future__ import annotations

import sys

import numpy as np

from uara.instance import Instance
from uara.solvers import get_solver


def main(path: str | None = None) -> None:
    inst = Instance.load(path) if path else Instance.random(60, 8, seed=0)
    print(f"instance {inst.name}: tma+exact, slot 0")
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
    main(sys.argv[1] if len(sys.argv) > 1 else None)
