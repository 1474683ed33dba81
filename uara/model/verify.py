"""Is this run honest? The one check of a stored solution, used everywhere.

``uara validate``, ``uara solve``, the comparison runner and episodes all call
:func:`verify_solution` (or, for one slot of an episode, :func:`verify_slot`),
so the same tampered file is rejected everywhere with the same one-line
message. The checks, in order:

1. format ``SOLUTION_FORMAT`` and well-formed decisions (integer association
   within range, finite numeric shares; :meth:`Solution.from_dict`);
2. fingerprint: ``instance_fingerprint`` equals the SHA-256 of the instance
   the solution is checked against;
3. feasibility: every constraint of P1 holds (the evaluator's violations);
4. per-slot objectives: each stored ``slots[t].objective`` equals I(t)
   re-scored by :func:`uara.model.evaluator.evaluate` (relative ``rtol``);
5. total objective: the stored ``objective`` equals sum_t I(t);
6. bounds: no stored lower bound exceeds its incumbent,
   LB(t) <= I(t) (1 + rtol) + rtol.

Nothing the solver claimed is trusted: every number is recomputed.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

from uara.errors import SolutionError
from uara.model.shared.formats import SOLUTION_FORMAT
from uara.model.evaluator import Evaluation
from uara.model.instance import Instance
from uara.model.solution import Solution, SlotDecision

#: Relative tolerance between a stored objective and the re-scored one.
OBJECTIVE_RTOL = 1e-9


def check_fingerprint(data: Mapping[str, Any], instance: Instance) -> None:
    """Raise unless ``data["instance_fingerprint"]`` names ``instance``."""
    fp = data.get("instance_fingerprint")
    if fp is None:
        raise SolutionError("instance_fingerprint", "missing (the solution does not say which instance it solves)")
    if fp != instance.fingerprint():
        raise SolutionError("instance_fingerprint", f"solution was made for instance {fp}, this one is {instance.fingerprint()}")


def check_feasible(t: int, evaluation: Evaluation) -> None:
    """Raise with the first violated constraint of slot ``t``."""
    if evaluation.violations:
        raise SolutionError(f"slots[{t}]", f"infeasible: {evaluation.violations[0]}")


def check_slot_objective(t: int, claimed: Any, evaluation: Evaluation, rtol: float = OBJECTIVE_RTOL) -> None:
    """Raise unless the stored I(t) equals the re-scored one."""
    field = f"slots[{t}].objective"
    value = _number(claimed, field)
    if not math.isclose(value, evaluation.objective, rel_tol=rtol, abs_tol=1e-12):
        raise SolutionError(field, f"claims {claimed!r}, the evaluator computes {evaluation.objective!r}")


def check_total_objective(claimed: Any, total: float, rtol: float = OBJECTIVE_RTOL) -> None:
    """Raise unless the stored total objective equals sum_t I(t)."""
    value = _number(claimed, "objective")
    if not math.isclose(value, total, rel_tol=rtol, abs_tol=1e-12):
        raise SolutionError("objective", f"claims {claimed!r}, the evaluator computes {total!r}")


def check_bound(t: int, decision: SlotDecision, evaluation: Evaluation, rtol: float = OBJECTIVE_RTOL) -> None:
    """Raise if slot ``t``'s stored lower bound exceeds its incumbent (a bound above a feasible value is false)."""
    check_bound_value(f"slots[{t}].lower_bound", decision.lower_bound, evaluation.objective, rtol)


def check_bound_value(field: str, lb: Any, objective: float, rtol: float = OBJECTIVE_RTOL) -> None:
    """Raise unless ``lb`` is null or a finite number with LB <= v (1 + rtol) + rtol, v the re-scored
    objective: the bound rule of every family (the driver's :func:`uara.solvers.driver.vet_claims` drops
    such a bound before it is stored; a stored one is a tampered or broken record)."""
    if lb is None:
        return
    if not isinstance(lb, (int, float)) or isinstance(lb, bool) or not math.isfinite(lb):
        raise SolutionError(field, f"expected a finite number or null, got {lb!r}")
    if lb > objective * (1 + rtol) + rtol:
        raise SolutionError(field, f"{lb!r} exceeds the re-scored objective {objective!r}")


def verify_slot(t: int, raw: Mapping[str, Any], decision: SlotDecision, evaluation: Evaluation,
                rtol: float = OBJECTIVE_RTOL) -> None:
    """Checks 3, 4 and 6 for one stored slot ``raw`` whose decisions were re-scored as ``evaluation``."""
    check_feasible(t, evaluation)
    if "objective" not in raw:
        raise SolutionError(f"slots[{t}].objective", "missing")
    check_slot_objective(t, raw["objective"], evaluation, rtol)
    check_bound(t, decision, evaluation, rtol)


def verify_solution(data: Any, instance: Instance, *, rtol: float = OBJECTIVE_RTOL) -> Solution:
    """Every check of the module docstring; returns the re-scored :class:`Solution` or raises :class:`SolutionError`."""
    if isinstance(data, Mapping) and data.get("format") == SOLUTION_FORMAT:
        check_fingerprint(data, instance)
    sol = Solution.from_dict(data, instance)
    for t, (raw, dec, ev) in enumerate(zip(data["slots"], sol.slots, sol.evaluations)):
        verify_slot(t, raw, dec, ev, rtol)
    if "objective" not in data:
        raise SolutionError("objective", "missing")
    check_total_objective(data["objective"], sol.objective, rtol)
    return sol


def _number(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SolutionError(field, f"expected a number, got {value!r}")
    return float(value)


__all__ = [
    "OBJECTIVE_RTOL", "check_bound", "check_bound_value", "check_feasible", "check_fingerprint", "check_slot_objective",
    "check_total_objective", "verify_slot", "verify_solution",
]
