"""Association moves shared by several P1 back-ends (TMA's phase 2, exact's warm start, MASAC).

:func:`masked_argmax` is the Max-SINR-style choice over usable servers; :func:`seat_costs` and
:func:`swap_search` are TMA's phase 2 (paper Alg. 1): swap two devices' seats while I improves.
All candidate swaps are scored at once: with cost_i(j, y, z) the device's term of I (see
:mod:`uara.model.formulation`), the change of swapping i and k is
    D[i, k] = cost_i(j_k, y_k, z_k) + cost_k(j_i, y_i, z_i) - cost_i - cost_k,
an (M, M) array; the best (most negative) swap is applied each iteration.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from uara.model.allocation import allocate, band_cost
from uara.model.formulation import SlotData



def masked_argmax(score: np.ndarray, usable: np.ndarray) -> np.ndarray:
    """Row-wise argmax of ``score`` (M, E) over usable servers only."""
    return np.where(usable, score, -np.inf).argmax(axis=1)


def seat_costs(sd: SlotData, assoc: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    """C[i, k] = controllable cost of device i sitting in device k's seat (server j_k, shares y_k, z_k).

    cost = q_j + s_ij / z + lambda (a_i - b_ij / y)^2 + c_ij y + p_i b_ij / y; shape (M, M).
    """
    b = sd.uplink_s_full[:, assoc]
    s = sd.server_work_s[:, assoc]
    c = sd.energy_cost[:, assoc]
    return (
        sd.queue_s[assoc][None, :]
        + s / z[None, :]
        + band_cost(sd.device_s[:, None], b, c, sd.lam, y[None, :], sd.uplink_energy_price[:, None])
    )


def swap_search(
    sd: SlotData,
    assoc: np.ndarray,
    allocation: str,
    ctx: Any = None,
    *,
    max_swaps: int | None = None,
    rtol: float = 1e-12,
    shares: tuple[np.ndarray, np.ndarray] | None = None,
    seats: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, bool]:
    """Phase 2 of TMA from ``assoc``. Returns (assoc, y, z, swaps, stopped_early).

    ``seats``: an (M,) int array that receives, at the end, which starting seat each device holds (seats[i] =
    the device whose starting seat device i holds).

    ``shares`` = (y, z) starts from those shares instead of ``allocation``'s and keeps them with their seats
    (a swap exchanges two devices' servers and shares; nothing is re-allocated): TMA-MASAC's phase 2 on the
    policy's Y, Z (``allocation`` is then not used)."""
    assoc = assoc.copy()
    if shares is None:
        alloc = allocate(sd, assoc, allocation)
        y, z = alloc.bandwidth_share.copy(), alloc.compute_share.copy()
    else:
        y, z = (np.asarray(v, dtype=float).copy() for v in shares)
        allocation = "uniform"  # seats keep their shares
    m = sd.num_devices
    swaps = 0
    idx = np.arange(m)
    held = np.arange(m)  # held[i]: the starting seat device i holds
    # seats that keep their shares keep their costs: C[i, s] for the starting seats, gathered as seats move
    start_costs = seat_costs(sd, assoc, y, z) if allocation == "uniform" else None
    stopped = False
    while max_swaps is None or swaps < max_swaps:
        if ctx is not None and ctx.out_of_time():
            stopped = True
            break
        cost = seat_costs(sd, assoc, y, z) if start_costs is None else start_costs[:, held]
        own = cost[idx, idx]
        delta = cost + cost.T - own[:, None] - own[None, :]
        delta[assoc[:, None] == assoc[None, :]] = np.inf  # same server: no change
        # i may take k's seat only over a usable link (and k i's): no path or below coverage
        ok = sd.usable[:, assoc]  # ok[i, k]: device i can use the server of device k
        delta[~(ok & ok.T)] = np.inf
        delta[~np.isfinite(delta)] = np.inf
        flat = int(np.argmin(delta))
        best = delta.flat[flat]
        scale = max(1.0, float(np.abs(own).sum()))
        if not best < -rtol * scale:
            break
        i, k = divmod(flat, m)
        assoc[i], assoc[k] = assoc[k], assoc[i]
        y[i], y[k] = y[k], y[i]
        z[i], z[k] = z[k], z[i]
        held[i], held[k] = held[k], held[i]
        if allocation != "uniform":
            alloc = allocate(sd, assoc, allocation)
            y, z = alloc.bandwidth_share.copy(), alloc.compute_share.copy()
        swaps += 1
    else:
        stopped = True
    if seats is not None:
        seats[:] = held
    return assoc, y, z, swaps, stopped
