"""Solutions of the pipelined serving problem: the ``PIPELINE_SOLUTION_FORMAT`` record.

Like P1's :class:`uara.model.solution.Solution` (Pyomo's results record): who solved what, with which
options and seed, the status, the decision, the evaluator's score of it, a proven lower bound where a
back-end has one, and the wall time. :func:`verify_serving_solution` re-scores a record against its
instance (``uara validate``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from uara.errors import SolutionError
from uara.io import atomic_write_json
from uara.model.pipeline.schedule import ServingDecision, ServingEvaluation, evaluate_schedule
from uara.model.pipeline.serving_instance import PipelineInstance
from uara.model.solution import Status
from uara.model.verify import check_bound_value, check_fingerprint

from uara.model.shared.formats import PIPELINE_SOLUTION_FORMAT  # noqa: E402


@dataclass
class ServingSolution:
    """One back-end's answer to one :class:`PipelineInstance`, re-scored by the evaluator."""

    instance: str
    instance_fingerprint: str
    solver: str
    status: Status
    decision: ServingDecision
    evaluation: ServingEvaluation
    wall_time_s: float
    options: Mapping[str, Any] = field(default_factory=dict)
    seed: int = 0
    lower_bound_s: float | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def objective_s(self) -> float:
        return self.evaluation.objective_s

    @property
    def feasible(self) -> bool:
        return self.evaluation.feasible

    def to_dict(self) -> dict[str, Any]:
        return {"format": PIPELINE_SOLUTION_FORMAT, "instance": self.instance,
                "instance_fingerprint": self.instance_fingerprint, "solver": self.solver,
                "status": self.status.value, "objective_s": self.objective_s, "lower_bound_s": self.lower_bound_s,
                "wall_time_s": self.wall_time_s, "seed": self.seed, "options": dict(self.options),
                "decision": self.decision.to_dict(), "evaluation": self.evaluation.to_dict(), "info": self.info}

    def save(self, path: str | Path) -> Path:
        return atomic_write_json(path, self.to_dict())


def verify_serving_solution(record: Mapping[str, Any], inst: PipelineInstance, *, rtol: float = 1e-9) -> ServingEvaluation:
    """Re-score a solution record: the fingerprint must match, the decision must be feasible and its
    objective must equal the recorded one (relative ``rtol``); raises :class:`SolutionError` otherwise."""
    if record.get("format") != PIPELINE_SOLUTION_FORMAT:
        raise SolutionError("format", f"expected {PIPELINE_SOLUTION_FORMAT!r}, got {record.get('format')!r}")
    check_fingerprint(record, inst)
    dec = ServingDecision.from_dict(record.get("decision"), "decision")
    ev = evaluate_schedule(inst, dec)
    if ev.violations:
        raise SolutionError("decision", f"infeasible: {ev.violations[0]}")
    claimed = record.get("objective_s")
    if not isinstance(claimed, (int, float)) or abs(ev.objective_s - claimed) > rtol * max(1.0, abs(ev.objective_s)):
        raise SolutionError("objective_s", f"recorded {claimed!r}, the evaluator gives {ev.objective_s!r}")
    check_bound_value("lower_bound_s", record.get("lower_bound_s"), ev.objective_s, rtol)
    return ev
