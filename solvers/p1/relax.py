"""``relax``: the continuous relaxation of the MISOCP, a certified lower bound,
rounding, and an exact move/swap local search.

1. Relaxation: the MISOCP of :mod:`uara.solvers.core.misocp` with x in [0, 1],
   an SOCP built in cvxpy with vectorised constraints over the P usable pairs
   (Clarabel by default; ECOS or SCS selectable), or, with ``solver="lagrangian"``,
   no conic solver at all: its Lagrangian dual maximised directly.
2. Certified bound: LB = C + D(mu, theta, nu) - cushion, the Lagrangian dual of
   :mod:`uara.solvers.core.lagrangian` evaluated in closed form at multipliers taken
   from the conic solver's duals (band prices, the multiplier of U >= sum s x,
   the compute levels v_j) or from the Max-SINR allocation, whichever is higher,
   then raised by L-BFGS-B. Weak duality holds for *any* multipliers, so the
   bound never depends on the conic solver's status or tolerances (an
   "inaccurate" or failed solve still yields one); at the dual's maximum it
   equals the relaxation's optimum. A heuristic value UB (Max-SINR with the
   exact allocation) adds optimality-based bounds valid for every solution
   better than it: t_p <= a_i + sqrt(UB / lambda) (and y_p >= b_p x_p / t_max,p
   in the SOCP).
3. Rounding: argmax_j x_ij, plus ``samples`` randomized roundings
   (device i on server j with probability x_ij, seeded), all scored at once
   with :func:`uara.model.allocation.group_values`.
4. Local search (:mod:`uara.solvers.core.local_search`) from the best rounding, then
   optionally (``perturbations`` > 0) an iterated local search from there.
The result carries LB, so every run reports a certified gap (I - LB) / (I - C).
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from uara.model.allocation import exact_allocation, group_values
from uara.errors import MissingDependencyError, SolverError
from uara.model.evaluator import evaluate
from uara.model.formulation import SlotData
from uara.model.solution import Status, proven_optimal
from uara.solvers.core.lagrangian import DualBound, Multipliers, dual_value, maximise_dual, pair_terms, start_from_association, t_max
from uara.solvers.core.local_search import candidate_mask, iterated_local_search, local_search, peak_bytes
from uara.solvers.core.conic_model import conic_model
from uara.solvers.core.misocp import Pairs, usable_pairs
from uara.solvers.core.moves import masked_argmax
from uara.solvers.base import SlotDecision, SolveContext, Solver

#: Conic solvers (through cvxpy) the relaxation accepts, and their settings.
CONIC_SETTINGS: dict[str, dict[str, Any]] = {
    "CLARABEL": {"max_iter": 200},
    "ECOS": {},
    "SCS": {"eps_abs": 1e-7, "eps_rel": 1e-7, "max_iters": 200000},
}
#: Peak bytes per usable pair of the conic relaxation (cvxpy's canonicalisation and Clarabel's KKT system).
CONIC_BYTES_PER_PAIR = 4096
#: Values of the ``solver`` option: a conic solver, or the dual ascent alone.
RELAXATION_SOLVERS = (*CONIC_SETTINGS, "LAGRANGIAN")


@dataclass
class RelaxOptions:
    """solver: how the relaxation is solved: CLARABEL, ECOS or SCS (through cvxpy), or
    LAGRANGIAN (its dual maximised directly, no conic solver; x = the dual's softmin weights);
    samples: randomized roundings (seeded); local_search: run move/swap search;
    swaps: include swaps in the search; max_steps: cap on search steps (None = until no improvement);
    perturbations: rounds of iterated local search after it (k in 2..max_perturbed random devices
    sent to random usable servers, descend, keep if better; seeded, 0 = off);
    conic_max_pairs: above this many usable pairs the conic solve is skipped and the Lagrangian dual
    alone runs (Clarabel takes ~5e-4 s a pair, 22.6 s at 1000x50; the dual certifies the same bound
    to 1e-6 in a quarter of the time); every shipped instance is far below it;
    candidates: servers per device the search may move it to, the k lowest Lagrangian pair terms
    g_ij at the dual's prices (:func:`uara.solvers.core.local_search.candidate_mask`), moves before
    swaps; 0 = automatic (every usable server up to FULL_SEARCH_ENTRIES swap-table entries, else
    CANDIDATES_AT_SCALE); dual_share: with a time limit, the fraction of the slot's time left that
    the dual ascent may take before rounding and the search; it resumes with whatever they leave."""

    solver: str = "CLARABEL"
    samples: int = 64
    local_search: bool = True
    swaps: bool = True
    max_steps: int | None = None
    perturbations: int = 0
    max_perturbed: int = 6
    conic_max_pairs: int = 20_000
    candidates: int = 0
    dual_share: float = 0.5


#: Swap-table entries (sum_j n_j^2 o_j at the start: n_j members, o_j usable outsiders of server j)
#: up to which the search considers every usable server (``candidates`` = 0, automatic): every
#: shipped instance (at most 5.4e5, m180_e8) and random 180x20 (2.8e5); 500x30 (4e6) and 1000x50
#: (2e7, 13.5 s to tabulate on 2 cores) search the CANDIDATES_AT_SCALE best servers per device.
FULL_SEARCH_ENTRIES = 2_000_000
#: Evaluations of one association that follow the search (the exact allocation, the evaluator, the
#: driver's re-scoring): their time, estimated from the roundings', is kept back from the deadline.
FINISH_EVALUATIONS = 3
#: Candidate servers per device in the automatic mode at scale (1000x50, bench/bench_relax.py: k = 3,
#: 5, 8 end 0.023 %, 0.025 %, 0.028 % above the same bound in 1.6, 2.8, 5.0 s; all servers 48 s).
CANDIDATES_AT_SCALE = 4


@dataclass(frozen=True)
class Relaxation:
    """The relaxation's solution: ``value`` (of I - C: the conic solver's primal value, or the
    dual's value without one), the certified ``bound`` (Lagrangian, never above the relaxation's
    optimum), a fractional ``x`` (M, E) for rounding, the conic ``status`` and timings."""

    value: float
    bound: float
    x: np.ndarray
    status: str
    solve_time_s: float
    build_time_s: float
    dual: DualBound | None = None
    conic_error: str | None = None

    @property
    def dual_time_s(self) -> float:
        return 0.0 if self.dual is None else self.dual.time_s


@dataclass(frozen=True)
class _ConicSolution:
    value: float
    x: np.ndarray  # (P,)
    status: str
    start: Multipliers  # dual multipliers read back from the constraints


def solve_relaxation(
    sd: SlotData,
    *,
    solver: str = "CLARABEL",
    ub: float | None = None,
    pairs: Pairs | None = None,
    start: np.ndarray | None = None,
    deadline: float | None = None,
) -> Relaxation:
    """The continuous relaxation of the MISOCP and its certified Lagrangian bound.

    ``ub``: a known value of I - C (adds the optimality-based bounds of the module
    docstring); ``start``: an association (M,) whose exact allocation seeds the dual
    multipliers (default: Max-SINR). Returns values of I - C (add ``sd.constant`` for I).
    Raises SolverError for an unknown or uninstalled conic solver; a conic solver that
    fails is reported in ``conic_error`` and the bound still comes from the dual.
    """
    name = solver.upper()
    if name not in RELAXATION_SOLVERS:
        raise SolverError(f"relax: option solver must be one of {', '.join(RELAXATION_SOLVERS)}, got {solver!r}")
    t0 = time.perf_counter()
    pr = usable_pairs(sd) if pairs is None else pairs
    assoc = masked_argmax(sd.snr, sd.usable & np.isfinite(sd.uplink_s_full)) if start is None else np.asarray(start)
    starts = [start_from_association(pr, assoc, exact_allocation(sd, assoc).band_price)]
    conic: _ConicSolution | None = None
    error: str | None = None
    build = 0.0
    if name != "LAGRANGIAN":
        try:
            conic, build = _solve_conic(pr, name, ub)
            starts.append(conic.start)
        except SolverError as exc:
            if "not installed" in str(exc):
                raise
            error = str(exc)
    t1 = time.perf_counter()
    values = [dual_value(pr, m, ub=ub)[0] for m in starts]
    dual = maximise_dual(pr, starts[int(np.argmax(values))], ub=ub, deadline=deadline)
    xm = dual.x
    if conic is not None:
        xm = pr.to_matrix(np.clip(conic.x, 0.0, 1.0))
    value = dual.value if conic is None else conic.value
    status = "lagrangian" if name == "LAGRANGIAN" else (conic.status if conic is not None else "failed")
    conic_s = t1 - t0 - build
    return Relaxation(value, dual.bound, xm, status, conic_s + dual.time_s, build, dual, error)


def _solve_conic(pr: Pairs, name: str, ub: float | None) -> tuple[_ConicSolution, float]:
    """The SOCP relaxation in cvxpy, solved by ``name``; also reads back dual multipliers."""
    try:
        import cvxpy as cp
    except ImportError as exc:
        raise MissingDependencyError(exc.name or "cvxpy", "relax", feature="the convex relaxation") from None
    if name not in cp.installed_solvers():
        raise SolverError(f"relax: conic solver {name!r} is not installed (installed: {', '.join(cp.installed_solvers())})")
    t0 = time.perf_counter()
    e = pr.num_servers
    model = conic_model(pr, ub)
    prob, x, v, band, linear_cut = model.problem, model.x, model.v, model.band, model.linear_cut
    build = time.perf_counter() - t0
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "may be inaccurate": the status says so
            prob.solve(solver=name, **CONIC_SETTINGS[name])
    except cp.error.SolverError as exc:
        raise SolverError(f"relax: {name} failed on the relaxation ({exc})") from None
    if x.value is None or prob.value is None or not np.isfinite(prob.value):
        raise SolverError(f"relax: {name} failed on the relaxation (status {prob.status!r})")

    def dual_of(c: Any) -> np.ndarray:
        d = c.dual_value
        return np.zeros(e) if d is None else np.nan_to_num(np.asarray(d, dtype=float).reshape(e))

    mu = np.maximum(dual_of(band), 0.0)
    theta = np.clip(1.0 - dual_of(linear_cut), 0.0, 1.0)
    level = np.maximum(np.asarray(v.value, dtype=float).reshape(e), 0.0)
    return _ConicSolution(float(prob.value), np.asarray(x.value, dtype=float), str(prob.status),
                          Multipliers(mu, theta, level)), build


def association_values(sd: SlotData, candidates: np.ndarray) -> np.ndarray:
    """I - C under the exact allocation of each candidate association, (K, M) -> (K,)."""
    k, m = candidates.shape
    e = sd.num_servers
    devices = np.tile(np.arange(m), k)
    servers = candidates.ravel()
    groups = np.repeat(np.arange(k), m) * e + servers
    return group_values(sd, devices, servers, groups, k * e).reshape(k, e).sum(axis=1)


def max_sinr_start(sd: SlotData) -> tuple[np.ndarray, float]:
    """The Max-SINR association (M,) and its value I - C under the exact allocation: the
    heuristic upper bound UB behind the relaxation's optimality-based cuts."""
    start = masked_argmax(sd.snr, sd.usable & np.isfinite(sd.uplink_s_full))
    return start, float(association_values(sd, start[None, :])[0])


def round_relaxation(sd: SlotData, x: np.ndarray, rng: np.random.Generator, samples: int) -> np.ndarray:
    """Candidate associations (K, M): argmax of x, then ``samples`` draws with P(i -> j) = x_ij."""
    usable = sd.usable & np.isfinite(sd.uplink_s_full)
    cands = [masked_argmax(x, usable)]
    if samples > 0:
        p = np.where(usable, np.maximum(x, 0.0), 0.0)
        p /= p.sum(axis=1, keepdims=True)
        cum = np.cumsum(p, axis=1)
        u = rng.random((samples, sd.num_devices, 1))
        draws = (u > cum[None, :, :]).sum(axis=2)
        draws = np.minimum(draws, sd.num_servers - 1)
        ok = usable[np.arange(sd.num_devices)[None, :], draws]
        cands.append(np.where(ok, draws, cands[0][None, :]))
    return np.vstack([np.atleast_2d(c) for c in cands]).astype(np.intp)


#: Seconds per usable pair that Clarabel takes on the relaxation (measured on 2 cores: 480 pairs 0.19 s,
#: 3 599 pairs 1.24 s, 11 999 pairs 5.0 s, 50 000 pairs 22.6 s; the Lagrangian dual alone takes a
#: quarter of that and reaches the same bound to 1e-6).
CONIC_S_PER_PAIR = 5e-4


def conic_within_share(solver: str, pairs: int, left_s: float | None,
                       max_pairs: int | None = None) -> tuple[str, str | None]:
    """The relaxation solver to run given the time left in the slot: the conic solve cannot be
    interrupted, so when its estimated time (CONIC_S_PER_PAIR x pairs) exceeds half of what is left,
    the Lagrangian dual alone (interruptible, certifies the same bound) runs instead. Returns
    (solver, why it was skipped or None)."""
    if solver.upper() == "LAGRANGIAN":
        return solver, None
    if max_pairs is not None and pairs > max_pairs:
        return "lagrangian", f"{solver} skipped: {pairs} usable pairs > conic_max_pairs = {max_pairs}"
    if left_s is None:
        return solver, None
    estimate = CONIC_S_PER_PAIR * pairs
    if estimate > 0.5 * left_s:
        return "lagrangian", f"{solver} skipped: estimated {estimate:.2g} s for {pairs} pairs, {left_s:.2g} s left"
    return solver, None


class RelaxSolver(Solver):
    name = "relax"
    description = "SOCP relaxation (cvxpy/Clarabel) lower bound + rounding + exact move/swap search: certified gap"
    requires: ClassVar[tuple[str, ...]] = ("cvxpy",)
    extra: ClassVar[str | None] = "relax"
    PROVIDES_BOUND = True
    STOCHASTIC = True
    Options: ClassVar[type] = RelaxOptions
    VERSION = 6  # 6: candidate lists and moves first at scale, the dual within a share of the slot and resumed; 2: Lagrangian certificate, single conic solve; 3: within the slot's share of the time limit; 4: conic solve skipped when it cannot fit the share; 5: conic_max_pairs, warm-started band prices in the search
    CORE = ("lagrangian", "local_search", "misocp", "moves")

    @classmethod
    def import_solver(cls) -> None:
        import cvxpy as cp

        cp.installed_solvers()  # imports the conic solvers' interfaces

    def memory_estimate_bytes(self, num_devices: int, num_servers: int) -> float:
        """The move/swap search's peak (:func:`uara.solvers.core.local_search.peak_bytes`) and the conic
        relaxation's, about CONIC_BYTES_PER_PAIR per usable pair (bench/bench_memory.py: estimate / peak
        0.9-1.3 at M = 500, 1000, 2000)."""
        return peak_bytes(num_devices, num_servers) + CONIC_BYTES_PER_PAIR * num_devices * num_servers

    def check_options(self) -> None:
        if self.options.solver.upper() not in RELAXATION_SOLVERS:
            raise SolverError(f"solver 'relax': option solver must be one of {', '.join(RELAXATION_SOLVERS)}, got {self.options.solver!r}")
        for field in ("samples", "perturbations"):
            if getattr(self.options, field) < 0:
                raise SolverError(f"solver 'relax': option {field} must be >= 0, got {getattr(self.options, field)}")
        if self.options.conic_max_pairs < 0:
            raise SolverError(f"solver 'relax': option conic_max_pairs must be >= 0, got {self.options.conic_max_pairs}")
        if self.options.candidates < 0:
            raise SolverError(f"solver 'relax': option candidates must be >= 0, got {self.options.candidates}")
        if not 0.0 < self.options.dual_share <= 1.0:
            raise SolverError(f"solver 'relax': option dual_share must be in (0, 1], got {self.options.dual_share}")
        if self.options.max_perturbed < 2:
            raise SolverError(f"solver 'relax': option max_perturbed must be >= 2, got {self.options.max_perturbed}")

    def solve_slot(self, sd: SlotData, ctx: SolveContext) -> SlotDecision:
        return relax_decision(sd, relax_slot(sd, ctx, self.options))


def relax_decision(sd: SlotData, out: RelaxOutcome) -> SlotDecision:
    """The slot decision of a :class:`RelaxOutcome`, "optimal" when its bound proves it (PROVEN_GAP)."""
    if proven_optimal(out.objective, out.lower_bound, sd.constant):
        status = Status.OPTIMAL  # the relaxation's bound proves the rounded decision (PROVEN_GAP)
    else:
        status = Status.TIME_LIMIT if out.stopped else Status.FEASIBLE
    return SlotDecision(out.association, out.bandwidth_share, out.compute_share, status=status,
                        lower_bound=out.lower_bound, info=out.info)


@dataclass(frozen=True)
class RelaxOutcome:
    """What :func:`relax_slot` found: the decision (exact allocation), its value ``objective`` (I),
    the certified ``lower_bound`` (I), the dual's multipliers, whether the deadline cut the search."""

    association: np.ndarray
    bandwidth_share: np.ndarray
    compute_share: np.ndarray
    objective: float
    lower_bound: float
    stopped: bool
    info: dict[str, Any]
    dual: DualBound | None


def relax_slot(sd: SlotData, ctx: SolveContext, opts: RelaxOptions | None = None) -> RelaxOutcome:
    """relax's pipeline on one slot (module docstring): the relaxation and its certified dual bound
    (within ``dual_share`` of the time left), rounding, the move/swap search, then the dual's
    unfinished stages in whatever time is left. Also the warm start of ``exact`` and ``price``, which
    therefore never start from a worse decision or a lower bound than ``relax`` reaches in their share."""
    opts = RelaxOptions() if opts is None else opts
    t0 = time.perf_counter()
    pairs = usable_pairs(sd)
    if np.any(np.bincount(pairs.device, minlength=sd.num_devices) == 0):
        raise SolverError("relax: a device has no usable server (no path above the gain floor)")
    start, ub = max_sinr_start(sd)
    conic, skipped = conic_within_share(opts.solver, pairs.size, ctx.remaining_s(), opts.conic_max_pairs)
    relax = solve_relaxation(sd, solver=conic, ub=ub, pairs=pairs, start=start,
                             deadline=ctx.with_share(opts.dual_share).deadline)
    lower = sd.constant + relax.bound
    t_relax = time.perf_counter() - t0

    t_round = time.perf_counter()
    cands = np.vstack([round_relaxation(sd, relax.x, ctx.rng, opts.samples), start[None, :]])
    vals = association_values(sd, cands)
    if ctx.deadline is not None:  # keep back what the final allocation and the driver's re-scoring take
        ctx = dataclasses.replace(ctx, deadline=ctx.deadline - FINISH_EVALUATIONS * (time.perf_counter() - t_round) / len(cands))
    best = int(np.argmin(vals))
    assoc, rounded = cands[best], float(vals[best])
    ctx.record(sd.constant + rounded, lower)
    info: dict[str, Any] = {
        "certified": True,
        "rounded": sd.constant + rounded,
        "relaxation": sd.constant + relax.value,
        "relaxation_status": relax.status,
        "relax_build_s": relax.build_time_s,
        "relax_solve_s": relax.solve_time_s,
        "dual_s": relax.dual_time_s,
        "dual_bound": lower,
        "rounded_argmax": sd.constant + float(vals[0]),
    }
    if relax.conic_error is not None:
        info["relaxation_error"] = relax.conic_error
    if skipped:
        info["conic_skipped"] = skipped
    stopped = False
    if opts.local_search:
        assoc, stopped = _search(sd, assoc, pairs, relax, ub, ctx, opts, info)
    dual = relax.dual
    if dual is not None and dual.stages_left and not ctx.out_of_time():
        dual = _resume_dual(pairs, dual, ub, ctx, info)
        lower = max(lower, sd.constant + dual.bound)
    alloc = exact_allocation(sd, assoc)
    final = evaluate(sd, assoc, alloc.bandwidth_share, alloc.compute_share).objective
    ctx.record(final, lower)
    info["relax_total_s"] = t_relax
    return RelaxOutcome(assoc, alloc.bandwidth_share, alloc.compute_share, final, lower, stopped, info, dual)


def warm_start_options() -> RelaxOptions:
    """relax's defaults for the warm start of other back-ends: the conic solve where cvxpy is
    installed, else the Lagrangian dual alone (which certifies the same bound)."""
    import importlib.util

    return RelaxOptions() if importlib.util.find_spec("cvxpy") is not None else RelaxOptions(solver="LAGRANGIAN")


def _search(sd: SlotData, assoc: np.ndarray, pairs: Pairs, relax: Relaxation, ub: float,
            ctx: SolveContext, opts: RelaxOptions, info: dict[str, Any]) -> tuple[np.ndarray, bool]:
    """The move/swap search (then the iterated search) from ``assoc``, within the candidate lists
    of option ``candidates``; returns (association, stopped by the deadline)."""
    t1 = time.perf_counter()
    k = search_candidates(sd, assoc, opts.candidates)
    mask = None
    if k is not None and relax.dual is not None:
        g, _ = pair_terms(pairs, relax.dual.multipliers, t_max(pairs, ub))
        mask = candidate_mask(pairs.to_matrix(g, fill=np.inf), sd.usable & np.isfinite(sd.uplink_s_full), k, assoc)
        info["candidates"] = k
    ls = local_search(sd, assoc, deadline=ctx.deadline, max_steps=opts.max_steps, swaps=opts.swaps,
                      candidates=mask, moves_first=mask is not None)
    assoc, stopped = ls.association, ls.stopped_early and ctx.out_of_time()
    info.update(moves=ls.moves, swaps=ls.swaps, local_search_s=time.perf_counter() - t1)
    if opts.perturbations > 0 and not stopped:
        t2 = time.perf_counter()
        ils = iterated_local_search(sd, assoc, ctx.rng, rounds=opts.perturbations, max_perturbed=opts.max_perturbed,
                                    deadline=ctx.deadline, swaps=opts.swaps, candidates=mask)
        assoc, stopped = ils.association, ils.stopped_early and ctx.out_of_time()
        info.update(perturbations=ils.perturbations, perturbation_improvements=ils.improvements,
                    local_search_value=sd.constant + ls.value, iterated_search_s=time.perf_counter() - t2)
    return assoc, stopped


def _resume_dual(pairs: Pairs, dual: DualBound, ub: float, ctx: SolveContext, info: dict[str, Any]) -> DualBound:
    """The dual ascent's unfinished temperature stages, in the time the search left (the better of the two)."""
    more = maximise_dual(pairs, dual.multipliers, ub=ub, temperatures=dual.stages_left, deadline=ctx.deadline,
                         magnitude=dual.magnitude)
    info.update(dual_resumed_s=more.time_s, dual_stages_left=len(more.stages_left))
    return more if more.bound >= dual.bound else dual


def search_candidates(sd: SlotData, assoc: np.ndarray, candidates: int) -> int | None:
    """Candidate servers per device for the search from ``assoc``: None (every usable server) when
    ``candidates`` = 0 and the swap tables have at most FULL_SEARCH_ENTRIES entries (or k >= E),
    else ``candidates`` (or CANDIDATES_AT_SCALE when it is 0)."""
    if candidates >= sd.num_servers:
        return None
    if candidates > 0:
        return candidates
    usable = sd.usable & np.isfinite(sd.uplink_s_full)
    n = np.bincount(assoc, minlength=sd.num_servers).astype(float)
    o = np.maximum(usable.sum(axis=0) - n, 0.0)
    if float(np.sum(n * n * o)) <= FULL_SEARCH_ENTRIES or CANDIDATES_AT_SCALE >= sd.num_servers:
        return None
    return CANDIDATES_AT_SCALE
