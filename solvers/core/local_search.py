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


#: Entries (device, group) evaluated at once, when the tables are built and when a move updates two
#: servers' blocks: bounds the peak memory (about BYTES_PER_ENTRY each) and lets a deadline stop the
#: work between chunks.
CHUNK_ENTRIES = 500_000
#: Peak bytes per entry of one evaluation (indices, gathered data, Newton temporaries; measured by
#: bench/bench_memory.py).
BYTES_PER_ENTRY = 200


def peak_bytes(num_devices: int, num_servers: int) -> float:
    """The search's peak memory, roughly: one chunk of entries, the (M, M) swap tables (three float
    arrays) and the (M, E) ones."""
    return BYTES_PER_ENTRY * CHUNK_ENTRIES + 3 * 8.0 * num_devices**2 + 16 * 8.0 * num_devices * num_servers


class _Tables:
    """Cached block values for the current association (see module docstring)."""

    def __init__(self, sd: SlotData, assoc: np.ndarray, deadline: float | None = None, *,
                 candidates: np.ndarray | None = None, swaps: bool = True):
        self.sd = sd
        self.assoc = assoc.copy()
        m, e = sd.num_devices, sd.num_servers
        # the servers a device may move to: usable, and in its candidate list when there is one
        self.usable = sd.usable & np.isfinite(sd.uplink_s_full)
        if candidates is not None:
            self.usable = self.usable & np.asarray(candidates, dtype=bool)
        self.swaps = swaps  # without swaps the (M, M) table is never filled
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
        o = np.maximum(self.usable.sum(axis=0) - n, 0.0)
        entries = n * n + o * (n + 1) + (n * o * n if self.swaps else 0.0) + 1.0  # block sizes of the module docstring
        chunk: list[int] = []
        size = 0.0
        for j in range(self.sd.num_servers):
            chunk.append(j)
            size += entries[j]
            if size >= CHUNK_ENTRIES or j == self.sd.num_servers - 1:
                if deadline is not None and time.perf_counter() >= deadline:
                    return False
                if not self.update(np.array(chunk), deadline):
                    return False
                chunk, size = [], 0.0
        return True

    def update(self, servers: np.ndarray, deadline: float | None = None) -> bool:
        """Recompute the blocks of ``servers`` for the current association: the small groups V(S), V(S - i),
        V(S + l) of every server in one evaluation, then each server's swap groups V(S - i + l) in chunks
        of at most CHUNK_ENTRIES entries (n^2 o of them: 10^8 at M = 2000, E = 8, where one evaluation
        would need ~30 GB). Every group is evaluated on its own (:func:`group_values` is elementwise over
        groups), so the chunking changes no value. False if ``deadline`` came between two chunks (the
        tables are then inconsistent and must not be used again)."""
        assoc = self.assoc
        blocks = []
        for j in np.asarray(servers).tolist():
            S = np.flatnonzero(assoc == j)
            O = np.flatnonzero((assoc != j) & self.usable[:, j])
            blocks.append((j, S, O, float(self.mu[j])))
        self._update_small(blocks)
        return not self.swaps or all(self._update_swaps(j, S, O, mu0, deadline) for j, S, O, mu0 in blocks)

    def _update_small(self, blocks: list[tuple[int, np.ndarray, np.ndarray, float]]) -> None:
        """V(S) (group 0 of a block), V(S - i) (groups 1..n), V(S + l) (groups n+1..n+o), all blocks at once."""
        devs, grps, srvs, starts, layout = [], [], [], [], []
        base = 0
        for j, S, O, mu0 in blocks:
            n, o = S.size, O.size
            d_all, g_all = [S], [np.full(n, base)]
            if n > 1:
                d_all.append(np.broadcast_to(S, (n, n))[~np.eye(n, dtype=bool)])
                g_all.append(base + 1 + np.repeat(np.arange(n), n - 1))
            g_add = base + 1 + n
            d_all += [np.tile(S, o), O]
            g_all += [g_add + np.repeat(np.arange(o), n), g_add + np.arange(o)]
            size = 1 + n + o
            d = np.concatenate(d_all).astype(np.intp)
            devs.append(d)
            srvs.append(np.full(d.size, j, dtype=np.intp))
            grps.append(np.concatenate(g_all).astype(np.intp))
            starts.append(np.full(size, mu0))
            layout.append((j, S, O, base))
            base += size
        vals, mu = group_values(self.sd, np.concatenate(devs), np.concatenate(srvs), np.concatenate(grps), base,
                                mu_start=np.concatenate(starts), return_prices=True)
        for j, S, O, b0 in layout:
            n, o = S.size, O.size
            vj = vals[b0]
            self.V[j] = vj
            self.mu[j] = mu[b0]
            self.rem[S] = vals[b0 + 1: b0 + 1 + n] - vj  # an empty group (n = 1: S - i = {}) has value 0
            self.add[:, j] = np.inf
            self.add[O, j] = vals[b0 + 1 + n: b0 + 1 + n + o] - vj
            self.rep[S, :] = np.inf

    def _update_swaps(self, j: int, S: np.ndarray, O: np.ndarray, mu0: float, deadline: float | None) -> bool:
        """rep[i, l] = V_j(S - i + l) - V_j(S) for i in S, l in O, rows of S in chunks (CHUNK_ENTRIES);
        False if ``deadline`` came between two chunks."""
        n, o = S.size, O.size
        if n == 0 or o == 0:
            return True
        rest = np.broadcast_to(S, (n, n))[~np.eye(n, dtype=bool)].reshape(n, n - 1)
        rows = max(1, CHUNK_ENTRIES // max(1, o * n))
        for r0 in range(0, n, rows):
            if deadline is not None and r0 > 0 and time.perf_counter() >= deadline:
                return False
            r1 = min(n, r0 + rows)
            k = r1 - r0
            # group g = r * o + q holds S - S[r0 + r] (n - 1 devices) and O[q]
            d = np.concatenate([np.broadcast_to(rest[r0:r1, None, :], (k, o, n - 1)).ravel(), np.tile(O, k)])
            g = np.concatenate([np.repeat(np.arange(k * o), n - 1), np.arange(k * o)])
            vals = group_values(self.sd, d.astype(np.intp), np.full(d.size, j, dtype=np.intp), g.astype(np.intp),
                                k * o, mu_start=np.full(k * o, mu0))
            self.rep[np.ix_(S[r0:r1], O)] = vals.reshape(k, o) - self.V[j]
        return True


def local_search(
    sd: SlotData,
    assoc: np.ndarray,
    *,
    deadline: float | None = None,
    max_steps: int | None = None,
    swaps: bool = True,
    rtol: float = 1e-12,
    candidates: np.ndarray | None = None,
    moves_first: bool = False,
) -> LocalSearchResult:
    """Best-improvement move/swap search from ``assoc`` (M,) with the exact allocation. A deadline that
    comes while the tables are first built returns ``assoc`` unchanged (``stopped_early``).

    ``candidates`` (M, E) bool: the servers each device may move to (its candidate list,
    :func:`candidate_mask`); None = every usable server. ``moves_first``: descend with moves alone
    (no (M, M) swap table: a step re-tabulates O(n + o) groups instead of O(n^2 o)), then build the
    swap tables once from that local optimum and descend with both; it can end in another local
    optimum than the plain best-improvement order, and a deadline during the swap build keeps the moves."""
    start = np.asarray(assoc, dtype=np.intp)
    n_moves = 0
    if moves_first and swaps:
        first = local_search(sd, start, deadline=deadline, max_steps=max_steps, swaps=False, rtol=rtol,
                             candidates=candidates)
        if first.stopped_early:
            return first
        start, n_moves = first.association, first.moves
        max_steps = None if max_steps is None else max(0, max_steps - n_moves)
    tab = _Tables(sd, start, deadline, candidates=candidates, swaps=swaps)
    if not tab.complete:
        return LocalSearchResult(start.copy(), _value(sd, start), n_moves, 0, True)
    mv, n_swaps, stopped, exact = _descend(tab, deadline, max_steps, swaps, rtol)
    value = float(tab.V.sum()) if exact else _value(sd, tab.assoc)
    return LocalSearchResult(tab.assoc.copy(), value, n_moves + mv, n_swaps, stopped)


def candidate_mask(score: np.ndarray, usable: np.ndarray, k: int, association: np.ndarray | None = None) -> np.ndarray:
    """(M, E) bool: each device's ``k`` usable servers of lowest ``score`` (M, E) (for instance the
    Lagrangian pair terms g_ij of :mod:`uara.solvers.core.lagrangian`: a device's cost on each server at
    the dual prices), plus its server in ``association``; every usable server where k >= E."""
    usable = np.asarray(usable, dtype=bool)
    m, e = usable.shape
    if k >= e:
        return usable.copy()
    ranked = np.where(usable, score, np.inf)
    keep = np.zeros((m, e), dtype=bool)
    best = np.argpartition(ranked, k - 1, axis=1)[:, :k]
    keep[np.arange(m)[:, None], best] = True
    if association is not None:
        keep[np.arange(m), np.asarray(association, dtype=np.intp)] = True
    return keep & usable


def _value(sd: SlotData, assoc: np.ndarray) -> float:
    """I - C of ``assoc`` under the exact allocation (one group per server)."""
    return float(group_values(sd, np.arange(sd.num_devices), assoc, assoc, sd.num_servers).sum())


def _descend(tab: _Tables, deadline: float | None, max_steps: int | None, swaps: bool,
             rtol: float) -> tuple[int, int, bool, bool]:
    """Apply the best improving move or swap until none improves; (moves, swaps, stopped early, whether
    the tables still hold the association's value: False when the deadline cut the last update)."""
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
        if not tab.update(np.array([j, k]), deadline):
            return n_moves, n_swaps, True, False
    else:
        stopped = True
    return n_moves, n_swaps, stopped, True


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
    candidates: np.ndarray | None = None,
) -> IteratedSearchResult:
    """Iterated local search: descend, then ``rounds`` times move k random devices
    (k uniform in 2..max_perturbed, seeded by ``rng``) to random usable servers,
    descend again, and keep the result if it is better (else restore the tables).

    Only the servers a perturbation touches are re-tabulated. (Perturbing within two
    servers only is cheaper but found none of the improvements at 60x8.) The number of rounds, not a time
    budget, sets the work, so the same seed gives the same association on any
    machine; ``deadline`` only stops early (then ``stopped_early``). ``candidates``: as in
    :func:`local_search` (perturbations also stay within the lists).
    """
    tab = _Tables(sd, np.asarray(assoc, dtype=np.intp), deadline, candidates=candidates, swaps=swaps)
    if not tab.complete:
        start = np.asarray(assoc, dtype=np.intp)
        return IteratedSearchResult(start.copy(), _value(sd, start), 0, 0, True, 0, 0)
    n_moves, n_swaps, stopped, exact = _descend(tab, deadline, None, swaps, rtol)
    if not exact:  # the deadline cut the last update: the association is right, the tables are not
        return IteratedSearchResult(tab.assoc.copy(), _value(sd, tab.assoc), n_moves, n_swaps, True, 0, 0)
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
        mv = sw = 0
        exact = tab.update(touched, deadline)
        if exact:
            mv, sw, stopped, exact = _descend(tab, deadline, None, swaps, rtol)
        done += 1
        value = float(tab.V.sum()) if exact else _value(sd, tab.assoc)
        if value < best - rtol * max(1.0, abs(best)):
            best, improved = value, improved + 1
            n_moves, n_swaps = n_moves + mv, n_swaps + sw
            if not exact:
                return IteratedSearchResult(tab.assoc.copy(), value, n_moves, n_swaps, True, done, improved)
        else:
            tab.assoc, tab.V, tab.rem, tab.add, tab.rep = saved
        stopped = stopped or not exact
    return IteratedSearchResult(tab.assoc.copy(), float(tab.V.sum()), n_moves, n_swaps, stopped, done, improved)
