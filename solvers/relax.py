"""``relax``: the continuous relaxation of the MISOCP (a lower bound), rounding,
and an exact move/swap local search.

1. Relaxation: the MISOCP of :mod:`uara.solvers._misocp` with x in [0, 1],
   an SOCP built in cvxpy with vectorised constraints over the P usable pairs
   (Clarabel by default). The bound is LB = C + D - cushion, where D is the
   conic solver's *dual* objective (weak duality: D <= R, the relaxation's
   optimum) and the cushion (1e-9 |D| + 1e-9) covers its dual residual; a
   solver that reports no dual objective falls back to its primal value R with
   a larger cushion (1e-6 |R| + 1e-7 for ECOS); SCS, a first-order method whose
   dual is not exactly feasible, keeps 1e-4 |D| + 1e-6 (a safety margin, not a
   certificate). A heuristic value UB (Max-SINR with the
   exact allocation) adds optimality-based bounds valid for every solution
   better than it: t_p <= a_i + sqrt(UB / lambda) and y_p >= b_p x_p / t_max,p.
2. Rounding: argmax_j x_ij, plus ``samples`` randomized roundings
   (device i on server j with probability x_ij, seeded), all scored at once
   with :func:`uara.allocation.group_values`.
3. Local search (:mod:`uara.solvers._local_search`) from the best rounding.
The result carries LB, so every run reports a certified gap (I - LB) / (I - C).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from uara.allocation import exact_allocation, group_values
from uara.errors import MissingDependencyError, SolverError
from uara.evaluator import evaluate
from uara.formulation import SlotData
from uara.solution import Status
from uara.solvers._local_search import local_search
from uara.solvers._misocp import Pairs, usable_pairs
from uara.solvers.association import masked_argmax
from uara.solvers.base import SlotResult, SolveContext, Solver

#: Relative and absolute cushion subtracted from the relaxation's value, per conic solver.
CUSHION = {"ECOS": (1e-6, 1e-7), "SCS": (1e-4, 1e-6)}  # Clarabel: see CLARABEL_LADDER
#: Conic solvers the relaxation accepts.
CONIC_SOLVERS = ("CLARABEL", *CUSHION)
#: Cushion applied to the solver's dual objective (covers its dual residual).
DUAL_CUSHION = (1e-9, 1e-9)
#: Clarabel stopping rules tried in turn, each with the cushion (relative, absolute) on the
#: dual objective that its measured error calls for: on tight tiny instances the objectives
#: sat up to 1.3e-7 (1e-9 target) and 2e-6 (defaults) above the true optimum.
CLARABEL_LADDER = [
    ({"tol_gap_abs": 1e-12, "tol_gap_rel": 1e-12, "tol_feas": 1e-11, "tol_ktratio": 1e-10, "max_iter": 500}, DUAL_CUSHION),
    ({"tol_gap_abs": 1e-9, "tol_gap_rel": 1e-9, "tol_feas": 1e-9, "tol_ktratio": 1e-8, "max_iter": 500}, (1e-6, 1e-7)),
    ({}, (1e-5, 1e-6)),
]


@dataclass
class RelaxOptions:
    """solver: cvxpy conic solver for the SOCP (CLARABEL, ECOS or SCS);
    samples: randomized roundings (seeded); local_search: run move/swap search;
    swaps: include swaps in the search; max_steps: cap on search steps (None = until no improvement)."""

    solver: str = "CLARABEL"
    samples: int = 64
    local_search: bool = True
    swaps: bool = True
    max_steps: int | None = None


@dataclass(frozen=True)
class Relaxation:
    """The relaxation's optimum: value R (of I - C), a certified bound, and x as (M, E)."""

    value: float
    bound: float | None  # None when the conic solver never reached OPTIMAL: no certificate
    x: np.ndarray
    status: str
    solve_time_s: float
    build_time_s: float


def solve_relaxation(sd: SlotData, *, solver: str = "CLARABEL", ub: float | None = None, pairs: Pairs | None = None) -> Relaxation:
    """The continuous relaxation of the MISOCP as a cvxpy SOCP (vectorised over pairs).

    ``ub``: a known value of I - C; adds the optimality-based bounds of the module docstring.
    Returns values of I - C (add ``sd.constant`` for I).
    """
    try:
        import cvxpy as cp
        import scipy.sparse as sp
    except ImportError as exc:
        raise MissingDependencyError(exc.name or "cvxpy", "relax", feature="the convex relaxation") from None
    name = solver.upper()
    if name not in cp.installed_solvers():
        raise SolverError(f"relax: conic solver {solver!r} is not installed (installed: {', '.join(cp.installed_solvers())})")
    t0 = time.perf_counter()
    pr = usable_pairs(sd) if pairs is None else pairs
    n, m, e = pr.size, pr.num_devices, pr.num_servers
    cols = np.arange(n)
    a_dev = sp.csr_matrix((np.ones(n), (pr.device, cols)), shape=(m, n))
    a_srv = sp.csr_matrix((np.ones(n), (pr.server, cols)), shape=(e, n))
    x = cp.Variable(n, nonneg=True)
    y = cp.Variable(n, nonneg=True)
    t = cp.Variable(n, nonneg=True)
    ex = cp.Variable(n, nonneg=True)
    r = cp.Variable(n, nonneg=True)
    U = cp.Variable(e, nonneg=True)
    v = a_srv @ cp.multiply(np.sqrt(pr.work), x)
    cons = [
        a_dev @ x == 1,
        a_srv @ y <= 1,
        y <= x,
        # t y >= b x^2  <=>  || (2 sqrt(b) x, t - y) || <= t + y
        cp.SOC(t + y, cp.vstack([cp.multiply(2.0 * np.sqrt(pr.b), x), t - y]), axis=0),
        ex >= t - cp.multiply(pr.a, x),
        # r x >= e^2  <=>  || (2 e, r - x) || <= r + x
        cp.SOC(r + x, cp.vstack([2.0 * ex, r - x]), axis=0),
        # U >= v^2  <=>  || (2 v, U - 1) || <= U + 1
        cp.SOC(U + 1.0, cp.vstack([2.0 * v, U - 1.0]), axis=0),
        U >= a_srv @ cp.multiply(pr.work, x),
    ]
    if ub is not None and np.isfinite(ub) and ub > 0:
        tmax = pr.a + np.sqrt(ub * (1 + 1e-6) / pr.lam)
        cons += [t <= tmax, y >= cp.multiply(pr.b / tmax, x)]
    obj = pr.q @ x + pr.c @ y + pr.lam * cp.sum(r) + cp.sum(U)
    prob = cp.Problem(cp.Minimize(obj), cons)
    build = time.perf_counter() - t0
    # Certify only an OPTIMAL solve. Clarabel runs a ladder of stopping rules, each with the
    # cushion its measured error calls for (docs/solvers.md); SCS/ECOS run once.
    ladder = CLARABEL_LADDER if name == "CLARABEL" else [(
        {"eps_abs": 1e-7, "eps_rel": 1e-7, "max_iters": 200000} if name == "SCS" else {}, CUSHION[name])]
    dual_objective, cushion, solved = None, None, False
    for settings, rung_cushion in ladder:
        try:
            dual_objective = _solve_with_dual(prob, name, dict(settings))
        except cp.error.SolverError:
            continue
        if x.value is None:
            continue
        solved = True
        if prob.status == cp.OPTIMAL:
            cushion = rung_cushion
            break
    if not solved:
        raise SolverError(f"relax: {name} failed on the relaxation (status {prob.status!r})")
    value = float(prob.value)
    bound: float | None = None
    if cushion is not None:  # weak duality: the dual objective is <= the relaxation's optimum
        base = min(value, dual_objective) if dual_objective is not None and np.isfinite(dual_objective) else value
        bound = base - cushion[0] * abs(base) - cushion[1]
    xm = np.zeros((m, e))
    xm[pr.device, pr.server] = np.clip(x.value, 0.0, 1.0)
    return Relaxation(value, bound, xm, str(prob.status), time.perf_counter() - t0 - build, build)


def _solve_with_dual(prob: Any, name: str, kwargs: dict[str, Any]) -> float | None:
    """Solve ``prob`` with the conic solver ``name`` and return the solver's dual
    objective (in the problem's units), or None where the solver does not report one.

    cvxpy keeps the dual objective to itself, so the solver is called on cvxpy's
    problem data and the result unpacked back into the problem's variables.
    """
    import cvxpy as cp

    data, chain, inverse = prob.get_problem_data(name)
    raw = chain.solver.solve_via_data(data, False, False, dict(kwargs))
    if getattr(inverse[-1], "solver_options", "absent") is None:
        inverse[-1].solver_options = {}
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "may be inaccurate": the status says so and widens the cushion
        prob.unpack_results(raw, chain, inverse)
    if name == "CLARABEL":
        primal, dual = getattr(raw, "obj_val", None), getattr(raw, "obj_val_dual", None)
    elif name == "SCS" and isinstance(raw, dict):
        info = raw.get("info", {})
        primal, dual = info.get("pobj"), info.get("dobj")
    else:
        return None
    if primal is None or dual is None or prob.value is None or prob.status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
        return None
    offset = float(prob.value) - float(primal)  # constant terms cvxpy moved out of the solver's objective
    return float(dual) + offset


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


class RelaxSolver(Solver):
    name = "relax"
    description = "SOCP relaxation (cvxpy/Clarabel) lower bound + rounding + exact move/swap search: certified gap"
    requires: ClassVar[tuple[str, ...]] = ("cvxpy",)
    extra: ClassVar[str | None] = "relax"
    PROVIDES_BOUND = True
    STOCHASTIC = True
    Options: ClassVar[type] = RelaxOptions

    def check_options(self) -> None:
        if self.options.solver.upper() not in CONIC_SOLVERS:
            raise SolverError(f"solver 'relax': option solver must be one of {', '.join(CONIC_SOLVERS)}, got {self.options.solver!r}")
        if self.options.samples < 0:
            raise SolverError(f"solver 'relax': option samples must be >= 0, got {self.options.samples}")

    def solve_slot(self, sd: SlotData, ctx: SolveContext) -> SlotResult:
        opts = self.options
        t0 = time.perf_counter()
        pairs = usable_pairs(sd)
        if np.any(np.bincount(pairs.device, minlength=sd.num_devices) == 0):
            raise SolverError("relax: a device has no usable server (no path above the gain floor)")
        start, ub = max_sinr_start(sd)
        try:
            relax: Relaxation | None = solve_relaxation(sd, solver=opts.solver, ub=ub, pairs=pairs)
        except SolverError as exc:
            # The conic solver gave up (badly scaled slots: kept cell-edge links with uplink
            # times of hours). No bound is claimed; the local search still runs from Max-SINR.
            relax, failure = None, str(exc)
        lower = None if relax is None or relax.bound is None else sd.constant + relax.bound
        t_relax = time.perf_counter() - t0

        rounded_sets = [] if relax is None else [round_relaxation(sd, relax.x, ctx.rng, opts.samples)]
        cands = np.vstack(rounded_sets + [start[None, :]])
        vals = association_values(sd, cands)
        best = int(np.argmin(vals))
        assoc, rounded = cands[best], float(vals[best])
        ctx.record(sd.constant + rounded, lower)
        info: dict[str, Any] = {"certified": lower is not None, "rounded": sd.constant + rounded}
        if relax is None:
            info["relaxation_error"] = failure
        else:
            info.update(
                relaxation=sd.constant + relax.value,
                relaxation_status=relax.status,
                relax_build_s=relax.build_time_s,
                relax_solve_s=relax.solve_time_s,
                rounded_argmax=sd.constant + float(vals[0]),
            )
        stopped = False
        if opts.local_search:
            deadline = ctx.deadline
            t1 = time.perf_counter()
            ls = local_search(sd, assoc, deadline=deadline, max_steps=opts.max_steps, swaps=opts.swaps)
            assoc, stopped = ls.association, ls.stopped_early and ctx.out_of_time()
            info.update(moves=ls.moves, swaps=ls.swaps, local_search_s=time.perf_counter() - t1)
        alloc = exact_allocation(sd, assoc)
        final = evaluate(sd, assoc, alloc.bandwidth_share, alloc.compute_share).objective
        ctx.record(final, lower)
        info["relax_total_s"] = t_relax
        status = Status.TIME_LIMIT if stopped else Status.FEASIBLE
        return SlotResult(assoc, alloc.bandwidth_share, alloc.compute_share, status=status, lower_bound=lower, info=info)
