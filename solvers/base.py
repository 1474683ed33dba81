"""The solver interface every back-end implements.

Modelled on cvxpy's ``Solver`` (a name, capability flags, ``is_installed``
that catches a missing optional package, lazy imports) and Pyomo's contrib
results (termination status, incumbent, bound, timing). A back-end writes one
method, :meth:`Solver.solve_slot`, that returns decisions for one slot; the
shared :meth:`Solver.solve` loops over slots, enforces the time limit,
re-scores everything with :mod:`uara.model.evaluator` and assembles the
:class:`uara.model.solution.Solution`. So every back-end is scored identically and a
time-limited run is never reported as optimal.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import time
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

import numpy as np

from uara.errors import MissingDependencyError, SolverError, UaraError
from uara.model.evaluator import Evaluation
from uara.model.formulation import SlotData, slot_data
from uara.model.instance import Instance
from uara.model.solution import SlotDecision, Solution, aggregate_status
from uara.solvers.driver import OPTIMALITY_TOL, check_memory, check_run_arguments, check_seed, slot_deadline, vet_claims
from uara.solvers.options import NoOptions, parse_options

__all__ = ["OPTIMALITY_TOL", "NoOptions", "SlotDecision", "SolveContext", "Solver", "capabilities", "check_seed",
           "parse_options", "slot_deadline"]


@dataclass
class SolveContext:
    """What a back-end may use while solving one slot.

    ``rng`` is seeded from (seed, slot index), so results do not depend on the
    order slots are solved in. ``deadline`` is this slot's deadline (a
    ``time.perf_counter`` value, or None without a time limit), computed once by
    the driver (:func:`slot_deadline`); every step of every back-end (warm start,
    conic solve, local search, SCIP, pricing) stops by it.
    """

    seed: int
    slot: int
    rng: np.random.Generator
    deadline: float | None
    threads: int
    instance: Instance
    log: Callable[[str], None] | None = None
    trace: list[dict[str, float]] = field(default_factory=list)

    def remaining_s(self) -> float | None:
        """Seconds left before this slot's deadline (None without a limit)."""
        if self.deadline is None:
            return None
        return max(0.0, self.deadline - time.perf_counter())

    def out_of_time(self) -> bool:
        return self.deadline is not None and time.perf_counter() >= self.deadline

    def with_share(self, fraction: float) -> "SolveContext":
        """This context with a deadline ``fraction`` of the time left from now (a step that must leave
        time for the ones after it, e.g. a warm start before a branch-and-bound); the trace is shared."""
        if self.deadline is None:
            return self
        now = time.perf_counter()
        return dataclasses.replace(self, deadline=now + fraction * max(0.0, self.deadline - now))

    def record(self, incumbent: float, bound: float | None = None) -> None:
        """Anytime trace (benchopt style): incumbent and bound against time."""
        self.trace.append({"time_s": time.perf_counter(), "incumbent": incumbent, "bound": bound if bound is not None else float("nan")})


class Solver:
    """Base class of all back-ends.

    Class attributes (capability flags):
        name: registry name, e.g. ``"max-sinr"``.
        description: one line for ``uara solvers``.
        requires: importable module names the back-end needs (optional extras).
        extra: the pip extra that installs them (``pip install 'uara[extra]'``).
        EXACT: can prove optimality.
        PROVIDES_BOUND: returns a proven lower bound.
        STOCHASTIC: the result depends on the seed.
        Options: a dataclass of the back-end's options with defaults.
        VERSION: version of the back-end's code; bump it when a change alters its
            results, so stored comparison runs made with older code are redone.
    """

    name: ClassVar[str] = "?"
    #: the problem family (uara.model.shared.family): "p1" or "pipeline"
    PROBLEM: ClassVar[str] = "p1"
    VERSION: ClassVar[int] = 1
    #: the shared helpers of :mod:`uara.solvers.core` the back-end uses (their versions join its resume key)
    CORE: ClassVar[tuple[str, ...]] = ()
    description: ClassVar[str] = ""
    requires: ClassVar[tuple[str, ...]] = ()
    extra: ClassVar[str | None] = None
    EXACT: ClassVar[bool] = False
    PROVIDES_BOUND: ClassVar[bool] = False
    STOCHASTIC: ClassVar[bool] = False
    Options: ClassVar[type] = NoOptions

    def __init__(self, **options: Any):
        self.options = parse_options(self.Options, options, self.name)
        self.check_options()

    # ---------------------------------------------------------------- plugins
    @classmethod
    def code_version(cls) -> dict[str, Any]:
        """What of the code a stored result depends on, for resume keys: ``VERSION`` and the versions
        of the :data:`CORE` helpers, each left out while it is 1 (so keys made before versions existed
        still match)."""
        from uara.solvers.core import CORE_VERSIONS

        out: dict[str, Any] = {}
        if cls.VERSION != 1:
            out["solver_version"] = cls.VERSION
        core = {name: CORE_VERSIONS[name] for name in sorted(cls.CORE) if CORE_VERSIONS[name] != 1}
        if core:
            out["core"] = core
        return out

    @classmethod
    def is_installed(cls) -> bool:
        """True if every optional module in :attr:`requires` can be imported."""
        return all(importlib.util.find_spec(mod) is not None for mod in cls.requires)

    @classmethod
    def missing(cls) -> list[str]:
        return [mod for mod in cls.requires if importlib.util.find_spec(mod) is None]

    @classmethod
    def import_solver(cls) -> None:
        """Import the optional packages the back-end needs (cvxpy's ``import_solver``). The driver
        calls it before the run's clock starts, so a first import is not charged to the time limit."""
        for mod in cls.requires:
            importlib.import_module(mod)

    def memory_estimate_bytes(self, num_devices: int, num_servers: int) -> float:
        """Peak memory one slot's solve needs, roughly (override where it grows fast, e.g. (M, M) tables).
        The driver refuses, with one line, a run that would need more than the machine has available."""
        return 0.0

    def check_options(self) -> None:
        """Validate option values; override to add checks (raise SolverError)."""

    def solve_slot(self, sd: SlotData, ctx: SolveContext) -> SlotDecision:  # pragma: no cover - abstract
        raise NotImplementedError

    # ---------------------------------------------------------------- driver
    def solve(
        self,
        instance: Instance,
        *,
        time_limit: float | None = None,
        seed: int = 0,
        threads: int = 1,
        slots: list[int] | None = None,
        log: Callable[[str], None] | None = None,
    ) -> Solution:
        """Solve every slot (or the given ones) of ``instance`` and return a re-scored :class:`Solution`.

        ``time_limit`` (seconds) covers the whole run; each slot gets an even share of
        what is left when it starts (:func:`slot_deadline`). ``log`` receives one progress line per slot.
        """
        missing = self.missing()
        if missing:
            raise MissingDependencyError(missing[0], self.extra or "all", feature=f"solver '{self.name}'")
        check_run_arguments(time_limit=time_limit, seed=seed, threads=threads)
        indices = self._check_request(instance, slots)
        self._check_memory(instance.num_devices, instance.num_servers)
        type(self).import_solver()
        start = time.perf_counter()
        run_deadline = None if time_limit is None else start + float(time_limit)
        # the fingerprint first, inside the time limit (hashing a 5000 x 200 instance takes 0.4 s; computed after
        # the slots it ran the run past its limit)
        fingerprint = (instance if slots is None else instance.slot_subset(indices)).fingerprint()
        decisions: list[SlotDecision] = []
        evaluations = []
        traces: list[list[dict[str, float]]] = []
        for pos, t in enumerate(indices):
            t0 = time.perf_counter()
            ctx = SolveContext(seed=seed, slot=t, rng=np.random.default_rng([seed, t]),
                               deadline=slot_deadline(run_deadline, t0, len(indices) - pos),
                               threads=threads, instance=instance, log=log)
            sd = slot_data(instance, t)
            dec = self._solve_one(sd, ctx)
            dec.info.setdefault("wall_time_s", time.perf_counter() - t0)
            if ctx.deadline is not None:
                dec.info.setdefault("time_share_s", ctx.deadline - t0)
            ev = self._vet(dec, sd)
            if log is not None:
                bound = "" if dec.lower_bound is None else f", bound {dec.lower_bound:.10g}"
                log(f"{self.name}: slot {t} ({pos + 1}/{len(indices)}): I = {ev.objective:.10g}{bound}, "
                    f"{dec.status.value}, {dec.info['wall_time_s']:.2f} s")
            if ctx.trace:
                traces.append([{**p, "time_s": p["time_s"] - start} for p in ctx.trace])
            decisions.append(dec)
            evaluations.append(ev)
        info: dict[str, Any] = {"capabilities": capabilities(type(self))}
        if traces:
            info["trace"] = traces
        return Solution(
            instance=instance.name, solver=self.display_name, status=aggregate_status([d.status for d in decisions]),
            slots=decisions, evaluations=evaluations, wall_time_s=time.perf_counter() - start,
            options=dataclasses.asdict(self.options), seed=seed, instance_fingerprint=fingerprint, info=info,
        )

    def _check_request(self, instance: Any, slots: Any) -> list[int]:
        """The slots to solve, after one-line errors for what a run cannot be given: not a P1 instance, an
        instance whose arrays were changed into invalid values after loading (NaN gains are re-checked
        here, not solved), slots that are not distinct indices of the instance."""
        if not isinstance(instance, Instance):
            raise SolverError(f"solver '{self.name}' solves P1 instances (uara.Instance), not {type(instance).__name__}")
        instance.validate()
        if slots is None:
            return list(range(instance.num_slots))
        if isinstance(slots, (str, bytes)) or not hasattr(slots, "__iter__"):
            raise SolverError(f"slots: expected a list of slot indices, got {slots!r}")
        indices = list(slots)
        if not indices:
            raise SolverError("slots: empty list (give at least one slot index, or None for every slot)")
        for k, t in enumerate(indices):
            if isinstance(t, bool) or not isinstance(t, (int, np.integer)) or not 0 <= t < instance.num_slots:
                raise SolverError(f"slots[{k}]: {t!r} is not a slot of {instance.name!r} (0..{instance.num_slots - 1})")
        if len(set(indices)) != len(indices):
            twice = next(t for t in indices if indices.count(t) > 1)
            raise SolverError(f"slots: slot {twice} given twice")
        return [int(t) for t in indices]

    def _solve_one(self, sd: SlotData, ctx: SolveContext) -> SlotDecision:
        """``solve_slot``, with a back-end's failure as one line: an exception that is not a
        :class:`UaraError` or a result that is not a :class:`SlotDecision` (a custom back-end's bug)."""
        try:
            dec = self.solve_slot(sd, ctx)
        except UaraError:
            raise
        except Exception as exc:  # noqa: BLE001 - a back-end bug, reported as the solver's error
            raise SolverError(f"solver '{self.name}' failed on slot {ctx.slot}: {type(exc).__name__}: {exc}") from exc
        if not isinstance(dec, SlotDecision):
            raise SolverError(f"solver '{self.name}': solve_slot returned {type(dec).__name__} for slot {ctx.slot}, "
                              "not a SlotDecision")
        return dec

    def _check_memory(self, m: int, e: int) -> None:
        check_memory(self.name, self.memory_estimate_bytes(m, e), f"M = {m} devices and E = {e} servers",
                     "use a smaller instance or a solver whose tables grow slower (relax with solver=lagrangian, max-sinr)")

    @staticmethod
    def _vet(dec: SlotDecision, sd: SlotData) -> Evaluation:
        """Re-score a back-end's decisions and downgrade claims they do not support
        (:func:`uara.solvers.driver.vet_claims`)."""
        ev = dec.evaluate(sd)
        dec.status, dec.lower_bound = vet_claims(ev.objective, ev.constant, ev.violations, dec.status,
                                                 dec.lower_bound, dec.info)
        return ev

    @property
    def display_name(self) -> str:
        return self.name


def capabilities(cls: type[Solver]) -> dict[str, bool]:
    return {"exact": cls.EXACT, "provides_bound": cls.PROVIDES_BOUND, "stochastic": cls.STOCHASTIC}
