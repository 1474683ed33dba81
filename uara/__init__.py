"""uara: user association and resource allocation for collaborative LLM inference.

The problem P1 of Koh & Yang (arXiv 2511.01695) stated once
(:mod:`uara.model.formulation`), its instances (:mod:`uara.model.instance`), the shared
evaluator (:mod:`uara.model.evaluator`), the exact allocation
(:mod:`uara.model.allocation`) and interchangeable solvers (:mod:`uara.solvers`).
Importing ``uara`` loads numpy only; optional back-ends load when used.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

from uara.model.allocation import exact_allocation, uniform_allocation
from uara.errors import InstanceError, MissingDependencyError, SolutionError, SolverError, UaraError
from uara.model.evaluator import Evaluation, evaluate, evaluate_batch
from uara.model.formulation import SlotData, slot_data
from uara.model.instance import Device, Instance, Params, Server, Slot, Task
from uara.model.solution import Solution, SlotDecision, Status


def random_instance(m: int = 60, e: int = 8, **kwargs) -> Instance:
    """A seeded random ``m`` x ``e`` instance (:func:`uara.scenario.random_instance.random_instance`)."""
    from uara.scenario.random_instance import random_instance as _random_instance

    return _random_instance(m, e, **kwargs)


def solve(instance: Any, solver: str = "tma", **kwargs: Any) -> Any:
    """Solve ``instance`` with the back-end named ``solver``.

    ``instance``: a loaded instance of either family (:class:`Instance`, or a pipeline instance) or the
    path of an instance file (its family read from the file's ``format``). Keyword arguments
    ``time_limit``, ``seed``, ``threads``, ``slots`` and ``log`` go to :meth:`uara.solvers.base.Solver.solve`;
    the others are solver options. Anything else is refused with one line (:class:`UaraError`).
    """
    import os

    from uara.model.shared.family import FAMILIES, load_instance_file
    from uara.solvers import get_solver

    if isinstance(instance, (str, os.PathLike)):
        _, instance = load_instance_file(instance)
    elif not any(isinstance(instance, f.instance_type()) for f in FAMILIES.values()):
        raise UaraError(f"instance: expected an Instance, a PipelineInstance or the path of an instance file, "
                        f"got {type(instance).__name__}")
    if not isinstance(solver, str):
        raise UaraError(f"solver: expected a solver name (e.g. 'tma'), got {solver!r}")
    if "solver" in kwargs:
        raise UaraError("solver: given twice")
    run_keys = {"time_limit", "seed", "threads", "slots", "log"}
    run = {k: v for k, v in kwargs.items() if k in run_keys}
    opts = {k: v for k, v in kwargs.items() if k not in run_keys}
    return get_solver(solver, **opts).solve(instance, **run)


__all__ = [
    "Device", "Evaluation", "Instance", "InstanceError", "MissingDependencyError", "Params", "Server", "Slot",
    "SlotData", "SlotDecision", "Solution", "SolutionError", "SolverError", "Status", "Task", "UaraError",
    "evaluate", "evaluate_batch", "exact_allocation", "random_instance", "slot_data", "solve", "uniform_allocation",
    "__version__",
]
