"""The pair features of the learned-preference solver and its zero action (numpy only, no torch).

x_ij describes pair (device i, server j) of one slot so that one network can score the pairs of any M and E
(:mod:`uara.rl.preference`): the device's own draft time and battery, the pair's uplink, server work and
energy relative to the device's best usable server, its SNR rank, the server's queue and Max-SINR load, and
the marginal cost of joining j (:func:`join_costs`).
"""

from __future__ import annotations

import numpy as np

from uara.model.allocation import band_terms
from uara.model.formulation import SlotData

#: Per-pair features x_ij (see :func:`pair_features`); logs are base 10.
PAIR_FEATURES = (
    "log_a", "battery", "log_b", "log_b_rel", "log_s_rel", "log_c_rel", "log_snr_rel", "snr_rank",
    "is_max_sinr", "log_queue", "log_join_rel", "log_phi_rel", "log_load", "coverage", "log_m_over_e",
)
PAIR_DIM = len(PAIR_FEATURES)


def join_costs(sd: SlotData) -> tuple[np.ndarray, np.ndarray]:
    """(join, phi), both (M, E) in objective units, inf where unusable: phi_ij = lambda (a_i - t_ij)^2 + c_ij y_ij
    + p_i t_ij the band term at band price 0 (:func:`uara.model.allocation.band_terms`), and

        join_ij = (W_j + w_i)(G_j + s_ij / w_i) - W_j G_j + phi_ij + q_j,

    the cost of adding device i to server j's Max-SINR group under the compute weights w_i = sqrt(s_i)
    (W_j = sum w, G_j = sum s / w over the group; W_j G_j is the group's compute term), i.e. TMA's move score
    at the zero action (:func:`uara.rl.environment.decide`) without the term for leaving its own server."""
    m, e = sd.num_devices, sd.num_servers
    rows = np.arange(m)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        phi, _ = band_terms(sd.device_s[:, None], sd.uplink_s_full, sd.energy_cost, sd.lam, np.zeros((m, e)),
                            sd.uplink_energy_price[:, None])
    ok = sd.usable & np.isfinite(phi)
    phi = np.where(ok, phi, np.inf)
    w = np.sqrt(sd.server_work_s[:, 0])
    g = sd.server_work_s / w[:, None]
    best = sd.max_sinr_association()
    wj = np.bincount(best, weights=w, minlength=e)
    gj = np.bincount(best, weights=g[rows, best], minlength=e)
    # members of j are counted in W_j, G_j: take them out first, so every device sees the others only
    own = np.zeros((m, e), dtype=bool)
    own[rows, best] = True
    wo = wj[None, :] - np.where(own, w[:, None], 0.0)
    go = gj[None, :] - np.where(own, g, 0.0)
    join = (wo + w[:, None]) * (go + g) - wo * go + phi + sd.queue_s[None, :]
    return np.where(ok, join, np.inf), phi


def pair_features(sd: SlotData) -> tuple[np.ndarray, np.ndarray]:
    """(x, mask): x (M, E, PAIR_DIM) float32 the features of every pair (clipped to [-10, 10], zero where
    unusable), mask (M, E) bool the usable pairs. Relative features compare the pair with the device's best
    usable server, so they do not depend on the units or the size of the instance."""
    m, e = sd.num_devices, sd.num_servers
    rows = np.arange(m)
    join, phi = join_costs(sd)
    mask = np.isfinite(join)
    lg = lambda x: np.log10(np.maximum(x, 1e-12))  # noqa: E731

    def rel(v: np.ndarray) -> np.ndarray:
        v = np.where(mask, v, np.inf)
        return lg(v) - lg(v.min(axis=1, keepdims=True))

    snr = np.where(mask, sd.snr, 0.0)
    best = sd.max_sinr_association()
    rank = np.argsort(np.argsort(-np.where(mask, snr, -np.inf), axis=1), axis=1) / max(e - 1, 1)
    load = np.bincount(best, minlength=e) / (m / e)
    cols = [
        np.broadcast_to(lg(sd.device_s)[:, None], (m, e)),
        np.broadcast_to(sd.battery[:, None], (m, e)),
        lg(sd.uplink_s_full) / 2.0,
        rel(sd.uplink_s_full),
        rel(sd.server_work_s),
        rel(sd.energy_cost + sd.uplink_energy_price[:, None] * sd.uplink_s_full),
        lg(snr) - lg(snr[rows, best])[:, None],
        rank,
        np.zeros((m, e)) + (np.arange(e)[None, :] == best[:, None]),
        np.broadcast_to(np.log1p(sd.queue_s)[None, :], (m, e)),
        rel(join),
        rel(phi),
        np.broadcast_to(np.log10(np.maximum(load, 1e-3))[None, :], (m, e)),
        np.broadcast_to(mask.mean(axis=0)[None, :], (m, e)),
        np.full((m, e), np.log10(m / e)),
    ]
    x = np.stack(cols, axis=-1)
    x = np.where(mask[..., None] & np.isfinite(x), x, 0.0)
    return np.clip(x, -10.0, 10.0).astype(np.float32), mask


def zero_preferences(sd: SlotData) -> np.ndarray:
    """The preference of the zero action: r_ij = log10 SNR_ij (-inf where unusable), so each device's
    candidates are its highest-SNR servers (TMA's phase 1 takes the first of them)."""
    with np.errstate(divide="ignore"):
        return np.where(sd.usable, np.log10(np.maximum(sd.snr, 1e-300)), -np.inf)
