"""Exact move/swap local search over associations, vectorised and incremental.

The value of an association is I = C + sum_j V_j(S_j), with V_j(S) the
optimal value of server j serving device set S under the exact allocation
(:func:`uara.model.allocation.group_values`). For each server j with members S
(n devices) and outsiders O (usable on j, o devices) one *block* of groups
is evaluated at once:

    V_j(S),  V_j(S - i) (i in S),  V_j(S + l) (l in O),  V_j(S - i + l) (i in S, l in O)

and cached as V[j], rem[i] = V_j(S - i) - V_j(S), add[l, j] = V_j(S + l) - V_j(S),
rep[i, l] = V_j(S - i + l) - V_j(S). Then, exactly,

    move i: j -> k      changes I by  rem[i] + add[i, k]
    swap i (on j), l (on k)  changes I by  rep[i, l] + rep[l, i]

A move or swap touches two servers; only their two blocks are recomputed
(O(n M n) entries each), the (M, E) and (M, M) delta tables are otherwise
reused. The best improving move or swap is applied until none improves.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from uara.model.allocation import exact_allocation, group_values
from uara.model.formulation import SlotData


@dataclass
class LocalSearchResult:
    association: np.ndarray
    value: float  # I - C
    moves: int
    swaps: int
    stopped_early: bool


#: Entries (device, group) evaluated at once when the tables are first built: bounds the peak memory
#: (about 100 bytes an entry) and lets a deadline stop the build between chunks.
CHUNK_ENTRIES = 2_000_000


class _Tables:
    """Cached block values for the current association (see module docstring)."""

    def __init__(self, sd: SlotData, assoc: np.ndarray, deadline: float | None = None):
        self.sd = sd
        self.assoc = assoc.copy()
        m, e = sd.num_devices, sd.num_servers
        self.usable = sd.usable & np.isfinite(sd.uplink_s_full)
        self.V = np.zeros(e)
        self.rem = np.zeros(m)
        self.add = np.full((m, e), np.inf)
        self.rep = np.full((m, m), np.inf)
        # band price of each server's current group: starts the price iteration of every group of its
        # block (S - i, S + l, S - i + l differ from S by one or two devices), which then needs a few
        # Newton steps instead of ~16 from zero
        self.mu = exact_allocation(sd, self.assoc).band_price.copy()
        self.complete = self.build(deadline)

    def build(self, deadline: float | None) -> bool:
        """Compute every server's block, in chunks of about CHUNK_ENTRIES entries; False if the
        deadline came first (the tables are then unusable)."""
        n = np.bincount(self.assoc, minlength=self.sd.num_servers).astype(float)
        o = self.usable.sum(axis=0) - n
        entries = n * n + o * (n + 1) + n * o * n + 1.0  # block sizes of the module docstring
        chunk: list[int] = []
        size = 0.0
        for j in range(self.sd.num_servers):
            chunk.append(j)
            size += entries[j]
            if size >= CHUNK_ENTRIES or j == self.sd.num_servers - 1:
                if deadline is not None and time.perf_counter() >= deadline:
                    return False
                self.update(np.array(chunk))
                chunk, size = [], 0.0
        return True

    def update(self, servers: np.ndarray) -> None:
        """Recompute the blocks of ``servers`` for the current association."""
        sd, assoc = self.sd, self.assoc
        m = sd.num_devices
        devs, srvs, grps, starts = [], [], [], []
        layout = []
        base = 0
        for j in np.asarray(servers).tolist():
            S = np.flatnonzero(assoc == j)
            O = np.flatnonzero((assoc != j) & self.usable[:, j])
            n, o = S.size, O.size
            # V(S): group base
            d_all = [S]
            g_all = [np.full(n, base)]
            # V(S - i): groups base+1 .. base+n
            if n > 1:
                keep = ~np.eye(n, dtype=bool)
                d_all.append(np.broadcast_to(S, (n, n))[keep])
                g_all.append(base + 1 + np.repeat(np.arange(n), n - 1))
            # V(S + l): groups base+1+n .. base+n+o
            g_add = base + 1 + n
            d_all += [np.tile(S, o), O]
            g_all += [g_add + np.repeat(np.arange(o), n), g_add + np.arange(o)]
            # V(S - i + l): groups g_rep + r*o + k
            g_rep = g_add + o
            if n > 1 and o > 0:
                rest = np.broadcast_to(S, (n, n))[~np.eye(n, dtype=bool)].reshape(n, n - 1)
                d_all.append(np.broadcast_to(rest[:, None, :], (n, o, n - 1)).ravel())
                g_all.append(g_rep + np.repeat(np.arange(n * o), n - 1))
            if n > 0 and o > 0:
                d_all.append(np.tile(O, n))
                g_all.append(g_rep + np.arange(n * o))
            size = 1 + n + o + n * o
            layout.append((j, S, O, base, size))
            d = np.concatenate(d_all).astype(np.intp)
            devs.append(d)
            srvs.append(np.full(d.size, j, dtype=np.intp))
            grps.append(np.concatenate(g_all).astype(np.intp))
            starts.append(np.full(size, self.mu[j]))
            base += size
        vals, mu = group_values(sd, np.concatenate(devs), np.concatenate(srvs), np.concatenate(grps), base,
                                mu_start=np.concatenate(starts), return_prices=True)
        for j, S, O, b0, size in layout:
            n, o = S.size, O.size
            v = vals[b0 : b0 + size]
            vj = v[0]
            self.V[j] = vj
            self.mu[j] = mu[b0]
            self.rem[S] = v[1 : 1 + n] - vj  # an empty group (n = 1: S - i = {}) has value 0
            self.add[:, j] = np.inf
            self.add[O, j] = v[1 + n : 1 + n + o] - vj
            self.rep[S, :] = np.inf
            if n > 0 and o > 0:
                self.rep[np.ix_(S, O)] = v[1 + n + o :].reshape(n, o) - vj


def local_search(
    sd: SlotData,
    assoc: np.ndarray,
    *,
    deadline: float | None = None,
    max_steps: int | None = None,
    swaps: bool = True,
    rtol: float = 1e-12,
) -> LocalSearchResult:
    """Best-improvement move/swap search from ``assoc`` (M,) with the exact allocation. A deadline that
    comes while the tables are first built returns ``assoc`` unchanged (``stopped_early``)."""
    tab = _Tables(sd, np.asarray(assoc, dtype=np.intp), deadline)
    if not tab.complete:
        start = np.asarray(assoc, dtype=np.intp)
        return LocalSearchResult(start.copy(), _value(sd, start), 0, 0, True)
    n_moves, n_swaps, stopped = _descend(tab, deadline, max_steps, swaps, rtol)
    return LocalSearchResult(tab.assoc.copy(), float(tab.V.sum()), n_moves, n_swaps, stopped)


def _value(sd: SlotData, assoc: np.ndarray) -> float:
    """I - C of ``assoc`` under the exact allocation (one group per server)."""
    return float(group_values(sd, np.arange(sd.num_devices), assoc, assoc, sd.num_servers).sum())


def _descend(tab: _Tables, deadline: float | None, max_steps: int | None, swaps: bool, rtol: float) -> tuple[int, int, bool]:
    """Apply the best improving move or swap until none improves; (moves, swaps, stopped early)."""
    sd = tab.sd
    m = sd.num_devices
    rows = np.arange(m)
    n_moves = n_swaps = 0
    stopped = False
    while max_steps is None or n_moves + n_swaps < max_steps:
        if deadline is not None and time.perf_counter() >= deadline:
            stopped = True
            break
        tol = rtol * max(1.0, abs(float(tab.V.sum())))
        move = tab.rem[:, None] + tab.add
        move[rows, tab.assoc] = np.inf
        k_move = int(np.argmin(move))
        best_move = move.flat[k_move]
        best_swap, k_swap = np.inf, -1
        if swaps:
            swap = tab.rep + tab.rep.T
            k_swap = int(np.argmin(swap))
            best_swap = swap.flat[k_swap]
        if not min(best_move, best_swap) < -tol:
            break
        if best_move <= best_swap:
            i, k = divmod(k_move, sd.num_servers)
            j = tab.assoc[i]
            tab.assoc[i] = k
            n_moves += 1
        else:
            i, l = divmod(k_swap, m)
            j, k = tab.assoc[i], tab.assoc[l]
            tab.assoc[i], tab.assoc[l] = k, j
            n_swaps += 1
        tab.update(np.array([j, k]))
    else:
        stopped = True
    return n_moves, n_swaps, stopped


@dataclass
class IteratedSearchResult(LocalSearchResult):
    perturbations: int = 0
    improvements: int = 0


def iterated_local_search(
    sd: SlotData,
    assoc: np.ndarray,
    rng: np.random.Generator,
    *,
    rounds: int,
    max_perturbed: int = 6,
    deadline: float | None = None,
    swaps: bool = True,
    rtol: float = 1e-12,
) -> IteratedSearchResult:
    """Iterated local search: descend, then ``rounds`` times move k random devices
    (k uniform in 2..max_perturbed, seeded by ``rng``) to random usable servers,
    descend again, and keep the result if it is better (else restore the tables).

    Only the servers a perturbation touches are re-tabulated. (Perturbing within two
    servers only is cheaper but found none of the improvements at 60x8.) The number of rounds, not a time
    budget, sets the work, so the same seed gives the same association on any
    machine; ``deadline`` only stops early (then ``stopped_early``).
    """
    tab = _Tables(sd, np.asarray(assoc, dtype=np.intp), deadline)
    if not tab.complete:
        start = np.asarray(assoc, dtype=np.intp)
        return IteratedSearchResult(start.copy(), _value(sd, start), 0, 0, True, 0, 0)
    n_moves, n_swaps, stopped = _descend(tab, deadline, None, swaps, rtol)
    m = sd.num_devices
    choices = [np.flatnonzero(row) for row in tab.usable]
    best = float(tab.V.sum())
    done = improved = 0
    for _ in range(rounds):
        if stopped or (deadline is not None and time.perf_counter() >= deadline):
            stopped = True
            break
        saved = (tab.assoc.copy(), tab.V.copy(), tab.rem.copy(), tab.add.copy(), tab.rep.copy())
        k = int(rng.integers(2, max(2, max_perturbed) + 1))
        devices = rng.choice(m, size=min(k, m), replace=False)
        targets = np.array([choices[i][int(rng.integers(choices[i].size))] for i in devices.tolist()], dtype=np.intp)
        touched = np.union1d(tab.assoc[devices], targets)
        tab.assoc[devices] = targets
        tab.update(touched)
        mv, sw, stopped = _descend(tab, deadline, None, swaps, rtol)
        done += 1
        value = float(tab.V.sum())
        if value < best - rtol * max(1.0, abs(best)):
            best, improved = value, improved + 1
            n_moves, n_swaps = n_moves + mv, n_swaps + sw
        else:
            tab.assoc, tab.V, tab.rem, tab.add, tab.rep = saved
    return IteratedSearchResult(tab.assoc.copy(), float(tab.V.sum()), n_moves, n_swaps, stopped, done, improved)
