"""Summary statistics of an instance (used by `uara inspect`, instances/README.md and bench/scenario_audit.py).

:func:`instance_stats` describes the channel and workload; :func:`load_stats` the load the
network must carry under the Max-SINR reference association (each device on its highest-SNR
usable server): per server-slot uplink utilisation sum_{i->j} b_ij / tau (b_ij the full-band
uplink time) and compute utilisation sum_{i->j} s_ij / tau (s_ij = f_i^ES / F_j^ES), per
device-slot a_i / tau, and the radio and energy figures a reviewer checks first.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from uara.model.formulation import COVERAGE_SNR_DB, slot_data
from uara.model.instance import Instance


def instance_stats(instance: Instance) -> dict[str, Any]:
    """Channel, workload and objective-scale statistics over all slots.

    Keys: gain_db_median and gain_db_p5_p95 (pairs with a path), no_path_share,
    snr_db_range (every pair with a path), snr_db_best_min/median/max and
    snr_db_best_p5_p50_p95 (SNR of each device's best server), cell_edge_share
    (device-slots whose best server is below 0 dB), device_s (a_i quantiles),
    uplink_s_full_best (b_i at the best server), energy_cost (quantiles of c_i under eq. 8, of
    p_i = w P_i / B_i per second of uplink under the physical energy model),
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
        c.append(sd.energy_cost[:, 0] if sd.energy_model == "paper" else sd.uplink_energy_price)
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


def load_stats(instance: Instance) -> dict[str, Any]:
    """Utilisation and credibility figures over all slots (module docstring).

    Keys: uplink_util and compute_util ([p50, p95, max] over server-slots) with their shares
    below 1 (``*_below_1``), draft_within_slot (share of device-slots with a_i <= tau),
    best_snr_db_min (with the noise figure), spectral_efficiency_max (max rate / W_j over usable
    links, b/s/Hz), bits_median_mbit, drafting_power_w ([min, max] of delta_CP F_i^MD), and
    in_coverage (share of device-slots whose best-server SNR is at least -6 dB).
    """
    tau = instance.params.slot_s
    up, comp, within, best_db, se_max, bits = [], [], [], [], 0.0, []
    for t in range(instance.num_slots):
        sd = slot_data(instance, t)
        rows = np.arange(sd.num_devices)
        ref = sd.max_sinr_association()
        up.append(np.bincount(ref, weights=sd.uplink_s_full[rows, ref], minlength=sd.num_servers) / tau)
        comp.append(np.bincount(ref, weights=sd.server_work_s[rows, ref], minlength=sd.num_servers) / tau)
        within.append(sd.device_s <= tau)
        best_db.append(sd.best_snr_db())
        se_max = max(se_max, float((sd.rate_bps[sd.usable] / sd.band_hz).max()))
        bits.append([tk.bits for tk in instance.slots[t].tasks])
    u, c, b = np.concatenate(up), np.concatenate(comp), np.concatenate(best_db)
    three = lambda x: [float(v) for v in (np.percentile(x, 50), np.percentile(x, 95), x.max())]  # noqa: E731
    power = instance.params.delta_cp_j_per_flop * instance.device_flops
    return {
        "uplink_util_p50_p95_max": three(u),
        "uplink_util_below_1": float(np.mean(u < 1.0)),
        "compute_util_p50_p95_max": three(c),
        "compute_util_below_1": float(np.mean(c < 1.0)),
        "draft_within_slot": float(np.mean(np.concatenate(within))),
        "best_snr_db_min": float(b.min()),
        "in_coverage": float(np.mean(b >= COVERAGE_SNR_DB)),
        "spectral_efficiency_max": se_max,
        "bits_median_mbit": float(np.median(np.concatenate(bits))) / 1e6,
        "drafting_power_w": [float(power.min()), float(power.max())],
    }
