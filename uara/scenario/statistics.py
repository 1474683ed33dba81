"""Summary statistics of an instance (used by `uara inspect` and instances/README.md)."""

from __future__ import annotations

from typing import Any

import numpy as np

from uara.model.formulation import slot_data
from uara.model.instance import Instance


def instance_stats(instance: Instance) -> dict[str, Any]:
    """Channel, workload and objective-scale statistics over all slots.

    Keys: gain_db_median and gain_db_p5_p95 (pairs with a path), no_path_share,
    snr_db_range (every pair with a path), snr_db_best_min/median/max and
    snr_db_best_p5_p50_p95 (SNR of each device's best server), cell_edge_share
    (device-slots whose best server is below 0 dB), device_s (a_i quantiles),
    uplink_s_full_best (b_i at the best server), energy_cost (c_i quantiles),
    bits, kinds.
    """
    gains, snr_best, snr_all, a, b_best, c, bits = [], [], [], [], [], [], []
    floor = instance.params.gain_floor_db
    no_path = 0
    for t in range(instance.num_slots):
        sd = slot_data(instance, t)
        g = instance.slots[t].gain_db
        usable = g > floor
        no_path += int((~usable).sum())
        gains.append(g[usable])
        best = np.where(usable, sd.snr, -np.inf).max(axis=1)
        snr_best.append(10 * np.log10(best))
        snr_all.append(10 * np.log10(sd.snr[usable]))
        a.append(sd.device_s)
        b_best.append(np.where(usable, sd.uplink_s_full, np.inf).min(axis=1))
        c.append(sd.energy_cost[:, 0])
        bits.append([tk.bits for tk in instance.slots[t].tasks])
    q = lambda x: [float(v) for v in np.percentile(np.concatenate(x), [5, 50, 95])]  # noqa: E731
    total_pairs = instance.num_devices * instance.num_servers * instance.num_slots
    s = np.concatenate(snr_best)
    g_all = np.concatenate(gains)
    s_all = np.concatenate(snr_all)
    kinds: dict[str, int] = {}
    for d in instance.devices:
        kinds[d.kind] = kinds.get(d.kind, 0) + 1
    for sv in instance.servers:
        kinds[sv.kind] = kinds.get(sv.kind, 0) + 1
    return {
        "gain_db_median": float(np.median(g_all)),
        "gain_db_p5_p95": [float(np.percentile(g_all, 5)), float(np.percentile(g_all, 95))],
        "snr_db_range": [float(s_all.min()), float(s_all.max())],
        "snr_db_best_p5_p50_p95": [float(v) for v in np.percentile(s, [5, 50, 95])],
        "cell_edge_share": float(np.mean(s < 0.0)),
        "no_path_share": no_path / total_pairs,
        "snr_db_best_min": float(s.min()),
        "snr_db_best_median": float(np.median(s)),
        "snr_db_best_max": float(s.max()),
        "device_s_p5_p50_p95": q(a),
        "uplink_s_full_best_p5_p50_p95": q(b_best),
        "energy_cost_p5_p50_p95": q(c),
        "bits_p5_p50_p95": q(bits),
        "kinds": kinds,
    }
