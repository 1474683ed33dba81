"""``exact``: P1 as a convex MISOCP (:mod:`uara.solvers._misocp`), built with
Pyomo and solved to proven optimality (or a proven gap) by SCIP.

Pipeline per slot:
1. warm start: the better of (a) Max-SINR association + TMA swaps with the exact
   allocation (:func:`uara.solvers.tma.swap_search`), then the exact move/swap
   local search of :mod:`uara.solvers._local_search`, and (b) ``relax``'s rounding
   of the Lagrangian dual's fractional association + the same local search;
   its value UB = I_ws - C also gives
   optimality-based bounds on the continuous variables (any solution better
   than the warm start has lambda (T_p - a_i)^2 <= UB, so
   t_p <= a_i + sqrt(UB / lambda), e_p <= sqrt(UB / lambda), r_p <= UB / lambda,
   U_j <= UB, and y_p >= b_p x_p / t_max,p);
2. the Pyomo model of the MISOCP, handed to SCIP through Pyomo's
   ``scip_direct`` interface (pyomo.contrib.solver), with the warm start as a
   full starting solution;
3. SCIP's association is re-allocated with :func:`uara.model.allocation.exact_allocation`
   (the value can only improve) and re-scored by the evaluator; the better of
   it and the warm start is returned, with C + max(SCIP's dual bound, the
   relaxation's Lagrangian dual of :mod:`uara.solvers._lagrangian`) as the proven
   lower bound (SCIP's bound is the stronger one unless SCIP stalls at the root).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from uara.model.allocation import exact_allocation
from uara.errors import MissingDependencyError, SolverError
from uara.model.evaluator import evaluate
from uara.model.formulation import SlotData
from uara.model.solution import Status, relative_gap
from uara.solvers._lagrangian import maximise_dual, start_from_association
from uara.solvers._local_search import local_search
from uara.solvers._misocp import Pairs, Point, point_from_decision, usable_pairs
from uara.solvers.association import masked_argmax
from uara.solvers.base import SlotDecision, SolveContext, Solver
from uara.solvers.tma import swap_search


@dataclass
class ExactOptions:
    """gap: SCIP's relative gap limit (limits/gap) on I - C;
    warm_start: start SCIP from TMA + exact allocation;
    time_limit: seconds per slot when the run gives none (None = no limit);
    perspective: penalty cone as r x >= e^2 (True) or r >= e^2 (False);
    feastol: SCIP's numerics/feastol (its default 1e-6 lets the cones slip by ~1e-6,
      which shows as a ~1e-6 relative gap after re-scoring; 1e-9 keeps it below 1e-7);
    tee: print SCIP's log (Pyomo drains it through a pipe from a Python thread while SCIP holds the
    GIL, so a very long log can stall the solve: use it for short runs)."""

    gap: float = 5e-7
    warm_start: bool = True
    time_limit: float | None = None
    perspective: bool = True
    feastol: float = 1e-9
    tee: bool = False


def warm_start(sd: SlotData, ctx: SolveContext | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """TMA with the exact allocation from the Max-SINR start, then the exact move/swap
    local search (:mod:`uara.solvers._local_search`; TMA's seat swaps never change how
    many devices a server holds, moves do): (association, y, z)."""
    start = masked_argmax(sd.snr, sd.usable)
    assoc, _, _, _, _ = swap_search(sd, start, "exact", ctx)
    assoc = local_search(sd, assoc, deadline=None if ctx is None else ctx.deadline).association
    alloc = exact_allocation(sd, assoc)
    return assoc, alloc.bandwidth_share, alloc.compute_share


def build_model(pairs: Pairs, ub: float | None = None, *, perspective: bool = True) -> Any:
    """The Pyomo ConcreteModel of the MISOCP (see :mod:`uara.solvers._misocp`).

    ``ub``: a known value of I - C (optional); adds the optimality-based
    variable bounds of the module docstring.
    """
    import pyomo.environ as pyo

    n, e, lam = pairs.size, pairs.num_servers, pairs.lam
    dev, srv = pairs.device.tolist(), pairs.server.tolist()
    a, b, c, q, w = (arr.tolist() for arr in (pairs.a, pairs.b, pairs.c, pairs.q, pairs.work))
    sqw = np.sqrt(pairs.work).tolist()
    by_dev: list[list[int]] = [[] for _ in range(pairs.num_devices)]
    by_srv: list[list[int]] = [[] for _ in range(e)]
    for p in range(n):
        by_dev[dev[p]].append(p)
        by_srv[srv[p]].append(p)

    m = pyo.ConcreteModel(name="uara-P1-misocp")
    m.P = pyo.RangeSet(0, n - 1)
    m.E = pyo.RangeSet(0, e - 1)
    m.D = pyo.RangeSet(0, pairs.num_devices - 1)
    m.x = pyo.Var(m.P, domain=pyo.Binary)
    m.y = pyo.Var(m.P, bounds=(0.0, 1.0))
    m.t = pyo.Var(m.P, domain=pyo.NonNegativeReals)
    m.e = pyo.Var(m.P, domain=pyo.NonNegativeReals)
    m.r = pyo.Var(m.P, domain=pyo.NonNegativeReals)
    m.v = pyo.Var(m.E, domain=pyo.NonNegativeReals)
    m.U = pyo.Var(m.E, domain=pyo.NonNegativeReals)
    if ub is not None and math.isfinite(ub) and ub > 0:
        slack = 1.0 + 1e-6
        emax = math.sqrt(ub * slack / lam)
        for p in range(n):
            m.t[p].setub(a[p] + emax)
            m.e[p].setub(emax)
            m.r[p].setub(ub * slack / lam)
        for j in range(e):
            m.U[j].setub(ub * slack)
            m.v[j].setub(math.sqrt(ub * slack))
        m.ylow = pyo.Constraint(m.P, rule=lambda m, p: m.y[p] >= b[p] / (a[p] + emax) * m.x[p])

    m.assign = pyo.Constraint(m.D, rule=lambda m, i: sum(m.x[p] for p in by_dev[i]) == 1)
    m.band = pyo.Constraint(
        m.E, rule=lambda m, j: sum(m.y[p] for p in by_srv[j]) <= 1 if by_srv[j] else pyo.Constraint.Skip
    )
    m.yx = pyo.Constraint(m.P, rule=lambda m, p: m.y[p] <= m.x[p])
    m.uplink = pyo.Constraint(m.P, rule=lambda m, p: b[p] * m.x[p] * m.x[p] <= m.t[p] * m.y[p])
    m.excess = pyo.Constraint(m.P, rule=lambda m, p: m.e[p] >= m.t[p] - a[p] * m.x[p])
    if perspective:
        m.penalty = pyo.Constraint(m.P, rule=lambda m, p: m.e[p] * m.e[p] <= m.r[p] * m.x[p])
    else:
        m.penalty = pyo.Constraint(m.P, rule=lambda m, p: m.e[p] * m.e[p] <= m.r[p])
    m.vdef = pyo.Constraint(m.E, rule=lambda m, j: m.v[j] == sum(sqw[p] * m.x[p] for p in by_srv[j]))
    m.compute = pyo.Constraint(m.E, rule=lambda m, j: m.v[j] * m.v[j] <= m.U[j])
    m.compute_cut = pyo.Constraint(m.E, rule=lambda m, j: sum(w[p] * m.x[p] for p in by_srv[j]) <= m.U[j])
    m.obj = pyo.Objective(
        expr=sum(q[p] * m.x[p] + c[p] * m.y[p] + lam * m.r[p] for p in range(n)) + sum(m.U[j] for j in range(e)),
        sense=pyo.minimize,
    )
    return m


def set_point(model: Any, pt: Point) -> None:
    """Load a MISOCP point into the Pyomo model's variable values."""
    for name in ("x", "y", "t", "e", "r"):
        var, vals = getattr(model, name), getattr(pt, name)
        for p, val in enumerate(vals.tolist()):
            var[p].set_value(float(val), skip_validation=True)
    for j in range(pt.v.size):
        model.v[j].set_value(float(pt.v[j]), skip_validation=True)
        model.U[j].set_value(float(pt.U[j]), skip_validation=True)


def _scip_solver() -> Any:
    """Pyomo's contrib ``scip_direct`` with a full (not only discrete) warm start."""
    from pyomo.contrib.solver.solvers.scip.scip_direct import ScipDirect

    class _ScipDirectFullStart(ScipDirect):
        # Pyomo's _mipstart passes only the integer variables (SCIP must then
        # complete the solution with a sub-solve); passing every variable with a
        # value lets SCIP accept the TMA incumbent as is.
        def _mipstart(self) -> None:
            sol = self._solver_model.createPartialSol()
            for pyomo_var, scip_var in self._pyomo_var_to_solver_var_map.items():
                if pyomo_var.value is not None:
                    sol[scip_var] = pyomo_var.value
            self._solver_model.addSol(sol)

    return _ScipDirectFullStart()


class ExactSolver(Solver):
    name = "exact"
    description = "P1 as a convex MISOCP (Pyomo model, SCIP branch-and-bound): proven optimum or proven gap"
    requires: ClassVar[tuple[str, ...]] = ("pyomo", "pyscipopt")
    extra: ClassVar[str | None] = "exact"
    EXACT = True
    PROVIDES_BOUND = True
    Options: ClassVar[type] = ExactOptions
    VERSION = 2  # 2: bound = max(SCIP, Lagrangian dual); 0.2 s floor per slot

    def check_options(self) -> None:
        if not (0 <= self.options.gap < 1):
            raise SolverError(f"solver 'exact': option gap must be in [0, 1), got {self.options.gap}")
        if self.options.time_limit is not None and not self.options.time_limit > 0:
            raise SolverError(f"solver 'exact': option time_limit must be positive, got {self.options.time_limit}")

    def solve_slot(self, sd: SlotData, ctx: SolveContext) -> SlotDecision:
        try:
            import pyomo.environ  # noqa: F401
            import pyscipopt  # noqa: F401
        except ImportError as exc:  # pragma: no cover - guarded by Solver.missing
            raise MissingDependencyError(exc.name or "pyscipopt", "exact", feature="solver 'exact'") from None
        t_start = time.perf_counter()
        opts = self.options
        pairs = usable_pairs(sd)
        if np.any(np.bincount(pairs.device, minlength=sd.num_devices) == 0):
            raise SolverError("exact: a device has no usable server (no path above the gain floor)")
        const = sd.constant

        ws_assoc, ws_y, ws_z = warm_start(sd, ctx)
        ws_eval = evaluate(sd, ws_assoc, ws_y, ws_z)
        ub = ws_eval.objective - const
        ctx.record(ws_eval.objective, None)

        # The relaxation's Lagrangian dual (solvers/_lagrangian.py): a certified bound in
        # ~0.1-0.4 s, kept if SCIP's own dual bound ends below it (large instances).
        relaxed = maximise_dual(pairs, start_from_association(pairs, ws_assoc, exact_allocation(sd, ws_assoc).band_price), ub=ub)
        lagrangian = relaxed.bound
        # A second warm start from the dual's fractional association (relax's rounding +
        # local search); the better one seeds SCIP.
        ws_source = "tma+local-search"
        if opts.warm_start:
            from uara.solvers.relax import association_values, round_relaxation

            cands = round_relaxation(sd, relaxed.x, ctx.rng, 64)
            rounded = cands[int(np.argmin(association_values(sd, cands)))]
            alt = local_search(sd, rounded, deadline=ctx.deadline).association
            alt_alloc = exact_allocation(sd, alt)
            alt_eval = evaluate(sd, alt, alt_alloc.bandwidth_share, alt_alloc.compute_share)
            if alt_eval.objective < ws_eval.objective:
                ws_assoc, ws_y, ws_z, ws_eval = alt, alt_alloc.bandwidth_share, alt_alloc.compute_share, alt_eval
                ub, ws_source = ws_eval.objective - const, "dual-rounding+local-search"
                ctx.record(ws_eval.objective, const + lagrangian)

        model = build_model(pairs, ub, perspective=opts.perspective)
        if opts.warm_start:
            set_point(model, point_from_decision(pairs, ws_assoc, ws_y))
        build_s = time.perf_counter() - t_start

        limit = ctx.remaining_s()
        if opts.time_limit is not None:
            limit = opts.time_limit if limit is None else min(limit, opts.time_limit)
        if limit is not None:
            limit = max(0.2, limit - (time.perf_counter() - t_start) - 0.2)
        solver = _scip_solver()
        config: dict[str, Any] = dict(
            load_solutions=False,
            raise_exception_on_nonoptimal_result=False,
            warmstart_discrete_vars=opts.warm_start,
            rel_gap=opts.gap,
            solver_options={
                "randomization/randomseedshift": int(ctx.seed) % (2**31),
                "numerics/feastol": float(opts.feastol),
                # Pyomo captures SCIP's output through a pipe that a Python thread drains;
                # SCIP writes while holding the GIL, so a log longer than the pipe buffer
                # (64 KiB: long solves of large instances) deadlocks. Silence it unless asked.
                "display/verblevel": 4 if opts.tee else 0,
            },
        )
        if limit is not None:
            config["time_limit"] = float(limit)
        if ctx.threads and ctx.threads > 1:
            config["threads"] = int(ctx.threads)
        if opts.tee:
            import sys

            config["tee"] = [sys.stdout]
        res = solver.solve(model, **config)
        scip = solver._solver_model
        scip_status = str(scip.getStatus())
        nodes = int(scip.getNNodes())
        dual = res.objective_bound
        primal = res.incumbent_objective

        assoc, y, z, source = ws_assoc, ws_y, ws_z, "warm_start"
        if res.solution_loader.get_number_of_solutions() > 0:
            res.solution_loader.load_vars()
            xv = np.array([model.x[p].value or 0.0 for p in range(pairs.size)])
            x_mat = pairs.to_matrix(xv)
            cand = x_mat.argmax(axis=1)
            alloc = exact_allocation(sd, cand)
            cand_eval = evaluate(sd, cand, alloc.bandwidth_share, alloc.compute_share)
            if cand_eval.feasible and cand_eval.objective <= ws_eval.objective:
                assoc, y, z, source = cand, alloc.bandwidth_share, alloc.compute_share, "scip"
                best = cand_eval.objective
            else:
                best = ws_eval.objective
        else:
            best = ws_eval.objective

        lower = const + lagrangian
        if dual is not None and math.isfinite(dual) and const + float(dual) > lower:
            lower = const + float(dual)
            if best < lower <= best + 1e-6 * max(best - const, 1e-12):
                lower = best  # SCIP's feasibility tolerance: a bound a hair above the re-scored optimum
        ctx.record(best, lower)
        gap = relative_gap(best, lower, const)
        if scip_status in ("optimal", "gaplimit") and gap is not None and gap <= max(opts.gap, 1e-6):
            status = Status.OPTIMAL
        elif scip_status in ("timelimit", "userinterrupt", "nodelimit", "memlimit"):
            status = Status.TIME_LIMIT
        else:
            status = Status.FEASIBLE
        info = {
            "scip_status": scip_status,
            "nodes": nodes,
            "scip_primal": None if primal is None else const + float(primal),
            "scip_dual": None if dual is None or not math.isfinite(dual) else const + float(dual),
            "lagrangian_bound": const + lagrangian,
            "scip_time_s": float(scip.getSolvingTime()),
            "build_time_s": build_s,
            "warm_start_objective": ws_eval.objective,
            "warm_start_source": ws_source,
            "incumbent_source": source,
            "pairs": pairs.size,
        }
        return SlotDecision(assoc, y, z, status=status, lower_bound=lower, info=info)
