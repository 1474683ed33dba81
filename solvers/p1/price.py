"""``price``: column generation and branch-and-price on the set-partitioning form of P1.

P1 for one slot is min over partitions (S_1 .. S_E) of the devices (each on a
usable server) of sum_j V_j(S_j), V_j the per-server optimum under the exact
allocation (values of I - C). The Dantzig-Wolfe master over columns (j, S):

    min  sum_{(j,S)} V_j(S) lam_jS
    s.t. sum_{(j,S) : i in S} lam_jS = 1        (u_i)     every device covered once
         sum_S lam_jS <= 1                       (sigma_j) at most one set per server
         lam >= 0,

plus one artificial column per device (cost ``big``, covers only i) so every
restricted master is feasible. For ANY prices u the Lagrangian bound

    LB(u) = sum_i u_i + sum_j min(0, min_{S subset of K_j} [V_j(S) - u(S)])

is a lower bound on every partition with S_j subset of K_j (relax the covering
rows with u); each inner minimum is replaced by the proven lower bound of the
exact pricing (:mod:`uara.solvers.p1.pricing`), so LB needs no LP status, only
correct arithmetic, and a rounding cushion is subtracted. When no column has
negative reduced cost V_j(S) - u(S) - sigma_j, LB equals the master LP value
(the DW bound, at least as strong as the continuous relaxation).

Branch-and-price: the LP point gives x_ij = sum_{S ni i} lam_jS; branch on the
most fractional pair: x_ij = 1 removes i from every other server's candidate
set K_k, x_ij = 0 removes i from K_j; columns that do not fit a node's
candidate sets get upper bound 0 in the (single, warm-started) HiGHS master.
Nodes are explored best-bound first. Incumbents: the warm start, ``relax``'s pipeline
(:func:`uara.solvers.p1.relax.relax_slot`, whose certified bound and dual prices also start the
root, so price never ends below relax's bound in the same share), integral LP points, an integer
master over all generated columns at the root (HiGHS MIP), and the rounded
LP point (argmax_j x_ij) improved by the exact move/swap local search at
every node. The global bound is the minimum over open nodes.
"""

from __future__ import annotations

import heapq
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from uara.model.allocation import exact_allocation
from uara.errors import SolverError
from uara.model.formulation import SlotData
from uara.model.solution import Status
from uara.solvers.core.column_generation import (BOX_GROW, BOX_SERIOUS, BOX_SHRINK, BoxStep, CGResult, node_end,
                                                 pricing_tolerance)
from uara.solvers.core.local_search import local_search, peak_bytes
from uara.solvers.p1.pricing import Master, price_server, server_items, set_values
from uara.solvers.base import SlotDecision, SolveContext, Solver

#: Cushion subtracted from LB(u) for floating-point rounding: relative to sum |terms|, absolute.
ROUNDING_CUSHION = (1e-11, 1e-12)
#: Softmin temperatures of the relaxation's dual (maximise_dual) behind the first centre: two
#: rounds reach its bound to ~1e-6 relative at half the cost of the default five.
RELAXATION_TEMPERATURES = (1e-3, 1e-5)
#: Above this many usable pairs relax's pipeline gets the whole slot, not WARM_START_SHARE (at 1000x50 and 6 s
#: the master did not finish one round in the other half: results/scale/README.md).
WARM_START_ALONE_PAIRS = 20_000


@dataclass
class PriceOptions:
    """gap: relative gap on I - C at which a node is pruned / the search stops;
    max_nodes: cap on branch-and-price nodes (None = no cap);
    pricing_nodes: cap on search nodes per pricing call (its bound stays valid);
    columns_per_server: columns added per server and iteration;
    max_cg_iterations: cap on column-generation iterations per node;
    root_mip_s: seconds for the integer master over the root's columns (0 = skip);
    local_search: improve rounded LP points by the exact move/swap search;
    smoothing: Wentges weight alpha of the stability centre (0 = price at the LP duals), used when box = 0;
    box: box-step stabilisation, the initial half-width of the box around the centre's prices relative to
    their mean magnitude (0 = Wentges smoothing instead);
    relaxation_start: first centre = the device prices of the continuous relaxation's
    Lagrangian dual (solvers/core/lagrangian.py), so the root bound is never below it;
    pricing_tolerance: share of the column-generation gap the pricing searches may leave open
    (:meth:`BranchAndPrice._pricing_tolerance`; 0 = every search exact)."""

    gap: float = 1e-7
    max_nodes: int | None = None
    pricing_nodes: int | None = 50000
    columns_per_server: int = 8
    max_cg_iterations: int = 1000
    root_mip_s: float = 5.0
    local_search: bool = True
    smoothing: float = 0.5
    box: float = 0.0125
    relaxation_start: bool = True
    pricing_tolerance: float = 0.25


@dataclass(order=True)
class _Node:
    bound: float
    order: int
    cand: np.ndarray = field(compare=False)
    depth: int = field(compare=False, default=0)
    center: np.ndarray | None = field(compare=False, default=None)


class BranchAndPrice:
    """Column generation + branch-and-price for one slot (module docstring). Values of I - C."""

    def __init__(self, sd: SlotData, options: PriceOptions, deadline: float | None):
        self.sd, self.opts, self.deadline = sd, options, deadline
        m, e = sd.num_devices, sd.num_servers
        self.usable = sd.usable & np.isfinite(sd.uplink_s_full) & (sd.uplink_s_full > 0)
        if not self.usable.any(axis=1).all():
            raise SolverError("price: a device has no usable server (no path above the gain floor)")
        self.best_value = np.inf
        self.best_assoc = np.zeros(m, dtype=np.intp)
        self.stats: dict[str, Any] = {"cg_iterations": 0, "pricing_nodes": 0, "pricing_s": 0.0, "lp_s": 0.0,
                                      "columns": 0, "nodes": 0, "incumbent_source": "start"}
        self.master: Master | None = None
        self.m, self.e = m, e
        self.t0 = time.perf_counter()

    # ------------------------------------------------------------ incumbents
    def offer(self, assoc: np.ndarray, source: str, *, search: bool = False) -> None:
        """Score an association (exactly), optionally improve it by local search, keep the best,
        and add its sets as columns."""
        assoc = np.asarray(assoc, dtype=np.intp)
        if search and self.opts.local_search:
            assoc = local_search(self.sd, assoc, deadline=self.deadline).association
        masks = np.zeros((self.e, self.m), dtype=bool)
        masks[assoc, np.arange(self.m)] = True
        values = self.column_values(masks, np.arange(self.e))
        value = float(values.sum())
        if value < self.best_value:
            self.best_value, self.best_assoc = value, assoc.copy()
            self.stats["incumbent_source"] = source
        if self.master is not None:
            nonempty = masks.any(axis=1)
            self.master.add(masks[nonempty], np.arange(self.e)[nonempty], values[nonempty], None)

    def column_values(self, masks: np.ndarray, servers: np.ndarray) -> np.ndarray:
        """V_j(S) for full (M,) masks on their servers (exact allocation)."""
        out = np.zeros(masks.shape[0])
        for j in np.unique(servers):
            rows = np.flatnonzero(servers == j)
            items = server_items(self.sd, int(j), np.ones(self.m, dtype=bool))
            sub = masks[rows][:, items.devices]
            out[rows] = set_values(self.sd, items, sub)
        return out

    # ------------------------------------------------------------ column generation
    def column_generation(self, cand: np.ndarray, bound_in: float, cutoff: float,
                          center: np.ndarray | None = None) -> CGResult:
        """Generate columns at a node with candidate sets ``cand`` (M, E) until no column prices out, the
        Lagrangian bound reaches ``cutoff`` or the restricted master's value (:func:`node_end`: within a tenth of
        the gap, or, early branching, within the distance of the LP below ``cutoff``; ``cutoff`` = inf: neither
        pruning nor early branching), or time runs out.

        Each iteration prices every server at a point u and keeps the best LB(u), its u the stability
        centre (the given ``center`` is priced first: LB(centre) is a floor). With ``box`` > 0 (default)
        u is the master's dual with u boxed around the centre (:meth:`Master.stabilise`); the box shrinks
        by BOX_SHRINK after a step that does not raise LB and grows by BOX_GROW (up to BOX_MAX times its
        start) when nothing prices out there, the plain duals then priced too (nothing there ends CG).
        With ``box`` = 0, Wentges smoothing: u = alpha u_center + (1 - alpha) u_LP, alpha halved (0 below
        0.05) after a mispricing, so CG ends pricing at the LP duals with LB = LP value."""
        master = self.master
        master.restrict(cand)
        items = [server_items(self.sd, j, cand[:, j]) for j in range(self.e)]
        best = bound_in
        best_u = None if center is None else np.asarray(center, dtype=float)
        box = self.opts.box > 0
        alpha = self.opts.smoothing if best_u is not None and not box else 0.0
        step: BoxStep | None = None
        it, converged, exact, tight = 0, False, True, False
        self._cg_times = [0, 0.0, 0.0]  # pricing nodes, pricing s, LP s
        lp_value, lam, art, u_lp = -np.inf, None, None, None
        for it in range(1, self.opts.max_cg_iterations + 1):
            lp_value, lam, art, u_lp, sigma_lp = self._timed_lp()
            sigma = sigma_lp
            x = self.master.cover(lam) if lp_value < cutoff else None  # only an LP below the cutoff needs it
            fractional = x is not None and float(np.minimum(x, 1.0 - x).max()) > 1e-9
            if x is not None and not fractional and art.max(initial=0.0) <= 1e-9:
                # an integral LP point is a partition of value LP: the incumbent at once (until VERSION 9 only at
                # the node's end, so a root whose LP point was the optimum ran to its deadline)
                self.offer(x.argmax(axis=1), "lp")
                if cutoff < np.inf:
                    cutoff = self.best_value - self._gap_abs()  # the node now closes within the gap of its LP value
            end = node_end(best, lp_value, cutoff, self._gap_abs(), self._may_branch(fractional))
            if end is not None:
                converged, exact = end
                break
            if it == 1 and best_u is not None:
                u = best_u  # evaluate the centre itself first: LB(centre) is kept as a floor
            elif box:
                if best_u is None:
                    best_u = u_lp.copy()
                step = step or BoxStep.around(best_u, self.opts.box)
                master.stabilise(best_u, step.width)
                _, _, _, u, sigma = self._timed_lp()
                master.unstabilise()
            else:
                u = u_lp if best_u is None or alpha <= 0 else alpha * best_u + (1.0 - alpha) * u_lp
            atol = self._pricing_tolerance(best, lp_value, tight)
            lb, added, complete = self._price_and_add(items, u, sigma, lp_value, atol)
            if step is not None:
                step.scale(BOX_SERIOUS if lb > best else BOX_SHRINK)
            if lb > best:
                best, best_u = lb, u.copy()
            if added == 0:
                if box:
                    # nothing prices out at the box's (or the centre's) duals: widen the box, and price at
                    # the plain LP duals, where nothing pricing out is the usual end of column generation
                    if step is not None:
                        step.scale(BOX_GROW)
                    lb, added, complete = self._price_and_add(items, u_lp, sigma_lp, lp_value, atol)
                    if lb > best:
                        best, best_u = lb, u_lp.copy()
                elif alpha > 0 and best_u is not None:
                    alpha, added = (alpha * 0.5 if alpha >= 0.1 else 0.0), -1  # a mispricing: smooth less
                if added == 0 and atol > self._pricing_tolerance(best, lp_value, tight=True):
                    tight = True  # a loose search found nothing: certify at the tight tolerance
                elif added == 0:
                    converged, exact = self._nothing_priced_out(complete)
                    break
            if best >= cutoff or (self.deadline is not None and time.perf_counter() >= self.deadline):
                break
        self._record_cg(it)
        return CGResult(best, lp_value, converged, it, lam, art, u_lp if best_u is None else best_u, *self._cg_times,
                        exact)

    def _may_branch(self, fractional: bool) -> Any:
        """For :func:`node_end`'s early branching: whether the LP point has a fractional pair, or None where the
        node may not branch (``max_nodes`` reached)."""
        if self.opts.max_nodes is not None and self.stats["nodes"] >= self.opts.max_nodes:
            return None
        return lambda: fractional

    def _record_cg(self, iterations: int) -> None:
        pnodes, ps, lps = self._cg_times
        for key, v in (("cg_iterations", iterations), ("pricing_nodes", pnodes), ("pricing_s", ps), ("lp_s", lps)):
            self.stats[key] += v
        self.stats["columns"] = self.master.size

    def _nothing_priced_out(self, complete: bool) -> tuple[bool, bool]:
        """(converged, exact) when no column priced out: a pricing cut short by the deadline proves nothing
        (not converged: the node stays open); one cut by its node cap ends the node's column generation
        without proving its LP solved (converged, not exact: an integral LP point then does not close it)."""
        if not complete and self.deadline is not None and time.perf_counter() >= self.deadline:
            return False, False
        return True, complete

    def _timed_lp(self) -> tuple[float, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        t0 = time.perf_counter()
        out = self.master.solve()
        self._cg_times[2] += time.perf_counter() - t0
        return out

    def _gap_abs(self) -> float:
        """The pruning gap in values: ``gap`` (I - C) of the incumbent (0 before there is one)."""
        return self.opts.gap * max(abs(self.best_value), 1e-12) if np.isfinite(self.best_value) else 0.0

    def _pricing_tolerance(self, bound: float, lp_value: float, tight: bool = False) -> float:
        """:func:`uara.solvers.core.column_generation.pricing_tolerance` at the node's gaps (the relaxation's
        bound standing in for LB before the first pricing round)."""
        bound = max(bound, float(self.stats.get("relaxation_bound", -np.inf)))  # before the first LB
        return pricing_tolerance(self.opts.pricing_tolerance, bound, lp_value, self._gap_abs(), self.e, tight)

    def _price_and_add(self, items: list, u: np.ndarray, sigma: np.ndarray, lp_value: float, atol: float = 0.0
                       ) -> tuple[float, int, bool]:
        """Price every server at ``u`` (convexity duals ``sigma``) with tolerance ``atol``: LB(u) (module
        docstring, less the rounding cushion), the number of columns added whose reduced cost at (u, sigma)
        is negative, and whether every server's search finished exactly (else its bound is valid but a
        column may be missing: cut short, or closed within ``atol``)."""
        t0 = time.perf_counter()
        terms = np.zeros(self.e)
        complete = True
        new_masks, new_srv, new_val = [], [], []
        eps = 1e-9 * max(1.0, abs(lp_value))
        for j in range(self.e):
            res = price_server(self.sd, items[j], u, target=float(sigma[j]) - eps,
                               max_nodes=self.opts.pricing_nodes, deadline=self.deadline,
                               max_columns=self.opts.columns_per_server, atol=atol)
            self._cg_times[0] += res.nodes
            complete = complete and res.finished and atol <= 0
            terms[j] = min(0.0, res.lower_bound)
            if res.columns.shape[0]:
                full = np.zeros((res.columns.shape[0], self.m), dtype=bool)
                full[:, items[j].devices] = res.columns
                keep = res.column_values - full @ u - sigma[j] < -eps
                if keep.any():
                    new_masks.append(full[keep])
                    new_srv.append(np.full(int(keep.sum()), j))
                    new_val.append(res.column_values[keep])
        self._cg_times[1] += time.perf_counter() - t0
        lb = float(u.sum() + terms.sum())
        lb -= ROUNDING_CUSHION[0] * float(np.abs(u).sum() + np.abs(terms).sum()) + ROUNDING_CUSHION[1]
        if not new_masks:
            return lb, 0, complete
        return lb, self.master.add(np.vstack(new_masks), np.concatenate(new_srv), np.concatenate(new_val)), complete

    def relaxation_prices(self, dual: Any = None) -> np.ndarray | None:
        """u_i = min_j g_ij at the maximised Lagrangian dual of the continuous relaxation
        (:mod:`uara.solvers.core.lagrangian`). Then V_j(S) - u(S) >= -mu_j - theta_j nu_j^2 for
        every S, so LB(u) >= D: column generation starts at least at the relaxation's bound.
        ``dual``: a DualBound already maximised (the warm start's, :func:`uara.solvers.p1.relax.relax_slot`);
        without one it is maximised here."""
        from uara.solvers.core.lagrangian import maximise_dual, pair_terms, start_from_association, t_max
        from uara.solvers.core.misocp import usable_pairs

        t0 = time.perf_counter()
        pairs = usable_pairs(self.sd)
        if dual is None:
            alloc = exact_allocation(self.sd, self.best_assoc)
            # at most a quarter of the time left
            deadline = None if self.deadline is None else t0 + 0.25 * max(0.0, self.deadline - t0)
            dual = maximise_dual(pairs, start_from_association(pairs, self.best_assoc, alloc.band_price),
                                 temperatures=RELAXATION_TEMPERATURES, deadline=deadline)
            # the relaxation's fractional association (softmin weights), rounded and searched: as `relax` does
            self.offer(np.where(self.usable, dual.x, -1.0).argmax(axis=1), "relaxation", search=True)
        g, _ = pair_terms(pairs, dual.multipliers, t_max(pairs, None))
        u = pairs.to_matrix(g, fill=np.inf).min(axis=1)
        self.stats["relaxation_bound"] = max(dual.bound, float(self.stats.get("relaxation_bound", -np.inf)))
        self.stats["relaxation_s"] = time.perf_counter() - t0
        return u if np.all(np.isfinite(u)) else None

    # ------------------------------------------------------------ branch-and-price
    def _start_master(self, start: np.ndarray) -> None:
        """The master LP seeded with the incumbent's columns and every usable singleton {i} on j."""
        self.offer(start, "start")
        self.master = Master(self.m, self.e, big=2.0 * max(self.best_value, 1.0) + 1.0)
        self.offer(self.best_assoc, "start")
        dev, srv = np.nonzero(self.usable)
        single = np.zeros((dev.size, self.m), dtype=bool)
        single[np.arange(dev.size), dev] = True
        self.master.add(single, srv, self.column_values(single, srv))

    def _root_incumbents(self, node: _Node, cg: CGResult) -> None:
        """At the root: record its statistics, solve the integer master over its columns (``root_mip_s``)
        and, when its column generation did not finish, round and search its LP point."""
        self.stats.update(root_bound=cg.bound, root_lp=cg.lp_value, root_converged=cg.converged,
                          root_time_s=time.perf_counter() - self.t0, root_cg_iterations=cg.iterations)
        if self.opts.root_mip_s > 0:
            limit = self.opts.root_mip_s
            if self.deadline is not None:
                limit = min(limit, self.deadline - time.perf_counter())
            sol = self.master.integer_solution(limit)
            if sol is not None:
                self.offer(self.master.cover(sol[1]).argmax(axis=1), "root-mip", search=True)
        if not cg.converged:
            x = self.master.cover(cg.lam)
            self.offer(np.where(node.cand, x, -1.0).argmax(axis=1), "rounding", search=True)

    def _branch(self, heap: list[_Node], counter: int, node: _Node, bound: float, center: Any, score: np.ndarray) -> int:
        """Branch on the most fractional usable pair (i, j): x_ij = 1 (i only on j) and x_ij = 0. With no
        fractional pair (artificial columns only) raise their cost and retry the node. Returns the next counter."""
        if score.max() <= 1e-9:
            self.master.raise_big()
            heapq.heappush(heap, _Node(bound, counter, node.cand, node.depth, center))
            return counter + 1
        i, j = np.unravel_index(int(np.argmax(score)), score.shape)
        one = node.cand.copy()
        one[i, :] = False
        one[i, j] = True
        zero = node.cand.copy()
        zero[i, j] = False
        for child in (one, zero):
            if child.any(axis=1).all():
                heapq.heappush(heap, _Node(bound, counter, child, node.depth + 1, center))
                counter += 1
        return counter

    def run(self, start: np.ndarray, dual: Any = None, bound: float | None = None) -> tuple[float, bool]:
        """Branch-and-price from the association ``start``; returns (lower bound, proven). ``dual``: the
        relaxation's maximised dual (first centre); ``bound``: a bound on I - C already certified (the
        warm start's), never reported lower."""
        if bound is not None:
            self.stats["relaxation_bound"] = float(bound)
        if self.deadline is not None and time.perf_counter() >= self.deadline:  # no time for the master LP
            self.offer(start, "start")
            return max(0.0, float(self.stats.get("relaxation_bound", 0.0))), False  # I - C >= 0 besides
        self._start_master(start)
        center = self.relaxation_prices(dual) if self.opts.relaxation_start else None
        heap: list[_Node] = [_Node(-np.inf, 0, self.usable.copy(), 0, center)]
        counter, root, proven = 1, True, True
        closed = np.inf  # min bound over nodes closed by the gap test (their true minimum is above it)
        while heap:
            if ((self.deadline is not None and time.perf_counter() >= self.deadline)
                    or (self.opts.max_nodes is not None and self.stats["nodes"] >= self.opts.max_nodes)):
                proven = False
                break
            node = heapq.heappop(heap)
            tol = self.opts.gap * max(self.best_value, 1e-12)
            if node.bound >= self.best_value - tol:
                closed = min(closed, node.bound)
                continue
            self.stats["nodes"] += 1
            full_deadline = self.deadline
            if root and self.deadline is not None:  # keep a tenth of the time for the root's incumbents
                self.deadline = time.perf_counter() + 0.9 * max(0.0, self.deadline - time.perf_counter())
            cg = self.column_generation(node.cand, node.bound, self.best_value - tol, node.center)
            self.deadline = full_deadline
            bound = cg.bound
            if root:
                self._root_incumbents(node, cg)
                root = False
            if bound >= self.best_value - tol:
                closed = min(closed, bound)
                continue
            if not cg.converged:  # out of time (or iterations) inside the node: keep it open
                heapq.heappush(heap, _Node(bound, counter, node.cand, node.depth, cg.u))
                counter += 1
                if self.deadline is not None and time.perf_counter() >= self.deadline:
                    proven = False
                    break
                continue
            x = self.master.cover(cg.lam)
            frac = np.minimum(x, 1.0 - x)
            rounded = np.where(node.cand, x, -1.0).argmax(axis=1)
            if cg.artificial.max(initial=0.0) <= 1e-9 and frac.max() <= 1e-9:
                self.offer(rounded, "lp", search=False)
                if not cg.exact:  # the pricing hit its node cap: only the node's bound is known
                    closed = min(closed, bound)
                continue  # integral LP point: the node is solved (or closed at its bound)
            self.offer(rounded, "rounding", search=True)
            if bound >= self.best_value - self.opts.gap * self.best_value:
                closed = min(closed, bound)
                continue
            counter = self._branch(heap, counter, node, bound, cg.u, np.where(node.cand, frac, -1.0))
        tol = self.opts.gap * max(self.best_value, 1e-12)
        open_bound = min((n.bound for n in heap), default=np.inf)
        lower = min(self.best_value, open_bound, closed)
        # the relaxation's Lagrangian bound holds for the whole problem (a run stopped before the root's column
        # generation still reports it), and I - C >= 0 (every controllable term of I is non-negative)
        lower = max(lower, float(self.stats.get("relaxation_bound", -np.inf)), 0.0)
        proven = proven and not heap or lower >= self.best_value - tol
        self.stats["open_nodes"] = len(heap)
        return lower, proven


class PriceSolver(Solver):
    name = "price"
    description = "column generation + branch-and-price over server subsets (exact pricing, HiGHS master): certified gap, proves optimality"
    requires: ClassVar[tuple[str, ...]] = ("highspy", "scipy")
    extra: ClassVar[str | None] = "price"
    EXACT = True
    PROVIDES_BOUND = True
    Options: ClassVar[type] = PriceOptions
    VERSION = 9  # 9: early branching (a node whose LP lies below the cutoff ends its column generation once LP - LB <= cutoff - LP); 8: pricing searches close nodes within a tolerance tied to the column-generation gap (tight before convergence is claimed), the node bound refines its band price in four linear grids and stops at the incumbent, the set values start at the node's band price, the box grows after a serious step; 7: relax alone above WARM_START_ALONE_PAIRS; no convergence claimed from a pricing cut short; the pricing search evaluates each band price once per server and node (1.6x faster, the same bounds); 6: box-step stabilisation of the column generation; 5: relax's pipeline as the warm start, its dual as the first centre; 2: every step within the slot's share of the run's time limit; 3: warm-started band prices in the search; 4: the warm start within half the slot, no master built after the deadline
    CORE = ("column_generation", "lagrangian", "local_search", "misocp")

    def memory_estimate_bytes(self, num_devices: int, num_servers: int) -> float:
        """The move/swap search's peak (:func:`uara.solvers.core.local_search.peak_bytes`)."""
        return peak_bytes(num_devices, num_servers)

    #: (options, test, what they must be) checked by :meth:`check_options`
    CHECKS: ClassVar[tuple] = ((("max_cg_iterations", "columns_per_server"), lambda v: v >= 1, ">= 1"),
                               (("max_nodes", "pricing_nodes"), lambda v: v is None or v >= 1, ">= 1"),
                               (("root_mip_s", "box", "gap"), lambda v: v >= 0, ">= 0"),
                               (("smoothing", "pricing_tolerance"), lambda v: 0 <= v < 1, "in [0, 1)"))

    def check_options(self) -> None:
        for names, ok, what in self.CHECKS:
            for name in names:
                if not ok(v := getattr(self.options, name)):
                    raise SolverError(f"solver 'price': option {name} must be {what}, got {v}")

    def solve_slot(self, sd: SlotData, ctx: SolveContext) -> SlotDecision:
        from uara.solvers.p1.exact import WARM_START_SHARE
        from uara.solvers.p1.relax import relax_slot, warm_start_options

        t0 = time.perf_counter()
        bp = BranchAndPrice(sd, self.options, ctx.deadline)
        share = WARM_START_SHARE if int(bp.usable.sum()) <= WARM_START_ALONE_PAIRS else 1.0
        ws = relax_slot(sd, ctx.with_share(share), warm_start_options())
        return self.solve_from(sd, ctx, ws, bp, t0)

    def solve_from(self, sd: SlotData, ctx: SolveContext, ws: Any, bp: BranchAndPrice | None = None,
                   t0: float | None = None) -> SlotDecision:
        """Branch-and-price in what is left of the slot, from relax's outcome ``ws`` (:class:`RelaxOutcome`: its
        association, maximised dual and certified bound; ``relax-dw`` passes the one it already has)."""
        t0 = time.perf_counter() if t0 is None else t0
        deadline = ctx.deadline
        bp = BranchAndPrice(sd, self.options, deadline) if bp is None else bp
        bp.stats["warm_start_s"] = time.perf_counter() - t0
        lower, proven = bp.run(ws.association, ws.dual, ws.lower_bound - sd.constant)
        alloc = exact_allocation(sd, bp.best_assoc)
        status = Status.OPTIMAL if proven else (Status.TIME_LIMIT if deadline is not None and time.perf_counter() >= deadline
                                                 else Status.ITERATION_LIMIT)
        info = {k: (float(v) if isinstance(v, (np.floating,)) else v) for k, v in bp.stats.items()}
        info["solve_time_s"] = time.perf_counter() - t0
        bound = sd.constant + lower if np.isfinite(lower) else None
        ctx.record(sd.constant + bp.best_value, bound)
        return SlotDecision(bp.best_assoc, alloc.bandwidth_share, alloc.compute_share, status=status,
                          lower_bound=bound, info=info)
