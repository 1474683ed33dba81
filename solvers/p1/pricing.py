"""The two halves of column generation on the set-partitioning (Dantzig-Wolfe) form of P1, used by
:mod:`uara.solvers.p1.price`: the restricted master LP in HiGHS (:class:`Master`), and exact pricing,
one server at a time (:func:`price_server`).

Given device prices u_i, the pricing problem of server j is

    min_{S subset of K_j}  V_j(S) - u(S),        V_j(empty) = 0,

where K_j is the server's candidate set and V_j(S) the optimal per-server value
under the exact allocation (:func:`uara.model.allocation.group_values`):

    V_j(S) = sum_{i in S} [ q_j + phi_i(y_i) ] + (sum_{i in S} r_i)^2,   sum_S y_i <= 1,
    phi_i(y) = lambda max(0, b_i / y - a_i)^2 + c_i y,   r_i = sqrt(s_ij)
    (under the physical energy model phi_i(y) = lambda (a_i - b_i / y)^2 + p_i b_i / y, c = 0).

**Node bound.** For any band price mu >= 0 and compute level nu >= 0 (the
compute weight theta of :mod:`uara.solvers.core.lagrangian` is fixed to 1 here:
for an integral set (sum r)^2 >= sum r^2, so the linear cut adds nothing to a
single server's value),

    V_j(S) - u(S) >= sum_{i in S} h_i(mu, nu) - mu - nu^2,
    h_i(mu, nu) = q_j - u_i + min_{t >= b_i} [ (c_i + mu) b_i / t + lambda e(t)^2 + p_i t ] + 2 nu r_i,

because sum_S c y >= sum_S (c + mu) y - mu when sum_S y <= 1, and
(sum r)^2 >= 2 nu sum r - nu^2. At a search node with forced-in set In and
free set F, every S with In subset S subset In + F therefore satisfies

    V_j(S) - u(S) >= L(mu, nu) = sum_In h_i + sum_F min(0, h_i) - mu - nu^2.

L is jointly concave. For fixed mu it is a concave piecewise quadratic in nu
with breakpoints k_i = -h_i(mu, 0) / (2 r_i): it is maximised exactly by
sorting the k_i (:func:`_bound_over_nu`); over mu it is maximised on a
geometric-then-linear grid (any mu gives a valid bound, so the grid only
costs tightness). The search is a depth-first branch-and-bound over devices
(include / exclude the free device with the smallest |h_i|), with
reduced-cost fixing (a free device whose |h_i| closes the gap to the
threshold is fixed to its sign) and the incumbent from the node's rounded
set In + {i in F : h_i < 0}, valued exactly (closed form when the band does
not bind at mu = 0, :func:`uara.model.allocation.group_values` otherwise).

The result's ``lower_bound`` is the minimum over the bounds of all closed
nodes and the best value found: equal to the minimum (to rounding) when the
search finishes, a proven lower bound when it stops at a node or time limit.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from uara.errors import SolverError
from uara.model.allocation import band_terms, group_values
from uara.model.formulation import SlotData


@contextlib.contextmanager
def _fd1_silenced() -> Any:
    """File descriptor 1 pointed at /dev/null for the duration (C libraries' banners), then restored."""
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


class Master:
    """The restricted master LP in HiGHS: M covering rows (= 1), E server rows (<= 1),
    M artificial columns first, M surplus columns (off but in the box step), then the generated
    columns (masks (K, M), server, value)."""

    def __init__(self, m: int, e: int, big: float):
        import highspy

        self.m, self.e = m, e
        with _fd1_silenced():  # HiGHS prints its banner to the C stdout in the constructor
            h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        inf = highspy.kHighsInf
        h.addRows(m + e, np.r_[np.ones(m), np.full(e, -inf)], np.ones(m + e), 0,
                  np.zeros(m + e, dtype=np.int32), np.zeros(0, dtype=np.int32), np.zeros(0))
        h.addCols(m, np.full(m, big), np.zeros(m), np.full(m, inf), m,
                  np.arange(m, dtype=np.int32), np.arange(m, dtype=np.int32), np.ones(m))
        # surplus columns (-1 on row i), off (upper bound 0) unless the box step is on (:meth:`stabilise`)
        h.addCols(m, np.zeros(m), np.zeros(m), np.zeros(m), m,
                  np.arange(m, dtype=np.int32), np.arange(m, dtype=np.int32), -np.ones(m))
        self.first = 2 * m  # index of the first generated column
        self.h, self.inf, self.big = h, inf, float(big)
        self.masks = np.zeros((0, m), dtype=bool)
        self.server = np.zeros(0, dtype=np.intp)
        self.value = np.zeros(0)
        self.keys: set[bytes] = set()
        self.allowed = np.zeros(0, dtype=bool)

    @property
    def size(self) -> int:
        return int(self.server.size)

    def raise_big(self, factor: float = 10.0) -> None:
        """Multiply the artificial columns' cost by ``factor``."""
        self.big *= factor
        self.h.changeColsCost(self.m, np.arange(self.m, dtype=np.int32), np.full(self.m, self.big))

    def stabilise(self, center: np.ndarray, half_width: np.ndarray) -> None:
        """Box step (Marsten et al. 1975): confine the covering duals to u in [center - w, center + w] by
        pricing the artificial column of row i at center_i + w_i (dual constraint u_i <= center_i + w_i)
        and opening its surplus column at -(center_i - w_i) (u_i >= center_i - w_i)."""
        rows = np.arange(self.m, dtype=np.int32)
        self.h.changeColsCost(self.m, rows, np.asarray(center + half_width, dtype=float))
        self.h.changeColsCost(self.m, rows + self.m, np.asarray(-(center - half_width), dtype=float))
        self.h.changeColsBounds(self.m, rows + self.m, np.zeros(self.m), np.full(self.m, self.inf))

    def unstabilise(self) -> None:
        """The plain restricted master again: artificials at ``big``, surplus columns off."""
        rows = np.arange(self.m, dtype=np.int32)
        self.h.changeColsCost(self.m, rows, np.full(self.m, self.big))
        self.h.changeColsBounds(self.m, rows + self.m, np.zeros(self.m), np.zeros(self.m))

    def add(self, masks: np.ndarray, server: np.ndarray, value: np.ndarray, allowed: np.ndarray | None = None) -> int:
        """Add new columns (duplicates skipped); returns how many were added."""
        masks = np.atleast_2d(np.asarray(masks, dtype=bool))
        keep = []
        for k in range(masks.shape[0]):
            key = np.packbits(masks[k]).tobytes() + int(server[k]).to_bytes(4, "little")
            if key not in self.keys:
                self.keys.add(key)
                keep.append(k)
        if not keep:
            return 0
        masks, server, value = masks[keep], np.asarray(server)[keep], np.asarray(value, dtype=float)[keep]
        ok = np.ones(len(keep), dtype=bool) if allowed is None else np.asarray(allowed, dtype=bool)[keep]
        counts = masks.sum(axis=1)
        rows, cols = np.nonzero(masks)
        indices = np.empty(rows.size + len(keep), dtype=np.int32)
        starts = np.r_[0, np.cumsum(counts + 1)[:-1]].astype(np.int32)
        # entries per column: its devices (sorted), then its server row
        pos = starts[rows] + (np.arange(rows.size) - np.r_[0, np.cumsum(counts)[:-1]][rows])
        indices[pos] = cols
        indices[starts + counts] = self.m + server
        self.h.addCols(len(keep), value, np.zeros(len(keep)), np.where(ok, self.inf, 0.0), int(indices.size),
                       starts, indices, np.ones(indices.size))
        self.masks = np.vstack([self.masks, masks])
        self.server = np.r_[self.server, server].astype(np.intp)
        self.value = np.r_[self.value, value]
        self.allowed = np.r_[self.allowed, ok]
        return len(keep)

    def cover(self, lam: np.ndarray) -> np.ndarray:
        """x_ij = sum_{S ni i} lam_jS as (M, E): how much of device i the point ``lam`` (K,) puts on server j."""
        x = np.zeros((self.m, self.e))
        for k in np.flatnonzero(lam > 1e-12):
            x[self.masks[k], self.server[k]] += lam[k]
        return x

    def compatible(self, cand: np.ndarray) -> np.ndarray:
        """(K,) bool: column (j, S) fits candidate sets ``cand`` (M, E): S subset of K_j."""
        if self.size == 0:
            return np.zeros(0, dtype=bool)
        return ~(self.masks & ~cand[:, self.server].T).any(axis=1)

    def restrict(self, cand: np.ndarray) -> None:
        """Allow exactly the columns that fit ``cand`` (upper bound inf or 0)."""
        ok = self.compatible(cand)
        change = np.flatnonzero(ok != self.allowed)
        if change.size:
            self.h.changeColsBounds(int(change.size), (self.first + change).astype(np.int32), np.zeros(change.size),
                                    np.where(ok[change], self.inf, 0.0))
            self.allowed = ok

    def solve(self) -> tuple[float, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(LP value, lam (K,), artificial (M,), u (M,), sigma (E,))."""
        import highspy

        self.h.run()
        if self.h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            # the warm-started simplex can stop with status Unknown (seen on m60_e4 under relax-dw after 4
            # iterations); from a cleared basis the same LP solves
            self.h.clearSolver()
            self.h.run()
        if self.h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            raise SolverError(f"price: master LP ended with status {self.h.modelStatusToString(self.h.getModelStatus())}")
        sol = self.h.getSolution()
        x = np.asarray(sol.col_value)
        y = np.asarray(sol.row_dual)
        return (float(self.h.getInfo().objective_function_value), x[self.first:], x[: self.m], y[: self.m],
                np.minimum(y[self.m:], 0.0))

    def integer_solution(self, time_limit: float) -> tuple[float, np.ndarray] | None:
        """Best partition among the allowed columns (HiGHS MIP, no artificials): (value, lam) or None."""
        if self.size == 0 or time_limit <= 0:
            return None
        from scipy.optimize import Bounds, LinearConstraint, milp
        from scipy.sparse import csr_matrix

        idx = np.flatnonzero(self.allowed)
        rows, cols = np.nonzero(self.masks[idx].T)
        a_cov = csr_matrix((np.ones(rows.size), (rows, cols)), shape=(self.m, idx.size))
        a_srv = csr_matrix((np.ones(idx.size), (self.server[idx], np.arange(idx.size))), shape=(self.e, idx.size))
        res = milp(self.value[idx], integrality=np.ones(idx.size), bounds=Bounds(0, 1),
                   constraints=[LinearConstraint(a_cov, 1, 1), LinearConstraint(a_srv, 0, 1)],
                   options={"time_limit": float(time_limit), "disp": False})
        if res.x is None:
            return None
        lam = np.zeros(self.size)
        lam[idx] = np.round(res.x)
        return float(self.value[idx] @ np.round(res.x)), lam


@dataclass(frozen=True)
class ServerItems:
    """The candidate devices of one server and their price-independent data, shapes (n,).

    ``devices``: device indices; ``a``, ``b``, ``c``, ``p`` as in :class:`uara.model.formulation.SlotData`
    (draft time s, full-share uplink time s, energy cost per unit share, energy price per second of
    uplink); ``root_work``:
    r_i = sqrt(s_ij) (sqrt s); ``band0``, ``y0``: the band term min_t [c b / t + lambda
    max(0, t - a)^2] and its share at mu = 0; ``q``: queue q_j (s); ``mu_scale``: a
    typical band price (median c) that seeds the search over mu.
    """

    server: int
    devices: np.ndarray
    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    p: np.ndarray
    root_work: np.ndarray
    band0: np.ndarray
    y0: np.ndarray
    q: float
    lam: float
    mu_scale: float
    #: beta_i(mu) (n,) per band price mu already evaluated (:meth:`band_columns`)
    band_cache: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def size(self) -> int:
        return int(self.devices.size)

    def band_columns(self, grid: np.ndarray) -> np.ndarray:
        """beta (n, K) of :func:`band_terms` at the band prices ``grid`` (K,), each price evaluated once per
        items object: sibling nodes of the pricing search start from the same price and repeat its grids,
        and the terms do not depend on the device prices u, so later column-generation rounds reuse them."""
        missing = [mu for mu in dict.fromkeys(grid.tolist()) if mu not in self.band_cache]
        if missing:
            beta, _ = band_terms(self.a[:, None], self.b[:, None], self.c[:, None], self.lam, np.array(missing),
                                 self.p[:, None])
            for k, mu in enumerate(missing):
                self.band_cache[mu] = beta[:, k]
        return np.stack([self.band_cache[mu] for mu in grid.tolist()], axis=1)


def server_items(sd: SlotData, server: int, candidates: np.ndarray | None = None) -> ServerItems:
    """:class:`ServerItems` of ``server`` for the devices in ``candidates`` ((M,) bool, default: usable)."""
    usable = sd.usable[:, server] & np.isfinite(sd.uplink_s_full[:, server]) & (sd.uplink_s_full[:, server] > 0)
    if candidates is not None:
        usable = usable & np.asarray(candidates, dtype=bool)
    dev = np.flatnonzero(usable)
    a = sd.device_s[dev]
    b = sd.uplink_s_full[dev, server]
    c = sd.energy_cost[dev, server]
    p = sd.uplink_energy_price[dev]
    band0, y0 = band_terms(a[:, None], b[:, None], c[:, None], float(sd.lam), np.zeros(1), p[:, None])
    scale = float(np.median(c + p * b)) if c.size else 0.0  # d(energy)/d(share) at y = 1, either model
    return ServerItems(
        server=int(server), devices=dev, a=a, b=b, c=c, p=p, root_work=np.sqrt(sd.server_work_s[dev, server]),
        band0=band0[:, 0], y0=y0[:, 0], q=float(sd.queue_s[server]), lam=float(sd.lam),
        mu_scale=scale if scale > 0 else 1.0,
    )


def _bound_over_nu(hp: np.ndarray, r: np.ndarray, fin: np.ndarray, free: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """max_{nu >= 0} [ sum_In (hp_i + 2 nu r_i) + sum_F min(0, hp_i + 2 nu r_i) - nu^2 ] per column.

    ``hp`` (n, K): h_i(mu_k, 0) for K band prices; ``r`` (n,); ``fin``, ``free`` (n,) bool.
    On the interval where exactly the p free items with the largest breakpoints
    k_i = -hp_i / (2 r_i) are in, the function is the quadratic
    H_In + H_p + 2 nu (R_In + R_p) - nu^2, maximised at nu = R_In + R_p clipped into
    the interval; the maximum over the n_F + 1 pieces is the maximum. Returns (value (K,), nu (K,)).
    """
    k_cols = hp.shape[1]
    h_in = hp[fin].sum(axis=0)
    r_in = float(r[fin].sum())
    hf = hp[free]  # (nF, K)
    r_free = r[free]
    n_free = hf.shape[0]
    if n_free == 0:
        nu = np.full(k_cols, r_in)
        return h_in + nu * nu, nu
    if np.all(r_free > 0):
        brk = hf / (-2.0 * r_free[:, None])
    else:
        rf = np.broadcast_to(r_free[:, None], hf.shape)
        with np.errstate(divide="ignore", invalid="ignore"):
            brk = np.where(rf > 0, -hf / (2.0 * rf), np.where(hf < 0, np.inf, -np.inf))
    order = np.argsort(-brk, axis=0, kind="stable")
    cols = np.arange(k_cols)
    # piece p (0..nF): the p free items with the largest breakpoints in, nu in [brk_(p+1), brk_(p)]
    hs = np.zeros((n_free + 1, k_cols))
    np.cumsum(hf[order, cols], axis=0, out=hs[1:])
    rs = np.zeros((n_free + 1, k_cols))
    np.cumsum(r_free[order], axis=0, out=rs[1:])
    hi = np.empty((n_free + 1, k_cols))
    hi[0] = np.inf
    hi[1:] = brk[order, cols]
    lo = np.empty((n_free + 1, k_cols))
    lo[:-1] = hi[1:]
    lo[-1] = -np.inf
    np.maximum(lo, 0.0, out=lo)
    valid = (lo <= hi) & np.isfinite(lo)
    peak = rs + r_in
    with np.errstate(invalid="ignore"):
        nu = np.minimum(np.maximum(peak, lo), hi)
        val = np.where(valid, h_in[None, :] + hs + 2.0 * nu * peak - nu * nu, -np.inf)
    p = np.argmax(val, axis=0)
    return val[p, cols], nu[p, cols]


@dataclass
class NodeBound:
    """A node's bound L(mu, nu) and the multipliers and device terms h_i (n,) at it."""

    value: float
    mu: float
    nu: float
    h: np.ndarray


def node_bound(items: ServerItems, hq: np.ndarray, fin: np.ndarray, free: np.ndarray, mu_start: float = 0.0,
               *, refine: int = 4, stop_at: float = np.inf) -> NodeBound:
    """max over (mu, nu) of L (module docstring) for the node (In = ``fin``, F = ``free``).

    ``hq`` (n,) = q_j - u_i. mu = 0 first: if the devices the bound selects fit in
    the band there (sum y <= 1), mu = 0 is optimal (L is concave in mu and this is
    its right derivative). Otherwise a geometric grid around ``mu_start`` (or the
    server's typical price) brackets the maximiser and ``refine`` linear grids narrow it.
    The search stops at the first stage whose bound reaches ``stop_at`` (the pricing search's incumbent:
    a node bound above it prunes the node and changes no reported bound, so more stages would only cost).
    """
    r = items.root_work
    hp0 = (hq + items.band0)[:, None]
    val0, nu0 = _bound_over_nu(hp0, r, fin, free)
    h0 = hp0[:, 0] + 2.0 * nu0[0] * r
    sel = fin | (free & (h0 < 0))
    if items.y0[sel].sum() <= 1.0:
        return NodeBound(float(val0[0]), 0.0, float(nu0[0]), h0)
    ref = mu_start if mu_start > 0 else items.mu_scale
    grid = np.concatenate([[0.0], ref * 4.0 ** np.arange(-4, 5)])
    best = NodeBound(float(val0[0]), 0.0, float(nu0[0]), h0)
    for stage in range(refine + 3):
        if best.value >= stop_at:
            break
        hp = hq[:, None] + items.band_columns(grid)
        val, nu = _bound_over_nu(hp, r, fin, free)
        val = val - grid
        k = int(np.argmax(val))
        if val[k] > best.value:
            best = NodeBound(float(val[k]), float(grid[k]), float(nu[k]), hp[:, k] + 2.0 * nu[k] * r)
        if stage >= refine + 2:
            break
        if k == grid.size - 1 and stage < 2:  # maximiser beyond the grid: extend it
            grid = grid[-1] * 4.0 ** np.arange(1, 10)
            continue
        lo = grid[k - 1] if k > 0 else 0.0
        hi = grid[k + 1] if k + 1 < grid.size else grid[k] * 4.0
        grid = np.linspace(lo, hi, 9)
    return best


def set_values(sd: SlotData, items: ServerItems, masks: np.ndarray, mu_start: float | None = None) -> np.ndarray:
    """V_j(S) for each row of ``masks`` (K, n) over ``items`` (exact allocation; empty set 0).

    A set whose unconstrained shares fit the band (sum y0 <= 1) has the closed form
    sum_S (q + band0_i) + (sum_S r_i)^2; the others go to :func:`uara.model.allocation.group_values`,
    whose band-price iteration starts at ``mu_start`` when given (the pricing node's band price: the
    same value to rounding in fewer Newton steps).
    """
    masks = np.atleast_2d(np.asarray(masks, dtype=bool))
    out = masks.astype(float) @ (items.q + items.band0) + (masks.astype(float) @ items.root_work) ** 2
    bind = (masks.astype(float) @ items.y0) > 1.0
    if np.any(bind):
        rows, cols = np.nonzero(masks[bind])
        devices = items.devices[cols]
        start = None if mu_start is None or not mu_start > 0 else np.full(int(bind.sum()), float(mu_start))
        out[bind] = group_values(sd, devices, np.full(devices.size, items.server), rows, int(bind.sum()), mu_start=start)
    return out


@dataclass
class PricingResult:
    """Outcome of :func:`price_server`. Values are of V_j(S) - u(S).

    ``best_mask`` (n,) bool over the items (all False: the empty set, value 0);
    ``lower_bound``: proven min_S (V_j(S) - u(S)) >= lower_bound; ``finished``: the
    search closed every node (then lower_bound equals the minimum to rounding);
    ``columns``: (K, n) sets found with value below ``target``, best first, and
    their exact ``column_values`` V_j(S) (not reduced).
    """

    best_mask: np.ndarray
    best_value: float
    lower_bound: float
    finished: bool
    nodes: int
    columns: np.ndarray
    column_values: np.ndarray
    time_s: float = 0.0
    info: dict = field(default_factory=dict)


def price_server(sd: SlotData, items: ServerItems, u: np.ndarray, *, target: float = 0.0,
                 max_nodes: int | None = None, deadline: float | None = None, max_columns: int = 8,
                 rtol: float = 1e-10, atol: float = 0.0) -> PricingResult:
    """min_{S subset of items} V_j(S) - u(S) by depth-first branch-and-bound (module docstring).

    ``u`` (M,): device prices. Nodes whose bound is at least min(best, ``target``) are
    closed (``target`` = the server's convexity dual in column generation: only sets
    below it are wanted), so with ``target`` < 0 the returned ``lower_bound`` is at least
    min(minimum, ~target), a valid bound either way. ``atol``: nodes whose bound is within it of
    that threshold are closed too, so the bound may be up to ``atol`` below the minimum (still valid).
    """
    t0 = time.perf_counter()
    n = items.size
    u_items = np.asarray(u, dtype=float)[items.devices]
    hq = items.q - u_items
    scale = float(np.abs(hq).sum() + items.band0.sum() + items.root_work.sum() ** 2) + 1.0
    eps = rtol * scale  # rounding: a column must price out by more than this
    tol = max(eps, atol)  # a node whose bound is within tol of the threshold is closed
    best_value, best_mask = 0.0, np.zeros(n, dtype=bool)
    closed_min = np.inf  # min bound over closed nodes (and subtrees cut by fixing)
    found: dict[bytes, tuple[np.ndarray, float]] = {}
    seen: dict[bytes, float] = {}
    stack: list[tuple[np.ndarray, np.ndarray, float, float]] = [(np.zeros(n, bool), np.zeros(n, bool), 0.0, -np.inf)]
    nodes = 0
    finished = True
    while stack:
        if (max_nodes is not None and nodes >= max_nodes) or (deadline is not None and time.perf_counter() >= deadline):
            finished = False
            break
        fin, fout, mu_start, _ = stack.pop()
        nodes += 1
        thr = min(best_value, target)
        free = ~(fin | fout)
        nb = node_bound(items, hq, fin, free, mu_start, stop_at=best_value - tol)
        if nb.value >= thr - tol:
            closed_min = min(closed_min, nb.value)
            continue
        # Reduced-cost fixing: flipping a free device against the sign of h_i costs |h_i|.
        gap = thr - nb.value
        fix = free & (np.abs(nb.h) >= gap - tol)
        if np.any(fix):
            closed_min = min(closed_min, nb.value + float(np.abs(nb.h[fix]).min()))
            fin = fin | (fix & (nb.h < 0))
            fout = fout | (fix & (nb.h >= 0))
            free = free & ~fix
        cand = fin | (free & (nb.h < 0))
        key = np.packbits(cand).tobytes()
        if key in seen:
            value = seen[key]
        else:
            value = float(set_values(sd, items, cand[None, :], nb.mu)[0] - u_items[cand].sum()) if cand.any() else 0.0
            seen[key] = value
            if value < target - eps and cand.any():
                found[key] = (cand.copy(), value)
        if value < best_value:
            best_value, best_mask = value, cand.copy()
        if not free.any() or value <= nb.value + tol:
            closed_min = min(closed_min, nb.value if free.any() else value)
            continue
        i = int(np.flatnonzero(free)[np.argmin(np.abs(nb.h[free]))])
        child_in, child_out = fin.copy(), fout.copy()
        child_in[i] = True
        out_in, out_out = fin, fout.copy()
        out_out[i] = True
        first, second = ((out_in, out_out), (child_in, fout)) if nb.h[i] < 0 else ((child_in, fout), (out_in, out_out))
        stack.append((*first, nb.mu, nb.value))  # explored second
        stack.append((*second, nb.mu, nb.value))  # preferred child explored first
    open_min = min((s[3] for s in stack), default=np.inf)
    lower = min(best_value, closed_min, open_min)
    cols = sorted(found.values(), key=lambda cv: cv[1])[:max_columns]
    masks = np.array([cv[0] for cv in cols], dtype=bool).reshape(len(cols), n)
    col_values = np.array([cv[1] for cv in cols]) + masks.astype(float) @ u_items
    return PricingResult(best_mask, best_value, lower, finished, nodes, masks, col_values, time.perf_counter() - t0)
