"""Back-ends of the pipelined serving problem (docs/pipeline.md), in the same registry as P1's.

- ``pipeline-dp``: closed-form bandwidth (:func:`uara.model.pipeline.sequential_shares`) and a dynamic
  program over contiguous batches of the users sorted by expected rounds, with the best speculation
  length and micro-batch count per batch. Exact on that decision space (docs/pipeline.md, "Why the DP
  is exact"): C_m = max(C_{m-1}, rho_m) + T_m grows with every T_n, so each batch takes its own
  shortest (gamma, micro-batches); with the sum objective a prefix is kept as the Pareto front of
  (C_j, cost_j), with the makespan as min C_j.
- ``pipeline-brute-force``: every composition of the same order (``space=contiguous``, 2^(K-1)) or
  every ordered set partition (``space=all``, Fubini-many; optimal over the whole model, proven).
- benchmarks ``pipeline-uniform`` (uniform FDMA shares, one batch of all users, fixed gamma) and
  ``pipeline-ad`` (autoregressive serving: the DP with gamma = 0 only); ablations
  ``pipeline-max-batch`` (closed-form bandwidth, one batch), ``pipeline-dp-uniform`` (the DP under
  uniform shares), ``pipeline-fixed-length`` (the DP at one gamma), ``pipeline-no-overlap`` (the DP
  without micro-batch pipelining).

Every result is re-scored by :func:`uara.model.pipeline.evaluate_schedule` (the driver), as for P1.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import time
from dataclasses import dataclass
from typing import Any, Callable, ClassVar

import numpy as np

from uara.errors import SolverError
from uara.model.pipeline.schedule import (ServingDecision, evaluate_schedule, sequential_shares, uniform_shares)
from uara.model.pipeline.serving_instance import PipelineInstance
from uara.model.pipeline.serving_latency import (MicroSums, UserTerms, batch_duration_s, first_micro_batch_size,
                                                 rounds_needed, single_batch_duration_s, tokens_per_round, user_terms)
from uara.model.pipeline.serving_solution import ServingSolution
from uara.model.solution import Status
from uara.solvers.base import Solver, check_seed

BANDWIDTHS = ("closed-form", "uniform")
ORDERS = ("rounds", "output", "index")


@dataclass
class PipelineOptions:
    """Options of the DP family (``uara solvers --options pipeline-dp``).

    bandwidth: ``closed-form`` (sequential, optimal for any batching) or ``uniform`` (y_k = 1/K, FDMA).
    lengths: candidate speculation lengths, e.g. ``"0,2,4"`` (default: the instance's).
    pipelining: allow two micro-batches per batch (draft one while the other is verified).
    one_batch: serve all users as one batch (max batching).
    order: the order batches are contiguous in: ``rounds`` (ascending O_k / E_k), ``output``, ``index``.
    """

    bandwidth: str = "closed-form"
    lengths: str | None = None
    pipelining: bool = True
    one_batch: bool = False
    order: str = "rounds"


class PipelineSolver(Solver):
    """Base of the pipeline back-ends: :meth:`solve` takes a :class:`PipelineInstance`."""

    PROBLEM: ClassVar[str] = "pipeline"
    PRESET: ClassVar[dict[str, Any]] = {}
    Options: ClassVar[type] = PipelineOptions

    def __init__(self, **options: Any):
        super().__init__(**{**self.PRESET, **options})

    def check_options(self) -> None:
        o = self.options
        if getattr(o, "bandwidth", "closed-form") not in BANDWIDTHS:
            raise SolverError(f"solver '{self.name}': option 'bandwidth' expects one of {', '.join(BANDWIDTHS)}, got {o.bandwidth!r}")
        if getattr(o, "order", "rounds") not in ORDERS:
            raise SolverError(f"solver '{self.name}': option 'order' expects one of {', '.join(ORDERS)}, got {o.order!r}")
        if getattr(o, "lengths", None) is not None:
            parse_lengths(o.lengths, self.name)

    def lengths(self, inst: PipelineInstance) -> list[int]:
        raw = getattr(self.options, "lengths", None)
        if raw is None:
            return list(inst.speculation_lengths)
        g = parse_lengths(raw, self.name)
        bad = [v for v in g if v not in inst.speculation_lengths]
        if bad:
            raise SolverError(f"solver '{self.name}': speculation length {bad[0]} is not a candidate of the instance "
                              f"({list(inst.speculation_lengths)})")
        return g

    def solve_schedule(self, inst: PipelineInstance, deadline: float | None) -> tuple[ServingDecision, dict[str, Any]]:  # pragma: no cover
        raise NotImplementedError

    def solve(self, instance: Any, *, time_limit: float | None = None, seed: int = 0, threads: int = 1,
              slots: Any = None, log: Callable[[str], None] | None = None) -> ServingSolution:  # type: ignore[override]
        """Solve and re-score; the status claims optimality only with a matching proven bound."""
        if not isinstance(instance, PipelineInstance):
            raise SolverError(f"solver '{self.name}' solves pipeline instances (uara-pipeline-instance/1), "
                              f"not {type(instance).__name__}")
        if time_limit is not None and not (isinstance(time_limit, (int, float)) and math.isfinite(time_limit) and time_limit > 0):
            raise SolverError(f"--time-limit must be positive seconds, got {time_limit}")
        check_seed(seed)
        start = time.perf_counter()
        deadline = None if time_limit is None else start + float(time_limit)
        dec, info = self.solve_schedule(instance, deadline)
        ev = evaluate_schedule(instance, dec)
        status, bound = info.pop("status", Status.FEASIBLE), info.pop("lower_bound_s", None)
        if ev.violations:
            status, bound = Status.ERROR, None
            info["error"] = f"solver returned infeasible decisions: {ev.violations[0]}"
        elif bound is not None and bound > ev.objective_s * (1 + 1e-9):
            info["warning"] = f"claimed bound {bound} exceeds the incumbent {ev.objective_s}; bound dropped"
            bound = None
        if status == Status.OPTIMAL and (bound is None or ev.objective_s - bound > 1e-9 * max(1.0, ev.objective_s)):
            status = Status.FEASIBLE
        wall = time.perf_counter() - start
        if log is not None:
            log(f"{self.name}: objective {ev.objective_s:.10g} s, {len(dec.batches)} batches, {status.value}, {wall:.3f} s")
        return ServingSolution(instance=instance.name, instance_fingerprint=instance.fingerprint(), solver=self.name,
                               status=status, decision=dec, evaluation=ev, wall_time_s=wall,
                               options=dataclasses.asdict(self.options), seed=seed, lower_bound_s=bound, info=info)


def parse_lengths(raw: str, solver: str) -> list[int]:
    try:
        g = sorted({int(v) for v in str(raw).split(",") if v.strip()})
    except ValueError:
        raise SolverError(f"solver '{solver}': option 'lengths' expects comma-separated integers, got {raw!r}") from None
    if not g or g[0] < 0:
        raise SolverError(f"solver '{solver}': option 'lengths' expects integers >= 0, got {raw!r}")
    return g


def user_order(inst: PipelineInstance, how: str) -> np.ndarray:
    """The order contiguous batches follow: ascending expected rounds O_k / E_k at the middle positive
    candidate length (ties: shorter upload first), ascending O_k, or the users' index order."""
    k = np.arange(inst.num_users)
    if how == "index":
        return k
    upload = inst.upload_s_full_band
    if how == "output":
        return np.lexsort((k, upload, inst.output_tokens))
    positive = [g for g in inst.speculation_lengths if g > 0]
    g_ref = positive[len(positive) // 2] if positive else 0
    work = inst.output_tokens / tokens_per_round(inst.alpha, g_ref)
    return np.lexsort((k, upload, work))


class OrderedTerms:
    """Prefix sums over users in a fixed order, so a contiguous batch's sums cost O(1)."""

    def __init__(self, inst: PipelineInstance, order: np.ndarray, terms: UserTerms, lengths: list[int]):
        self.inst, self.order, self.terms = inst, order, terms

        def cs(a: np.ndarray) -> np.ndarray:
            return np.concatenate([[0.0], np.cumsum(np.asarray(a, float)[order])])

        self.df, self.tf = cs(terms.draft_flops), cs(terms.target_flops)
        self.dpf, self.tpf = cs(terms.draft_prefill_flops), cs(terms.target_prefill_flops)
        self.prompt, self.output = cs(terms.prompt_tokens), cs(terms.output_tokens)
        d_over_r = inst.upload_s_full_band
        self.upload_prefix = cs(d_over_r)
        self.upload_uniform = (d_over_r * inst.num_users)[order]
        self.rounds = {g: rounds_needed(inst.output_tokens[order], inst.alpha[order], g) for g in lengths}

    def _micro(self, lo: np.ndarray, hi: np.ndarray, padded: np.ndarray) -> MicroSums:
        return MicroSums(size=(hi - lo).astype(float), padded=padded.astype(float),
                         draft_flops=self.df[hi] - self.df[lo], target_flops=self.tf[hi] - self.tf[lo],
                         draft_prefill_flops=self.dpf[hi] - self.dpf[lo])

    def durations(self, j: int, gamma: int, split: int) -> np.ndarray:
        """T of the batches order[i:j], i = 0..j-1, at (gamma, split); inf where the pair is not allowed."""
        i = np.arange(j)
        n = j - i
        jj = np.full(j, j)
        rounds = np.maximum.accumulate(self.rounds[gamma][:j][::-1])[::-1]
        if split == 1:
            micro = [self._micro(i, jj, n)]
        else:
            h = first_micro_batch_size(n)
            micro = [self._micro(i, i + h, h), self._micro(i + h, jj, h)]
        t = batch_duration_s(self.inst, gamma, rounds, micro, self.tpf[j] - self.tpf[i],
                             self.prompt[j] - self.prompt[i], self.output[j] - self.output[i])
        if split == 2:
            t = np.where(n >= 2, t, np.inf)
        return t

    def best_durations(self, j: int, lengths: list[int], pipelining: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """min over (gamma, split) of T for every batch order[i:j]; with the argmin gamma and split."""
        best = np.full(j, np.inf)
        g_best, s_best = np.zeros(j, dtype=np.int64), np.ones(j, dtype=np.int64)
        for g in lengths:
            for s in ((1, 2) if pipelining and g > 0 else (1,)):
                t = self.durations(j, g, s)
                better = t < best
                best = np.where(better, t, best)
                g_best, s_best = np.where(better, g, g_best), np.where(better, s, s_best)
        return best, g_best, s_best

    def ready(self, j: int, bandwidth: str) -> np.ndarray:
        """rho of the batch order[i:j] for i = 0..j-1: sum of d/r up to j (closed form) or max K d/r (uniform)."""
        if bandwidth == "closed-form":
            return np.full(j, self.upload_prefix[j])
        return np.maximum.accumulate(self.upload_uniform[:j][::-1])[::-1]


def decision_from_cuts(inst: PipelineInstance, order: np.ndarray, cuts: list[tuple[int, int, int, int]],
                       bandwidth: str) -> ServingDecision:
    """A decision from contiguous batches (i, j, gamma, split) of ``order``."""
    batches = [[int(u) for u in order[i:j]] for i, j, _, _ in cuts]
    shares = sequential_shares(inst, batches) if bandwidth == "closed-form" else uniform_shares(inst)
    return ServingDecision(batches=batches, speculation_length=[int(g) for _, _, g, _ in cuts],
                           micro_batches=[int(s) for _, _, _, s in cuts], shares=shares,
                           bandwidth_mode="sequential" if bandwidth == "closed-form" else "static")


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
        if o.one_batch:
            t, g, s = ot.best_durations(k, lengths, o.pipelining)
            cuts = [(0, k, int(g[0]), int(s[0]))]
        else:
            cuts = pareto_dp(ot, k, lengths, o.pipelining, o.bandwidth, inst.objective)
        return decision_from_cuts(inst, order, cuts, o.bandwidth), {
            "exact_over": ("one batch of all users" if o.one_batch else f"contiguous batches in '{o.order}' order")
                          + f", {o.bandwidth} bandwidth, lengths {lengths}, "
                          + ("1 or 2 micro-batches" if o.pipelining else "1 micro-batch")}


def pareto_dp(ot: OrderedTerms, k: int, lengths: list[int], pipelining: bool, bandwidth: str,
              objective: str) -> list[tuple[int, int, int, int]]:
    """Forward DP over prefixes j = 1..k; a state is a prefix's (C_j, cost_j), kept Pareto-minimal
    (minimal C_j alone for the makespan). Returns the cuts (i, j, gamma, split) of the best schedule.

    Exact: the cost still to come after prefix j depends on the past only through C_j and grows with
    it, so a state with larger-or-equal C_j and cost_j than another can be dropped. States are also
    dropped when even the bound of :func:`_relaxed_tail` (uploads ignored) cannot bring them below the
    best complete schedule known, which keeps the fronts small where uploads do not delay batches."""
    t_tab = np.full((k + 1, k + 1), np.inf)
    g_tab = np.zeros((k + 1, k + 1), dtype=np.int64)
    s_tab = np.ones((k + 1, k + 1), dtype=np.int64)
    for j in range(1, k + 1):
        t_tab[:j, j], g_tab[:j, j], s_tab[:j, j] = ot.best_durations(j, lengths, pipelining)
    rho_tab = [ot.ready(j, bandwidth) for j in range(k + 1)]
    tail, tail_next = _relaxed_tail(t_tab, k, objective)
    best = _schedule_cost(_cuts_from_tail(tail_next, k), t_tab, rho_tab, objective)
    pts_c, pts_cost = np.zeros(1), np.zeros(1)
    pts_j, pts_prev = np.zeros(1, dtype=np.int64), np.full(1, -1, dtype=np.int64)
    for j in range(1, k + 1):
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
    return cost + users_left * c + tail if objective == "sum" else c + tail


def _pareto(c: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """Indices of the points not dominated in (c, cost), both minimised (one per tie), ascending c."""
    idx = np.lexsort((cost, c))
    sorted_cost = cost[idx]
    before = np.concatenate([[np.inf], np.minimum.accumulate(sorted_cost)[:-1]])
    return idx[sorted_cost < before * (1 - 1e-12)]


class PipelineBruteForceSolver(PipelineSolver):
    """Exhaustive search: compositions of the DP's order, or every ordered set partition (``space=all``)."""

    name = "pipeline-brute-force"
    description = "pipelined serving: exhaustive batches (contiguous in the DP's order, or all ordered partitions)"
    EXACT = True
    PROVIDES_BOUND = True

    @dataclass
    class Options(PipelineOptions):
        """space: ``contiguous`` (the DP's decision space) or ``all`` (every ordered set partition).
        max_users: refuse larger instances (the count grows as 2^(K-1) or the Fubini numbers)."""

        space: str = "contiguous"
        max_users: int = 10

    def check_options(self) -> None:
        super().check_options()
        if self.options.space not in ("contiguous", "all"):
            raise SolverError(f"solver '{self.name}': option 'space' expects contiguous or all, got {self.options.space!r}")

    def solve_schedule(self, inst: PipelineInstance, deadline: float | None) -> tuple[ServingDecision, dict[str, Any]]:
        o = self.options
        k = inst.num_users
        if k > o.max_users:
            raise SolverError(f"solver '{self.name}' enumerates all batchings: {k} users is more than max_users = "
                              f"{o.max_users} (use pipeline-dp)")
        lengths = self.lengths(inst)
        order = user_order(inst, o.order)
        terms = user_terms(inst)
        table = _subset_table(inst, terms, order, lengths, o.pipelining, contiguous=o.space == "contiguous")
        best = _enumerate(inst, order, table, inst.upload_s_full_band, o, deadline)
        info: dict[str, Any] = {"evaluated": best["count"], "space": o.space}
        if best["timed_out"]:
            info["status"] = Status.TIME_LIMIT
        elif o.space == "all" and o.bandwidth == "closed-form" and o.pipelining and o.lengths is None:
            tail = inst.link.downlink_latency_s * (inst.num_users if inst.objective == "sum" else 1)
            info["status"], info["lower_bound_s"] = Status.OPTIMAL, best["cost"] + tail
        batches = best["batches"]
        cuts_g = [table[b][1] for b in batches]
        cuts_s = [table[b][2] for b in batches]
        members = [[int(u) for u in b] for b in batches]
        shares = sequential_shares(inst, members) if o.bandwidth == "closed-form" else uniform_shares(inst)
        dec = ServingDecision(batches=members, speculation_length=cuts_g, micro_batches=cuts_s, shares=shares,
                              bandwidth_mode="sequential" if o.bandwidth == "closed-form" else "static")
        return dec, info


def _subset_table(inst: PipelineInstance, terms: UserTerms, order: np.ndarray, lengths: list[int], pipelining: bool,
                  *, contiguous: bool) -> dict[tuple[int, ...], tuple[float, int, int]]:
    """Best (T, gamma, split) of every batch the enumeration can form (members in ``order``'s order)."""
    k = len(order)
    order = [int(u) for u in order]
    if contiguous:
        groups = [tuple(order[i:j]) for i in range(k) for j in range(i + 1, k + 1)]
    else:
        rank = {u: p for p, u in enumerate(order)}
        groups = [tuple(sorted(c, key=lambda u: rank[u])) for r in range(1, k + 1)
                  for c in itertools.combinations(range(k), r)]
    table = {}
    for grp in groups:
        best = (np.inf, 0, 1)
        for g in lengths:
            for s in ((1, 2) if pipelining and g > 0 and len(grp) >= 2 else (1,)):
                t = single_batch_duration_s(inst, terms, np.asarray(grp), g, s)
                if t < best[0]:
                    best = (t, g, s)
        table[grp] = best
    return table


def _enumerate(inst: PipelineInstance, order: np.ndarray, table: dict, d_over_r: np.ndarray, o: Any,
               deadline: float | None) -> dict[str, Any]:
    """Walk every batching (depth first: the next batch is any allowed group of the users left)."""
    k = inst.num_users
    rank = {int(u): p for p, u in enumerate(order)}
    state = {"cost": np.inf, "batches": None, "count": 0, "timed_out": False}
    sum_obj = inst.objective == "sum"

    def ready(grp: tuple, upload_done: float) -> tuple[float, float]:
        if o.bandwidth == "closed-form":
            done = upload_done + float(d_over_r[list(grp)].sum())
            return done, done
        return float((d_over_r[list(grp)] * k).max()), upload_done

    def walk(left: tuple, clock: float, upload_done: float, cost: float, chosen: list) -> None:
        if state["timed_out"]:
            return
        if not left:
            state["count"] += 1
            total = cost if sum_obj else clock
            if total < state["cost"]:
                state["cost"], state["batches"] = total, list(chosen)
            if deadline is not None and state["count"] % 4096 == 0 and time.perf_counter() > deadline:
                state["timed_out"] = True
            return
        if o.space == "contiguous":
            options = [left[:n] for n in range(1, len(left) + 1)]
        else:
            options = [c for r in range(1, len(left) + 1) for c in itertools.combinations(left, r)]
        for grp in options:
            rho, up2 = ready(grp, upload_done)
            c = max(clock, rho) + table[grp][0]
            rest = tuple(u for u in left if u not in grp)
            chosen.append(grp)
            walk(rest, c, up2, cost + len(grp) * c, chosen)
            chosen.pop()

    walk(tuple(sorted(range(k), key=lambda u: rank[u])), 0.0, 0.0, 0.0, [])
    return state


class PipelineUniformSolver(PipelineSolver):
    """The benchmark: uniform bandwidth, one batch of all users, one fixed speculation length."""

    name = "pipeline-uniform"
    description = "pipelined serving benchmark: uniform bandwidth, one batch of all users, fixed speculation length"

    @dataclass
    class Options:
        """length: the fixed speculation length (must be a candidate of the instance);
        micro_batches: 2 = the pipelined framework with uniform allocation, 1 = no overlap."""

        length: int = 4
        micro_batches: int = 2

    def check_options(self) -> None:
        if self.options.length < 0 or self.options.micro_batches not in (1, 2):
            raise SolverError(f"solver '{self.name}': need length >= 0 and micro_batches 1 or 2")

    def solve_schedule(self, inst: PipelineInstance, deadline: float | None) -> tuple[ServingDecision, dict[str, Any]]:
        g = self.options.length
        if g not in inst.speculation_lengths:
            raise SolverError(f"solver '{self.name}': length {g} is not a candidate of the instance "
                              f"({list(inst.speculation_lengths)}); pass -o length=N")
        split = self.options.micro_batches if (inst.num_users >= 2 and g > 0) else 1
        return ServingDecision(batches=[list(range(inst.num_users))], speculation_length=[g], micro_batches=[split],
                               shares=uniform_shares(inst), bandwidth_mode="static"), {}


class PipelineADSolver(PipelineDPSolver):
    """Autoregressive serving: the target alone on the MBS (gamma = 0), batches by the DP."""

    name = "pipeline-ad"
    description = "pipelined serving benchmark: autoregressive decoding on the MBS (DP over batches, gamma = 0)"
    PRESET = {"lengths": "0"}


class PipelineMaxBatchSolver(PipelineDPSolver):
    name = "pipeline-max-batch"
    description = "ablation: closed-form bandwidth, one batch of all users (max batching), best gamma"
    PRESET = {"one_batch": True}


class PipelineDPUniformSolver(PipelineDPSolver):
    name = "pipeline-dp-uniform"
    description = "ablation: the DP over batches and gamma under uniform bandwidth shares"
    PRESET = {"bandwidth": "uniform"}


class PipelineFixedLengthSolver(PipelineDPSolver):
    name = "pipeline-fixed-length"
    description = "ablation: closed-form bandwidth and DP batching at one speculation length (default 4)"
    PRESET = {"lengths": "4"}


class PipelineNoOverlapSolver(PipelineDPSolver):
    name = "pipeline-no-overlap"
    description = "ablation: the DP without micro-batch pipelining (draft and verify of a batch never overlap)"
    PRESET = {"pipelining": False}
