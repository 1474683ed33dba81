"""What every run of every back-end goes through, whatever its problem family: the run's
arguments checked once, the time limit split into slot deadlines, the memory guard, and the
vetting of a back-end's claims against the re-scored decision.

The vetting (:func:`vet_claims`) is the honest-run rule of the toolkit:

- a decision the evaluator finds infeasible makes the result an error;
- a claimed lower bound above the re-scored incumbent, LB > v (1 + 1e-9) + 1e-9, is false and is
  dropped (with a warning in the record);
- "optimal" stands only with a matching proven bound, gap = (v - LB) / (v - C) <= PROVEN_GAP (1e-5)
  (C: the part no decision changes; 0 for the pipelined-serving family); otherwise it becomes
  "feasible".

P1's driver (:meth:`uara.solvers.base.Solver.solve`, per slot) and the pipelined-serving driver
(:meth:`uara.solvers.pipeline.serving_base.PipelineSolver.solve`) both call it, and
:mod:`uara.model.verify` applies the same bound rule to stored records.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from uara.errors import SolverError
from uara.io import available_memory_bytes
from uara.model.solution import PROVEN_GAP, Status, relative_gap

#: The largest seed: a run's seeds are stored as 64-bit integers in the results table.
MAX_SEED = 2**63 - 1
#: A solve reports "optimal" only if its proven gap is at most this (:data:`uara.model.solution.PROVEN_GAP`).
OPTIMALITY_TOL = PROVEN_GAP
#: A bound may exceed its incumbent by this much (relative and absolute) before it is called false.
BOUND_TOL = 1e-9


def check_run_arguments(*, time_limit: Any = None, seed: Any = 0, threads: Any = 1) -> None:
    """One-line errors for a run's time limit (positive finite seconds or None), seed (a
    non-negative integer) and threads (a positive integer), before any work."""
    check_seconds(time_limit, "--time-limit")
    check_seed(seed)
    check_count(threads, "--threads")


def check_seconds(value: Any, flag: str) -> None:
    """``value`` is None or positive finite seconds; one line naming ``flag`` otherwise."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer))
                              or not math.isfinite(value) or value <= 0):
        raise SolverError(f"{flag} must be positive seconds, got {value!r}")


def check_count(value: Any, flag: str) -> None:
    """``value`` is a positive integer; one line naming ``flag`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise SolverError(f"{flag} must be a positive integer, got {value!r}")


def check_seed(seed: Any, flag: str = "--seed") -> None:
    """A run's seed is a non-negative integer (numpy's SeedSequence refuses others with a traceback)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed <= MAX_SEED:
        raise SolverError(f"{flag} must be a non-negative integer (at most 2^63 - 1), got {seed!r}")


def slot_deadline(run_deadline: float | None, now: float, slots_left: int) -> float | None:
    """The deadline of the next slot: an even share of the time left,
    now + (run_deadline - now) / slots_left, so time a slot leaves unused goes to the later ones."""
    if run_deadline is None:
        return None
    return now + max(0.0, run_deadline - now) / max(1, slots_left)


def check_memory(solver: str, need_bytes: float, size: str, advice: str) -> None:
    """Refuse with one line a run whose estimated peak (bytes) exceeds 80 % of the memory available."""
    avail = available_memory_bytes()
    if need_bytes > 0 and avail is not None and need_bytes > 0.8 * avail:
        raise SolverError(f"solver '{solver}' needs about {need_bytes / 2**30:.1f} GiB for {size}, more than the "
                          f"{avail / 2**30:.1f} GiB available here; {advice}")


def bound_exceeds(bound: float, incumbent: float, tol: float = BOUND_TOL) -> bool:
    """LB > v (1 + tol) + tol: a lower bound above a feasible value is false."""
    return bound > incumbent * (1 + tol) + tol


def vet_claims(objective: float, constant: float, violations: list[str], status: Status, bound: float | None,
               info: dict[str, Any]) -> tuple[Status, float | None]:
    """The module docstring's rule: returns the (status, bound) that the re-scored decision supports,
    and notes in ``info`` what was changed."""
    if violations:
        info["error"] = f"solver returned infeasible decisions: {violations[0]}"
        return Status.ERROR, None
    if bound is not None and bound_exceeds(bound, objective):
        info["warning"] = f"claimed bound {bound} exceeds the incumbent {objective}; bound dropped"
        bound = None
    if status == Status.OPTIMAL:
        gap = relative_gap(objective, bound, constant)
        if gap is None or gap > OPTIMALITY_TOL:
            info["note"] = "optimality claimed without a matching bound; reported as feasible"
            status = Status.FEASIBLE
    return status, bound
