"""Priced insertion: an association built device by device at the band and compute prices of the partial one.

Devices are inserted in a fixed order (longest draft time a_i first, ties by index), ``chunk`` at a time. A
device may join any server of its candidate list K_i; it joins the one of least first-order marginal cost at
the current partial association,

    join_ij = [(R_j + sqrt(s_ij))^2 - R_j^2] + lambda (a_i - t_ij)^2 + c_ij y_ij + p_i t_ij + mu_j y_ij + q_j,

with R_j = sum of sqrt(s_kj) over j's members (the compute term's exact increment: under the exact allocation
j's compute term is R_j^2) and the band term at price mu_j (:func:`uara.model.allocation.band_terms`): mu_j
the band price of j's members under the exact allocation (:func:`uara.model.allocation.group_values`),
t_ij = t(mu_j) the uplink time at that price and y_ij = b_ij / t_ij, the device's band term plus the bandwidth
it takes at its shadow price. After each chunk the prices of the servers it joined are recomputed (the exact
allocation of their members), so a chunk's devices see each other only through R_j. O(M E / chunk) work per
chunk, no (M, M) table.
"""

from __future__ import annotations

import numpy as np

from uara.model.allocation import band_terms, group_values
from uara.model.formulation import SlotData

#: Devices placed between two price updates, as a share of the servers (at least one device).
CHUNK_PER_SERVER = 0.2


def insertion_order(sd: SlotData) -> np.ndarray:
    """Longest draft time first (the largest tasks are placed while every server is still cheap)."""
    return np.lexsort((np.arange(sd.num_devices), -sd.device_s))


def insertion_costs(sd: SlotData, ids: np.ndarray, total_root: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """join_ij (len(ids), E) of the module docstring for devices ``ids`` at per-server sums R_j = ``total_root``
    and band prices ``mu`` (inf where the pair is unusable). With R = 0 and mu = 0 it is the exact value of
    device i alone on server j (:func:`uara.model.allocation.group_values` of the singleton)."""
    ids = np.asarray(ids, dtype=np.intp)
    root = np.sqrt(sd.server_work_s[ids])
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        band, _ = band_terms(sd.device_s[ids, None], sd.uplink_s_full[ids], sd.energy_cost[ids], sd.lam,
                             np.broadcast_to(mu, root.shape), sd.uplink_energy_price[ids, None])
        join = (total_root + root) ** 2 - total_root**2 + band + sd.queue_s
    return np.where(sd.usable[ids] & np.isfinite(join), join, np.inf)


def priced_insertion(sd: SlotData, candidates: np.ndarray, *, chunk: int | None = None,
                     order: np.ndarray | None = None) -> np.ndarray:
    """The association (M,) of priced insertion (module docstring) within ``candidates`` (M, E) bool, which
    must hold at least one usable server per device. ``chunk``: devices per price update (None:
    max(1, CHUNK_PER_SERVER * E))."""
    m, e = sd.num_devices, sd.num_servers
    candidates = np.asarray(candidates, dtype=bool) & sd.usable & np.isfinite(sd.uplink_s_full)
    if not candidates.any(axis=1).all():
        raise ValueError("priced_insertion: a device has no usable candidate server")
    chunk = max(1, int(CHUNK_PER_SERVER * e)) if chunk is None else max(1, int(chunk))
    order = insertion_order(sd) if order is None else np.asarray(order, dtype=np.intp)
    root = np.sqrt(sd.server_work_s)
    total_root, mu = np.zeros(e), np.zeros(e)
    assoc = np.full(m, -1, dtype=np.intp)
    for start in range(0, m, chunk):
        ids = order[start:start + chunk]
        join = np.where(candidates[ids], insertion_costs(sd, ids, total_root, mu), np.inf)
        best = join.argmin(axis=1)
        assoc[ids] = best
        np.add.at(total_root, best, root[ids, best])
        if start + chunk < m:  # re-price the servers the chunk joined (the others' members did not change)
            touched = np.unique(best)
            placed = order[:start + len(ids)]
            members = placed[np.isin(assoc[placed], touched)]
            local = np.searchsorted(touched, assoc[members])
            _, mu_touched = group_values(sd, members, assoc[members], local, len(touched), mu_start=mu[touched],
                                         return_prices=True)
            mu[touched] = mu_touched
    return assoc
