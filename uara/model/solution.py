"""Solutions: the ``SOLUTION_FORMAT`` record every back-end returns.

Like Pyomo's contrib ``Results``: a termination condition, the incumbent
objective (always re-scored by :mod:`uara.model.evaluator`, never the solver's own
claim), an optional proven lower bound, the gap computed one way for every
back-end, timings and solver-specific extras.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from uara.errors import SolutionError
from uara.model.evaluator import Evaluation, evaluate
from uara.model.formulation import SlotData, slot_data
from uara.model.instance import Instance
from uara.io import atomic_write_json, read_json

from uara.model.shared.formats import SOLUTION_FORMAT  # noqa: E402


class Status(str, enum.Enum):
    """How a solve ended (the ``status`` field)."""

    OPTIMAL = "optimal"  # proven optimal (gap within tolerance)
    FEASIBLE = "feasible"  # a feasible solution, no optimality claim (heuristics)
    TIME_LIMIT = "time_limit"  # stopped by the time limit; best solution returned
    ITERATION_LIMIT = "iteration_limit"
    INFEASIBLE = "infeasible"
    ERROR = "error"

    def __str__(self) -> str:  # pragma: no cover - cosmetic
        return self.value


#: A slot is reported "optimal" when its re-scored objective is within this relative gap (of I - C) of a
#: proven lower bound. Re-scoring a solver's decision with the evaluator leaves gaps of 1e-7 to 1e-6 at a
#: true optimum (SCIP's feasibility tolerance, the conic solver's), so "optimal" cannot mean 0.
PROVEN_GAP = 1e-5

#: The longest draft length a decision may set (the simulator's ``Decoding.max_draft_length``).
MAX_DRAFT_LENGTH = 64


def checked_draft_lengths(values: Any, m: int, where: str = "draft_length") -> np.ndarray:
    """(M,) integer draft lengths in 1..:data:`MAX_DRAFT_LENGTH` from ``values``; otherwise a
    :class:`SolutionError` naming ``where`` (and the first bad entry)."""
    g = np.asarray(values)
    if g.shape != (m,):
        raise SolutionError(where, f"expected {m} values, got shape {g.shape}")
    as_float = g.astype(float) if g.dtype.kind in "iufb" else np.full(g.shape, np.nan)
    bad = np.flatnonzero(~np.isfinite(as_float) | (as_float != np.round(as_float)) | (as_float < 1)
                         | (as_float > MAX_DRAFT_LENGTH))
    if bad.size:
        raise SolutionError(f"{where}[{bad[0]}]", f"expected a draft length in 1..{MAX_DRAFT_LENGTH}, got {g[bad[0]]}")
    return g.astype(np.intp)


def proven_optimal(objective: float, lower_bound: float | None, constant: float, tolerance: float = PROVEN_GAP) -> bool:
    """True when ``lower_bound`` proves ``objective`` within ``tolerance`` (:data:`PROVEN_GAP`)."""
    gap = relative_gap(objective, lower_bound, constant)
    return gap is not None and gap <= tolerance


def relative_gap(objective: float, lower_bound: float | None, constant: float) -> float | None:
    """gap = (I - LB) / (I - C): relative to the controllable part of I (docs/model.md).

    Returns None without a bound. Tiny negative values from rounding are clipped to 0.
    """
    if lower_bound is None or not math.isfinite(objective) or not math.isfinite(lower_bound):
        return None
    denom = objective - constant
    if denom <= 0:
        return 0.0
    return max(0.0, (objective - lower_bound) / denom)


def aggregate_status(statuses: list[Status]) -> Status:
    """The status of a run from its slots' statuses: the worst of error > infeasible > time
    limit > iteration limit; optimal only if every slot is; feasible otherwise."""
    for worst in (Status.ERROR, Status.INFEASIBLE, Status.TIME_LIMIT, Status.ITERATION_LIMIT):
        if worst in statuses:
            return worst
    if statuses and all(s == Status.OPTIMAL for s in statuses):
        return Status.OPTIMAL
    return Status.FEASIBLE


#: The top-level fields of a ``SOLUTION_FORMAT`` record (:meth:`Solution.to_dict` writes them all).
SOLUTION_KEYS = {"format", "instance", "instance_fingerprint", "solver", "options", "seed", "status", "objective",
                 "constant", "controllable", "lower_bound", "gap", "wall_time_s", "feasible", "breakdown", "slots",
                 "latency", "info"}


@dataclass
class SlotDecision:
    """Decisions of one slot, the record a solution stores and every back-end returns.

    Per device (shape (M,)): its server ``association`` (0-based int), its share
    ``bandwidth_share`` y_i of that server's band and ``compute_share`` z_i of its
    compute (the x_ij, y_ij, z_ij of the paper with the zeros dropped). Plus how the
    slot's solve ended (``status``), a proven ``lower_bound`` on I(t) if any, and
    back-end extras in ``info``.

    ``draft_length`` (M,) ints, or None: each device's draft length, a decision of latency-aware UARA
    (docs/latency_aware.md); None keeps every task's own. P1's objective I does not depend on it; the
    PSD simulator's latency does.
    """

    association: np.ndarray
    bandwidth_share: np.ndarray
    compute_share: np.ndarray
    lower_bound: float | None = None
    info: dict[str, Any] = field(default_factory=dict)
    status: Status = Status.FEASIBLE
    draft_length: np.ndarray | None = None

    def __post_init__(self) -> None:
        raw = np.asarray(self.association)
        if raw.dtype.kind not in "iu":  # a fractional index would be truncated (0.9 -> server 0) silently
            as_float = np.asarray(raw, dtype=float) if raw.dtype.kind in "fb" else None
            bad = None if as_float is None else np.flatnonzero(~np.isfinite(as_float) | (as_float != np.round(as_float)))
            if as_float is None or bad.size:
                k = 0 if bad is None or not bad.size else int(bad[0])
                raise SolutionError(f"association[{k}]", f"expected a server index (an integer), got "
                                                         f"{raw.ravel()[k].item() if raw.size else raw!r}")
        self.association = raw.astype(np.intp)
        self.bandwidth_share = np.asarray(self.bandwidth_share, dtype=float)
        self.compute_share = np.asarray(self.compute_share, dtype=float)
        if self.draft_length is not None:
            self.draft_length = checked_draft_lengths(self.draft_length, self.association.size)

    def evaluate(self, sd: SlotData) -> Evaluation:
        return evaluate(sd, self.association, self.bandwidth_share, self.compute_share)


@dataclass
class Solution:
    """The result of one solve of one instance (all its slots)."""

    instance: str
    solver: str
    status: Status
    slots: list[SlotDecision]
    evaluations: list[Evaluation]
    wall_time_s: float
    options: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None
    instance_fingerprint: str | None = None
    info: dict[str, Any] = field(default_factory=dict)
    latency: dict[str, Any] | None = None

    # ------------------------------------------------------------- aggregates
    @property
    def objective(self) -> float:
        """sum over slots of I(t), as scored by the evaluator."""
        return float(sum(ev.objective for ev in self.evaluations))

    @property
    def constant(self) -> float:
        return float(sum(ev.constant for ev in self.evaluations))

    @property
    def lower_bound(self) -> float | None:
        """Sum of the slots' proven bounds; None unless every slot has one."""
        bounds = [s.lower_bound for s in self.slots]
        if not bounds or any(b is None for b in bounds):
            return None
        return float(sum(bounds))  # type: ignore[arg-type]

    @property
    def gap(self) -> float | None:
        """(I - LB) / (I - C) as a **fraction** (0.012 = 1.2 %; the CLI prints it as a percentage); None
        without a bound."""
        return relative_gap(self.objective, self.lower_bound, self.constant)

    @property
    def feasible(self) -> bool:
        return all(ev.feasible for ev in self.evaluations)

    @property
    def violations(self) -> list[str]:
        return [f"slots[{t}]: {v}" for t, ev in enumerate(self.evaluations) for v in ev.violations]

    def breakdown(self) -> dict[str, float]:
        """Per-term sums over slots and devices."""
        out: dict[str, float] = {}
        for ev in self.evaluations:
            for k, v in ev.breakdown.items():
                out[k] = out.get(k, 0.0) + v
        return out

    # ------------------------------------------------------------- I/O
    def to_dict(self) -> dict[str, Any]:
        """The ``SOLUTION_FORMAT`` JSON object (docs/formats.md)."""
        slots = []
        for dec, ev in zip(self.slots, self.evaluations):
            slots.append(
                {
                    "association": dec.association.tolist(),
                    "bandwidth_share": dec.bandwidth_share.tolist(),
                    "compute_share": dec.compute_share.tolist(),
                    "objective": ev.objective,
                    "constant": ev.constant,
                    "status": dec.status.value,
                    "lower_bound": dec.lower_bound,
                    "gap": relative_gap(ev.objective, dec.lower_bound, ev.constant),
                    "breakdown": dict(ev.breakdown),
                    "energy_j": ev.energy_j.tolist(),
                    "violations": list(ev.violations),
                    "info": _plain(dec.info),
                }
            )
            if dec.draft_length is not None:
                slots[-1]["draft_length"] = dec.draft_length.tolist()
        return {
            "format": SOLUTION_FORMAT,
            "instance": self.instance,
            "instance_fingerprint": self.instance_fingerprint,
            "solver": self.solver,
            "options": _plain(self.options),
            "seed": self.seed,
            "status": self.status.value,
            "objective": self.objective,
            "constant": self.constant,
            "controllable": self.objective - self.constant,
            "lower_bound": self.lower_bound,
            "gap": self.gap,
            "wall_time_s": self.wall_time_s,
            "feasible": self.feasible,
            "breakdown": self.breakdown(),
            "slots": slots,
            "latency": self.latency,
            "info": _plain(self.info),
        }

    def save(self, path: str | Path) -> Path:
        """Write the solution JSON atomically."""
        return atomic_write_json(path, self.to_dict())

    @classmethod
    def from_dict(cls, data: Any, instance: Instance) -> "Solution":
        """Rebuild a solution from its JSON and re-score it on ``instance``.

        The objective in the file is *not* trusted: it is recomputed here, and
        :func:`check_claimed_objective` compares the two.
        """
        if not isinstance(data, dict) or data.get("format") != SOLUTION_FORMAT:
            raise SolutionError("format", f"expected '{SOLUTION_FORMAT}'")
        unknown = sorted(set(data) - SOLUTION_KEYS)
        if unknown:
            raise SolutionError(unknown[0], f"unknown field of a solution; known fields: {', '.join(sorted(SOLUTION_KEYS))}")
        raw_slots = data.get("slots")
        if not isinstance(raw_slots, list) or len(raw_slots) != instance.num_slots:
            raise SolutionError("slots", f"expected {instance.num_slots} slots for instance {instance.name!r}")
        decisions, evals = [], []
        m = instance.num_devices
        for t, rs in enumerate(raw_slots):
            decisions.append(decision_from_dict(rs, t, m, instance.num_servers))
            evals.append(decisions[-1].evaluate(slot_data(instance, t)))
        try:
            status = Status(data.get("status", "feasible"))
        except ValueError:
            raise SolutionError("status", f"unknown status {data.get('status')!r}") from None
        return cls(
            instance=str(data.get("instance", instance.name)),
            solver=str(data.get("solver", "?")),
            status=status,
            slots=decisions,
            evaluations=evals,
            wall_time_s=_optional_number(data, "wall_time_s"),
            options=data.get("options") or {},
            seed=data.get("seed"),
            instance_fingerprint=data.get("instance_fingerprint"),
            info=data.get("info") or {},
            latency=data.get("latency"),
        )

    @classmethod
    def load(cls, path: str | Path, instance: Instance) -> "Solution":
        """Read and re-score a solution file (no honesty checks: see :func:`uara.model.verify.verify_solution`)."""
        return cls.from_dict(read_json(path, what="solution file"), instance)


def decision_from_dict(raw: Any, t: int, m: int, e: int) -> SlotDecision:
    """One stored slot's decisions, checked strictly: ``association`` holds M integers in [0, E)
    (no fractions, strings or booleans), the shares M finite numbers."""
    where = f"slots[{t}]"
    if not isinstance(raw, dict):
        raise SolutionError(where, "expected an object with association, bandwidth_share and compute_share")
    assoc = _vector(raw, "association", where, m, integer=True)
    if assoc and (min(assoc) < 0 or max(assoc) >= e):
        bad = next(k for k, j in enumerate(assoc) if not 0 <= j < e)
        raise SolutionError(f"{where}.association[{bad}]", f"server index {assoc[bad]} outside 0..{e - 1}")
    y = _vector(raw, "bandwidth_share", where, m, integer=False)
    z = _vector(raw, "compute_share", where, m, integer=False)
    try:
        status = Status(raw.get("status", "feasible"))
    except ValueError:
        raise SolutionError(f"{where}.status", f"unknown status {raw.get('status')!r}") from None
    g = None
    if raw.get("draft_length") is not None:
        g = checked_draft_lengths(_vector(raw, "draft_length", where, m, integer=True), m, f"{where}.draft_length")
    return SlotDecision(np.asarray(assoc, dtype=np.intp), np.asarray(y), np.asarray(z), raw.get("lower_bound"),
                        dict(raw.get("info") or {}), status, g)


def _optional_number(data: dict[str, Any], key: str) -> float:
    value = data.get(key)
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SolutionError(key, f"expected a finite number, got {value!r}")
    return float(value)


def _vector(raw: dict[str, Any], key: str, where: str, m: int, *, integer: bool) -> list[Any]:
    values = raw.get(key)
    if not isinstance(values, list):
        raise SolutionError(f"{where}.{key}", f"expected a list of {m} {'integers' if integer else 'numbers'}")
    if len(values) != m:
        raise SolutionError(f"{where}.{key}", f"expected {m} entries, got {len(values)}")
    for k, v in enumerate(values):
        ok = isinstance(v, int) if integer else isinstance(v, (int, float)) and math.isfinite(v)
        if isinstance(v, bool) or not ok:
            kind = ("an integer server index" if key == "association" else "an integer") if integer else "a finite number"
            raise SolutionError(f"{where}.{key}[{k}]", f"expected {kind}, got {v!r}")
    return values


def _plain(obj: Any) -> Any:
    """Make solver extras JSON-friendly (numpy -> lists / numbers)."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, enum.Enum):
        return obj.value
    return obj
