"""``exact``: P1 as a convex MISOCP (:mod:`uara.solvers.core.misocp`), built with
Pyomo and solved to proven optimality (or a proven gap) by SCIP.

Pipeline per slot:
1. warm start: ``relax``'s pipeline (:func:`uara.solvers.p1.relax.relax_slot`: the
   continuous relaxation and its certified Lagrangian dual, rounding, the exact move/swap
   local search of :mod:`uara.solvers.core.local_search`) within WARM_START_SHARE of
   the slot (all of it when the MISOCP could not be built and translated in the rest,
   :func:`model_seconds_estimate`; SCIP is then skipped), so exact's incumbent and bound
   are never worse than relax's in that share;
   its value UB = I_ws - C also gives
   optimality-based bounds on the continuous variables (any solution better
   than the warm start has lambda (T_p - a_i)^2 <= UB, so
   t_p <= a_i + sqrt(UB / lambda), e_p <= sqrt(UB / lambda), r_p <= UB / lambda,
   U_j <= UB, and y_p >= b_p x_p / t_max,p);
   the model's share variable is u_p = y_p / b_p (1/s: the inverse uplink time at x = 1), so
   the uplink cone reads x_p^2 <= t_p u_p with both factors of order one whatever the payload
   (with y itself, b_p x^2 <= t_p y_p sits at the scale of b_p, which for token-id payloads is
   ~1e-3 s, where SCIP's absolute feasibility tolerance is a 0.1 % error);
2. the Pyomo model of the MISOCP, handed to SCIP through Pyomo's
   ``scip_direct`` interface (pyomo.contrib.solver), with the warm start as a
   full starting solution;
3. SCIP's association is re-allocated with :func:`uara.model.allocation.exact_allocation`
   (the value can only improve) and re-scored by the evaluator; the better of
   it and the warm start is returned, with C + max(SCIP's dual bound, the
   relaxation's Lagrangian dual of :mod:`uara.solvers.core.lagrangian`) as the proven
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
from uara.model.solution import PROVEN_GAP, Status, proven_optimal, relative_gap
from uara.solvers.core.local_search import peak_bytes
from uara.solvers.core.misocp import Pairs, Point, point_from_decision, usable_pairs
from uara.solvers.base import SlotDecision, SolveContext, Solver


@dataclass
class ExactOptions:
    """gap: SCIP's relative gap limit (limits/gap) on I - C;
    warm_start: hand SCIP the warm start (relax's decision) as a full starting solution;
    perspective: penalty cone as r x >= e^2 (True) or r >= e^2 (False);
    feastol: SCIP's numerics/feastol (default 1e-6, SCIP's own: tighter values stall the tree search,
      e.g. 30x4 seed 101 timed out at 60 s with 1e-9 and is proved optimal in 2.8 s with 1e-6; the cone
      slack it allows is absorbed by re-scoring the association with the exact allocation);
    tee: print SCIP's log (Pyomo drains it through a pipe from a Python thread while SCIP holds the
    GIL, so a very long log can stall the solve: use it for short runs)."""

    gap: float = 5e-7
    warm_start: bool = True
    perspective: bool = True
    feastol: float = 1e-6
    tee: bool = False


#: The most of a slot's time the warm start (relax's pipeline) may take, so that the branch-and-bound
#: after it keeps the rest (on m180_e8 relax needs ~0.5 s of a slot; 1000x50 reaches 0.025 % in 10 s).
WARM_START_SHARE = 0.5


def build_model(pairs: Pairs, ub: float | None = None, *, perspective: bool = True) -> Any:
    """The Pyomo ConcreteModel of the MISOCP (see :mod:`uara.solvers.core.misocp`).

    ``ub``: a known value of I - C (optional); adds the optimality-based
    variable bounds of the module docstring.
    """
    import pyomo.environ as pyo

    n, e, lam = pairs.size, pairs.num_servers, pairs.lam
    dev, srv = pairs.device.tolist(), pairs.server.tolist()
    a, b, c, q, w, pw = (arr.tolist() for arr in (pairs.a, pairs.b, pairs.c, pairs.q, pairs.work, pairs.p))
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
    m.u = pyo.Var(m.P, bounds=lambda m, p: (0.0, 1.0 / b[p]))  # u = y / b, 1/s
    m.uplink_full_s = np.asarray(b)  # b_p, to convert shares (set_point)
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
        m.ulow = pyo.Constraint(m.P, rule=lambda m, p: m.u[p] >= m.x[p] / (a[p] + emax))

    m.assign = pyo.Constraint(m.D, rule=lambda m, i: sum(m.x[p] for p in by_dev[i]) == 1)
    m.band = pyo.Constraint(
        m.E, rule=lambda m, j: sum(b[p] * m.u[p] for p in by_srv[j]) <= 1 if by_srv[j] else pyo.Constraint.Skip
    )
    m.yx = pyo.Constraint(m.P, rule=lambda m, p: b[p] * m.u[p] <= m.x[p])
    m.uplink = pyo.Constraint(m.P, rule=lambda m, p: m.x[p] * m.x[p] <= m.t[p] * m.u[p])
    m.excess = pyo.Constraint(m.P, rule=lambda m, p: m.e[p] >= m.t[p] - a[p] * m.x[p])
    if pairs.two_sided:  # physical energy model: the penalty stays two-sided (uara.solvers.core.misocp)
        m.deficit = pyo.Constraint(m.P, rule=lambda m, p: m.e[p] >= a[p] * m.x[p] - m.t[p])
    if perspective:
        m.penalty = pyo.Constraint(m.P, rule=lambda m, p: m.e[p] * m.e[p] <= m.r[p] * m.x[p])
    else:
        m.penalty = pyo.Constraint(m.P, rule=lambda m, p: m.e[p] * m.e[p] <= m.r[p])
    m.vdef = pyo.Constraint(m.E, rule=lambda m, j: m.v[j] == sum(sqw[p] * m.x[p] for p in by_srv[j]))
    m.compute = pyo.Constraint(m.E, rule=lambda m, j: m.v[j] * m.v[j] <= m.U[j])
    m.compute_cut = pyo.Constraint(m.E, rule=lambda m, j: sum(w[p] * m.x[p] for p in by_srv[j]) <= m.U[j])
    m.obj = pyo.Objective(
        expr=sum(q[p] * m.x[p] + c[p] * b[p] * m.u[p] + lam * m.r[p] + (pw[p] * m.t[p] if pw[p] > 0 else 0.0)
                 for p in range(n)) + sum(m.U[j] for j in range(e)),
        sense=pyo.minimize,
    )
    return m


def set_point(model: Any, pt: Point) -> None:
    """Load a MISOCP point into the Pyomo model's variable values (the share y as u = y / b)."""
    for name, vals in (("x", pt.x), ("u", pt.y / model.uplink_full_s), ("t", pt.t), ("e", pt.e), ("r", pt.r)):
        var = getattr(model, name)
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

        # Pyomo reads config.time_limit only after translating the model for SCIP, which at scale takes
        # longer than building it (e.g. 500x30), so the limit is set here, from the slot's deadline.
        deadline: float | None = None
        translate_s: float = 0.0

        def _create_solver_model(self, model: Any, config: Any) -> Any:
            t0 = time.perf_counter()
            out = super()._create_solver_model(model, config)
            self.translate_s = time.perf_counter() - t0
            if self.deadline is not None:
                config.time_limit = max(0.0, self.deadline - time.perf_counter() - _MARGIN_S)
            return out

    return _ScipDirectFullStart()


#: SCIP's status -> the status uara reports (cvxpy's STATUS_MAP pattern). "optimal" is
#: claimed only when the re-scored gap is within max(option ``gap``, PROVEN_GAP) (else "feasible").
SCIP_STATUS = {
    "optimal": Status.OPTIMAL,
    "gaplimit": Status.OPTIMAL,
    "timelimit": Status.TIME_LIMIT,
    "userinterrupt": Status.TIME_LIMIT,
    "nodelimit": Status.TIME_LIMIT,
    "memlimit": Status.TIME_LIMIT,
    "infeasible": Status.FEASIBLE,  # impossible with a feasible warm start: SCIP's tolerances; keep the incumbent
    "skipped": Status.TIME_LIMIT,  # no time left for SCIP after the warm starts
}

#: Seconds of a slot's share kept back for reading SCIP's answer and re-scoring.
_MARGIN_S = 0.05
#: Building the Pyomo model and translating it for SCIP takes about MODEL_S_REFERENCE seconds at
#: MODEL_PAIRS_REFERENCE usable pairs and grows as pairs^MODEL_GROWTH (measured 2026-12-03 on the
#: project's 2-core x86_64 machine: 1.85 s at 180x20 = 3600 pairs, 18.3 s at 500x30 = 15000 pairs,
#: of which 16.8 s translation); SCIP is skipped when that alone would pass the slot's deadline.
MODEL_S_REFERENCE, MODEL_PAIRS_REFERENCE, MODEL_GROWTH = 1.85, 3600, 1.6


def model_seconds_estimate(num_pairs: int) -> float:
    """Seconds to build and translate the MISOCP of ``num_pairs`` usable pairs (the constants above)."""
    return MODEL_S_REFERENCE * (num_pairs / MODEL_PAIRS_REFERENCE) ** MODEL_GROWTH


@dataclass
class _Incumbent:
    """The best decision known so far and where it came from."""

    assoc: np.ndarray
    y: np.ndarray
    z: np.ndarray
    objective: float
    source: str


#: ``scip_status`` when the warm start is already proven within ``gap`` by the Lagrangian bound.
SCIP_NOT_RUN = "not run: warm start proven by the Lagrangian bound"


@dataclass
class _ScipRun:
    status: str
    nodes: int = 0
    dual: float | None = None
    primal: float | None = None
    x: np.ndarray | None = None  # x_p of SCIP's best solution, if any
    time_s: float = 0.0
    build_s: float = 0.0  # building the Pyomo model and its warm start point
    translate_s: float = 0.0  # Pyomo translating it into SCIP's model


class ExactSolver(Solver):
    name = "exact"
    description = "P1 as a convex MISOCP (Pyomo model, SCIP branch-and-bound): proven optimum or proven gap"
    requires: ClassVar[tuple[str, ...]] = ("pyomo", "pyscipopt")
    extra: ClassVar[str | None] = "exact"
    EXACT = True
    PROVIDES_BOUND = True
    Options: ClassVar[type] = ExactOptions
    VERSION = 9  # 9: SCIP's time limit set after Pyomo's translation, the whole slot to relax when the model cannot be built in time, relax's bound as its float; 8: relax's pipeline as the warm start (was TMA + local search + a dual rounding); 3: every step within the slot's share of the run's time limit; 4: feastol 1e-6; 5: warm-started band prices in the search; 6: share variable u = y / b (scaled cone), physical energy model; 7: the warm start within WARM_START_SHARE of the slot
    CORE = ("lagrangian", "local_search", "misocp")  # (and relax's, whose pipeline is the warm start)

    @classmethod
    def import_solver(cls) -> None:
        import pyomo.environ  # noqa: F401
        import pyscipopt  # noqa: F401
        from pyomo.contrib.solver.solvers.scip.scip_direct import ScipDirect  # noqa: F401

    def memory_estimate_bytes(self, num_devices: int, num_servers: int) -> float:
        """The move/swap search's peak (:func:`uara.solvers.core.local_search.peak_bytes`)."""
        return peak_bytes(num_devices, num_servers)

    def check_options(self) -> None:
        if not (0 <= self.options.gap < 1):
            raise SolverError(f"solver 'exact': option gap must be in [0, 1), got {self.options.gap}")
        if not (0 < self.options.feastol < 1e-2):
            raise SolverError(f"solver 'exact': option feastol must be in (0, 0.01), got {self.options.feastol}")

    def solve_slot(self, sd: SlotData, ctx: SolveContext) -> SlotDecision:
        """Warm starts and the Lagrangian bound, then SCIP on the MISOCP for what is left of the slot's share."""
        try:
            import pyomo.environ  # noqa: F401
            import pyscipopt  # noqa: F401
        except ImportError as exc:  # pragma: no cover - guarded by Solver.missing
            raise MissingDependencyError(exc.name or "pyscipopt", "exact", feature="solver 'exact'") from None
        t_start = time.perf_counter()
        pairs = usable_pairs(sd)
        if np.any(np.bincount(pairs.device, minlength=sd.num_devices) == 0):
            raise SolverError("exact: a device has no usable server (no path above the gain floor)")
        const = sd.constant
        left = ctx.remaining_s()
        scip_fits = left is None or model_seconds_estimate(pairs.size) <= (1.0 - WARM_START_SHARE) * left
        inc, ws_bound = self._warm_starts(sd, pairs, ctx, WARM_START_SHARE if scip_fits else 1.0)
        ws = inc
        warm_s = time.perf_counter() - t_start
        proven = relative_gap(inc.objective, ws_bound, const)
        if proven is not None and proven <= self.options.gap:
            run = _ScipRun(SCIP_NOT_RUN)  # the Lagrangian certificate already proves the warm start
        else:
            run = self._scip(sd, pairs, inc, ctx)
        if run.x is not None:
            cand = pairs.to_matrix(run.x).argmax(axis=1)
            alloc = exact_allocation(sd, cand)
            cand_eval = evaluate(sd, cand, alloc.bandwidth_share, alloc.compute_share)
            if cand_eval.feasible and cand_eval.objective <= inc.objective:
                inc = _Incumbent(cand, alloc.bandwidth_share, alloc.compute_share, cand_eval.objective, "scip")
        lower = ws_bound  # relax's certified bound, as relax reports it (no re-rounding through I - C)
        if run.dual is not None and math.isfinite(run.dual) and const + run.dual > lower:
            lower = const + run.dual
            if inc.objective < lower <= inc.objective + 1e-6 * max(inc.objective - const, 1e-12):
                lower = inc.objective  # SCIP's feasibility tolerance: a bound a hair above the re-scored optimum
        ctx.record(inc.objective, lower)
        status = SCIP_STATUS.get(run.status, Status.FEASIBLE)
        tolerance = max(self.options.gap, PROVEN_GAP)
        if proven_optimal(inc.objective, lower, const, tolerance):
            status = Status.OPTIMAL  # proven by the bound, whatever stopped SCIP (its own dual can stall above)
        elif status == Status.OPTIMAL:
            status = Status.FEASIBLE  # SCIP's optimum, re-scored, is not proven within the tolerance
        info = {
            "scip_status": run.status, "nodes": run.nodes,
            "scip_primal": None if run.primal is None else const + run.primal,
            "scip_dual": None if run.dual is None or not math.isfinite(run.dual) else const + run.dual,
            "lagrangian_bound": ws_bound, "scip_time_s": run.time_s, "warm_start_time_s": warm_s,
            "build_time_s": run.build_s, "translate_time_s": run.translate_s,
            "warm_start_objective": ws.objective, "warm_start_source": ws.source,
            "incumbent_source": "scip" if inc is not ws else "warm_start", "pairs": pairs.size,
            "warm_start_bound": ws_bound,
        }
        return SlotDecision(inc.assoc, inc.y, inc.z, status=status, lower_bound=lower, info=info)

    def _warm_starts(self, sd: SlotData, pairs: Pairs, ctx: SolveContext, share: float) -> tuple[_Incumbent, float]:
        """``relax``'s pipeline (:func:`uara.solvers.p1.relax.relax_slot`: relaxation, certified dual
        bound, rounding, move/swap search) within ``share`` of the slot (WARM_START_SHARE, or all of it
        when the MISOCP could not even be built in the rest: then SCIP is skipped); returns its decision and
        its certified bound on I (the same float relax reports), so exact never ends worse than relax in
        that share, or with a lower bound."""
        from uara.solvers.p1.relax import relax_slot, warm_start_options

        out = relax_slot(sd, ctx.with_share(share), warm_start_options())
        inc = _Incumbent(out.association, out.bandwidth_share, out.compute_share, out.objective, "relax")
        return inc, float(out.lower_bound)

    def _scip(self, sd: SlotData, pairs: Pairs, inc: _Incumbent, ctx: SolveContext) -> _ScipRun:
        """Build the MISOCP, start it from ``inc`` and run SCIP until the slot's deadline (less the
        time the model took to build, which Pyomo spends again translating it for SCIP)."""
        opts = self.options
        t0 = time.perf_counter()
        left = ctx.remaining_s()
        if left is not None and left <= 2 * _MARGIN_S:
            return _ScipRun("skipped")
        if left is not None and model_seconds_estimate(pairs.size) > left:
            return _ScipRun("skipped")  # building and translating the model alone would pass the deadline
        model = build_model(pairs, inc.objective - sd.constant, perspective=opts.perspective)
        if opts.warm_start:
            set_point(model, point_from_decision(pairs, inc.assoc, inc.y))
        build_s = time.perf_counter() - t0
        config = self._scip_config(ctx)
        solver = _scip_solver()
        if ctx.deadline is not None:
            if ctx.remaining_s() <= 2 * _MARGIN_S:
                return _ScipRun("skipped", build_s=build_s)
            solver.deadline = ctx.deadline  # limits/time: what is left once the model is translated
        res = solver.solve(model, **config)
        scip = solver._solver_model
        run = _ScipRun(str(scip.getStatus()), int(scip.getNNodes()), res.objective_bound, res.incumbent_objective,
                       time_s=float(scip.getSolvingTime()), build_s=build_s, translate_s=solver.translate_s)
        if run.dual is not None:
            run.dual = float(run.dual)
        if run.primal is not None:
            run.primal = float(run.primal)
        if res.solution_loader.get_number_of_solutions() > 0:
            res.solution_loader.load_vars()
            run.x = np.array([model.x[p].value or 0.0 for p in range(pairs.size)])
        return run

    def _scip_config(self, ctx: SolveContext) -> dict[str, Any]:
        opts = self.options
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
        if ctx.threads and ctx.threads > 1:
            config["threads"] = int(ctx.threads)
        if opts.tee:
            import sys

            config["tee"] = [sys.stdout]
        return config
