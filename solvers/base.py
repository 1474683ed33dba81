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
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

import numpy as np

from uara.errors import MissingDependencyError, SolverError
from uara.io import available_memory_bytes
from uara.model.evaluator import Evaluation
from uara.model.formulation import SlotData, slot_data
from uara.model.instance import Instance
from uara.model.solution import SlotDecision, Solution, Status, aggregate_status, relative_gap

#: A solve reports "optimal" only if its proven gap is at most this.
OPTIMALITY_TOL = 1e-6


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

    def record(self, incumbent: float, bound: float | None = None) -> None:
        """Anytime trace (benchopt style): incumbent and bound against time."""
        self.trace.append({"time_s": time.perf_counter(), "incumbent": incumbent, "bound": bound if bound is not None else float("nan")})


def slot_deadline(run_deadline: float | None, now: float, slots_left: int) -> float | None:
    """The deadline of the next slot: an even share of the time left,
    now + (run_deadline - now) / slots_left, so time a slot leaves unused goes to the later ones."""
    if run_deadline is None:
        return None
    return now + max(0.0, run_deadline - now) / max(1, slots_left)


@dataclass
class NoOptions:
    """A solver without options."""


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
    #: the problem family: "p1" (uara-instance/1) or "pipeline" (uara-pipeline-instance/1)
    PROBLEM: ClassVar[str] = "p1"
    VERSION: ClassVar[int] = 1
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
        if time_limit is not None and not (isinstance(time_limit, (int, float)) and math.isfinite(time_limit) and time_limit > 0):
            raise SolverError(f"--time-limit must be positive seconds, got {time_limit}")
        check_seed(seed)
        if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
            raise SolverError(f"--threads must be a positive integer, got {threads!r}")
        indices = list(range(instance.num_slots)) if slots is None else list(slots)
        self._check_memory(instance.num_devices, instance.num_servers)
        type(self).import_solver()
        start = time.perf_counter()
        run_deadline = None if time_limit is None else start + float(time_limit)
        decisions: list[SlotDecision] = []
        evaluations = []
        traces: list[list[dict[str, float]]] = []
        for pos, t in enumerate(indices):
            t0 = time.perf_counter()
            ctx = SolveContext(seed=seed, slot=t, rng=np.random.default_rng([seed, t]),
                               deadline=slot_deadline(run_deadline, t0, len(indices) - pos),
                               threads=threads, instance=instance, log=log)
            sd = slot_data(instance, t)
            dec = self.solve_slot(sd, ctx)
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
        sub = instance if slots is None else instance.slot_subset(indices)
        info: dict[str, Any] = {"capabilities": capabilities(type(self))}
        if traces:
            info["trace"] = traces
        return Solution(
            instance=instance.name, solver=self.display_name, status=aggregate_status([d.status for d in decisions]),
            slots=decisions, evaluations=evaluations, wall_time_s=time.perf_counter() - start,
            options=dataclasses.asdict(self.options), seed=seed, instance_fingerprint=sub.fingerprint(), info=info,
        )

    def _check_memory(self, m: int, e: int) -> None:
        need = self.memory_estimate_bytes(m, e)
        avail = available_memory_bytes()
        if need > 0 and avail is not None and need > 0.8 * avail:
            raise SolverError(f"solver '{self.name}' needs about {need / 2**30:.1f} GiB for M = {m} devices and E = {e} "
                              f"servers, more than the {avail / 2**30:.1f} GiB available here; use a smaller instance "
                              "or a solver whose tables grow slower (relax with solver=lagrangian, max-sinr)")

    @staticmethod
    def _vet(dec: SlotDecision, sd: SlotData) -> Evaluation:
        """Re-score a back-end's decisions and downgrade claims they do not support:
        infeasible decisions make the slot an error, a bound above the incumbent is
        dropped, and "optimal" without a matching bound becomes "feasible"."""
        ev = dec.evaluate(sd)
        if ev.violations:
            dec.status = Status.ERROR
            dec.info["error"] = f"solver returned infeasible decisions: {ev.violations[0]}"
        elif dec.lower_bound is not None and dec.lower_bound > ev.objective * (1 + 1e-9) + 1e-9:
            dec.info["warning"] = f"claimed bound {dec.lower_bound} exceeds the incumbent {ev.objective}; bound dropped"
            dec.lower_bound = None
        if dec.status == Status.OPTIMAL:
            gap = relative_gap(ev.objective, dec.lower_bound, ev.constant)
            if gap is None or gap > OPTIMALITY_TOL:
                dec.status = Status.FEASIBLE
                dec.info["note"] = "optimality claimed without a matching bound; reported as feasible"
        return ev

    @property
    def display_name(self) -> str:
        return self.name


def check_seed(seed: Any) -> None:
    """A run's seed is a non-negative integer (numpy's SeedSequence refuses others with a traceback)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise SolverError(f"--seed must be a non-negative integer, got {seed!r}")


def capabilities(cls: type[Solver]) -> dict[str, bool]:
    return {"exact": cls.EXACT, "provides_bound": cls.PROVIDES_BOUND, "stochastic": cls.STOCHASTIC}


def parse_options(options_cls: type, raw: dict[str, Any], solver_name: str) -> Any:
    """Build the options dataclass from keyword values, converting and checking each value
    against the field's declared type (strings from ``--option key=value`` are converted)."""
    known = {f.name: f for f in dataclasses.fields(options_cls)}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        key_n = key.replace("-", "_")
        if key_n not in known:
            names = ", ".join(sorted(known)) or "none"
            raise SolverError(f"solver '{solver_name}' has no option '{key}' (options: {names})")
        values[key_n] = _convert(value, known[key_n], solver_name)
    return options_cls(**values)


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _convert(value: Any, f: dataclasses.Field, solver_name: str) -> Any:
    """``value`` as the field's declared type (bool, int, float or str, optionally ``| None``)."""
    typ = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    base = typ.split("|")[0].strip()
    if "None" in typ and (value is None or (isinstance(value, str) and value.lower() in ("none", "null"))):
        return None
    bad = SolverError(f"solver '{solver_name}': option '{f.name}' expects {typ}, got {value!r}")
    if base == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in _TRUE + _FALSE:
            return value.lower() in _TRUE
        raise bad
    if base in ("int", "float"):
        if isinstance(value, bool):
            raise bad
        if isinstance(value, str):
            try:
                value = int(value) if base == "int" else float(value)
            except ValueError:
                raise bad from None
        if base == "int" and not isinstance(value, (int, np.integer)):
            raise bad
        if not isinstance(value, (int, float, np.integer, np.floating)) or not math.isfinite(value):
            raise bad
        return int(value) if base == "int" else float(value)
    if base == "str" and not isinstance(value, str):
        raise bad
    return value
