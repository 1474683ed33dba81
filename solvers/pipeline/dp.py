"""``pipeline-dp``: closed-form bandwidth (:func:`uara.model.pipeline.sequential_shares`) and a dynamic
program over contiguous batches of the users sorted by expected rounds, with the best speculation
length and micro-batch count per batch. Exact on that decision space (docs/pipeline.md, "Why the DP
is exact"): C_m = max(C_{m-1}, rho_m) + T_m grows with every T_n, so each batch takes its own
shortest (gamma, micro-batches); with the sum objective a prefix is kept as the Pareto front of
(C_j, cost_j), with the makespan as min C_j.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from uara.model.pipeline.schedule import ServingDecision
from uara.model.solution import Status
from uara.model.pipeline.serving_instance import PipelineInstance
from uara.model.pipeline.serving_latency import user_terms
from uara.solvers.pipeline.ordering import OrderedTerms, decision_from_cuts, user_order
from uara.solvers.pipeline.serving_base import PipelineSolver

#: (K + 1) x (K + 1) tables the DP holds at once (durations, lengths, micro-batches, and the
#: temporaries of one row), 8 bytes each: the memory estimate of a run
DP_TABLES = 4


class DeadlineReached(Exception):
    """The DP ran out of time; ``cuts``: the best complete schedule known by then (None: none yet)."""

    def __init__(self, cuts: list[tuple[int, int, int, int]] | None):
        super().__init__("deadline")
        self.cuts = cuts


def _check_deadline(deadline: float | None, cuts: list[tuple[int, int, int, int]] | None) -> None:
    if deadline is not None and time.perf_counter() > deadline:
        raise DeadlineReached(cuts)


class PipelineDPSolver(PipelineSolver):
    """Closed-form bandwidth + DP over contiguous batches (module docstring)."""

    name = "pipeline-dp"
    description = "pipelined serving: closed-form bandwidth + DP over batches and speculation length (Zhu et al.)"

    def solve_schedule(self, inst: PipelineInstance, deadline: float | None) -> tuple[ServingDecision, dict[str, Any]]:
        o = self.options
        lengths = self.lengths(inst)
        order = user_order(inst, o.order)
        ot = OrderedTerms(inst, order, user_terms(inst), lengths)
        k = inst.num_users
        info: dict[str, Any] = {
            "exact_over": ("one batch of all users" if o.one_batch else f"contiguous batches in '{o.order}' order")
                          + f", {o.bandwidth} bandwidth, lengths {lengths}, "
                          + ("1 or 2 micro-batches" if o.pipelining else "1 micro-batch")}
        try:
            cuts = (_one_batch(ot, k, lengths, o.pipelining) if o.one_batch
                    else pareto_dp(ot, k, lengths, o.pipelining, o.bandwidth, inst.objective, deadline))
        except DeadlineReached as stop:  # the best schedule known, or all users in one batch
            cuts = stop.cuts or _one_batch(ot, k, lengths, o.pipelining)
            info.update(status=Status.TIME_LIMIT, stopped="time limit reached before the DP finished; "
                        + ("the relaxed-tail schedule" if stop.cuts else "one batch of all users") + " returned")
        return decision_from_cuts(inst, order, cuts, o.bandwidth), info

    def memory_estimate_users(self, num_users: int) -> float:
        """Bytes: DP_TABLES (K + 1)^2 tables of 8 bytes (one batch: a few arrays of K)."""
        if self.options.one_batch:
            return 512.0 * (num_users + 1)
        return DP_TABLES * 8.0 * (num_users + 1) ** 2


def _one_batch(ot: OrderedTerms, k: int, lengths: list[int], pipelining: bool) -> list[tuple[int, int, int, int]]:
    """All users in one batch at its best (gamma, micro-batches)."""
    _, g, s = ot.best_durations(k, lengths, pipelining)
    return [(0, k, int(g[0]), int(s[0]))]


def pareto_dp(ot: OrderedTerms, k: int, lengths: list[int], pipelining: bool, bandwidth: str,
              objective: str, deadline: float | None = None) -> list[tuple[int, int, int, int]]:
    """Forward DP over prefixes j = 1..k; a state is a prefix's (C_j, cost_j), kept Pareto-minimal
    (minimal C_j alone for the makespan). Returns the cuts (i, j, gamma, split) of the best schedule.

    Exact: the cost still to come after prefix j depends on the past only through C_j and grows with
    it, so a state with larger-or-equal C_j and cost_j than another can be dropped. States are also
    dropped when even the bound of :func:`_relaxed_tail` (uploads ignored) cannot bring them below the
    best complete schedule known, which keeps the fronts small where uploads do not delay batches."""
    t_tab = np.full((k + 1, k + 1), np.inf)
    g_tab = np.zeros((k + 1, k + 1), dtype=np.int64)
    s_tab = np.ones((k + 1, k + 1), dtype=np.int64)
    for js in _blocks(k):
        _check_deadline(deadline, None)
        for j, (t, g, s) in zip(js, ot.best_durations_block(js, lengths, pipelining)):
            t_tab[:j, j], g_tab[:j, j], s_tab[:j, j] = t, g, s
    rho_tab = [ot.ready(j, bandwidth) for j in range(k + 1)]
    tail, tail_next = _relaxed_tail(t_tab, k, objective)
    tail_cuts = _cuts_from_tail(tail_next, k)
    fallback = [(i, j, int(g_tab[i, j]), int(s_tab[i, j])) for i, j in tail_cuts]
    best = _schedule_cost(tail_cuts, t_tab, rho_tab, objective)
    pts_c, pts_cost = np.zeros(1), np.zeros(1)
    pts_j, pts_prev = np.zeros(1, dtype=np.int64), np.full(1, -1, dtype=np.int64)
    for j in range(1, k + 1):
        _check_deadline(deadline, fallback)
        i = pts_j
        c = np.maximum(pts_c, rho_tab[j][i]) + t_tab[i, j]
        cost = c if objective == "makespan" else pts_cost + (j - i) * c
        promising = _lower_bound(cost, c, k - j, tail[j], objective) <= best * (1 + 1e-12)
        keep = np.flatnonzero(promising)[_pareto(c[promising], cost[promising])]
        pts_c, pts_cost = np.concatenate([pts_c, c[keep]]), np.concatenate([pts_cost, cost[keep]])
        pts_j = np.concatenate([pts_j, np.full(keep.size, j)])
        pts_prev = np.concatenate([pts_prev, keep])
    finals = np.flatnonzero(pts_j == k)
    p = int(finals[np.lexsort((pts_c[finals], pts_cost[finals]))[0]])
    cuts = []
    while pts_prev[p] >= 0:
        prev = int(pts_prev[p])
        i, j = int(pts_j[prev]), int(pts_j[p])
        cuts.append((i, j, int(g_tab[i, j]), int(s_tab[i, j])))
        p = prev
    return cuts[::-1]


#: pairs (i, j) per vectorised call when filling the duration table (about 30 MB of temporaries)
BLOCK_PAIRS = 1 << 16


def _blocks(k: int) -> list[range]:
    """j = 1..k in consecutive ranges holding at most BLOCK_PAIRS pairs (i < j) each (at least one j)."""
    out, start, pairs = [], 1, 0
    for j in range(1, k + 1):
        if pairs and pairs + j > BLOCK_PAIRS:
            out.append(range(start, j))
            start, pairs = j, 0
        pairs += j
    out.append(range(start, k + 1))
    return out


def _relaxed_tail(t_tab: np.ndarray, k: int, objective: str) -> tuple[np.ndarray, np.ndarray]:
    """W(i): the least cost users order[i:] add when no batch waits for its uploads (a lower bound,
    as max(C, rho) >= C): W(i) = min_j T(i, j) (K - i) + W(j) for the sum, min_j T(i, j) + W(j) for the
    makespan; and the j that attains it."""
    tail, nxt = np.zeros(k + 1), np.full(k + 1, k, dtype=np.int64)
    for i in range(k - 1, -1, -1):
        weight = (k - i) if objective == "sum" else 1.0
        vals = t_tab[i, i + 1:] * weight + tail[i + 1:]
        q = int(np.argmin(vals))
        tail[i], nxt[i] = vals[q], i + 1 + q
    return tail, nxt


def _cuts_from_tail(nxt: np.ndarray, k: int) -> list[tuple[int, int]]:
    cuts, i = [], 0
    while i < k:
        cuts.append((i, int(nxt[i])))
        i = int(nxt[i])
    return cuts


def _schedule_cost(cuts: list[tuple[int, int]], t_tab: np.ndarray, rho_tab: list, objective: str) -> float:
    """The true objective (uploads included, before l_d) of contiguous batches: an upper bound for the DP."""
    clock, cost = 0.0, 0.0
    for i, j in cuts:
        clock = max(clock, float(rho_tab[j][i])) + float(t_tab[i, j])
        cost += (j - i) * clock
    return cost if objective == "sum" else clock


def _lower_bound(cost: np.ndarray, c: np.ndarray, users_left: int, tail: float, objective: str) -> np.ndarray:
    """Least final objective a state (C_j, cost_j) can reach: cost_j + (K - j) C_j + W(j), or C_j + W(j)."""
    if objective != "sum":
        return c + tail
    return cost + (users_left * c if users_left else 0.0) + tail  # 0 * inf (a batch that does not fit) is 0


def _pareto(c: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """Indices of the points not dominated in (c, cost), both minimised (one per tie), ascending c."""
    idx = np.lexsort((cost, c))
    sorted_cost = cost[idx]
    before = np.concatenate([[np.inf], np.minimum.accumulate(sorted_cost)[:-1]])
    return idx[sorted_cost < before * (1 - 1e-12)]
