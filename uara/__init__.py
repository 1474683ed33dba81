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
from uara.model.instance import PARAMETER_SETS, Device, Instance, Params, Server, Slot, Task
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
    ``latency=True`` (P1 only) fills ``solution.latency`` with the simulated end-to-end latency and its
    certified floor, as ``uara solve`` prints them (:func:`latency`); the others are solver options.
    Anything else is refused with one line (:class:`UaraError`).
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
    want_latency = kwargs.pop("latency", False)
    if not isinstance(want_latency, bool):
        raise UaraError(f"latency: expected True or False, got {want_latency!r}")
    run_keys = {"time_limit", "seed", "threads", "slots", "log"}
    run = {k: v for k, v in kwargs.items() if k in run_keys}
    opts = {k: v for k, v in kwargs.items() if k not in run_keys}
    sol = get_solver(solver, **opts).solve(instance, **run)
    if want_latency:
        if not isinstance(instance, Instance):
            raise UaraError("latency: the PSD latency is P1's; a pipeline solution carries its own evaluation")
        sol.latency = latency(instance, sol)
    return sol


def latency(instance: Instance, solution: Solution, *, seed: int = 0, both_models: bool = False) -> dict[str, Any]:
    """The simulated end-to-end latency of a P1 solution under the instance's server model, with the certified
    floor (``floor_mean_s``, ``gap_to_floor``): the record ``uara solve --json`` prints under ``latency``
    (:func:`uara.psd.latency_floor.latency_with_floor`). A simulator failure raises :class:`UaraError`."""
    from uara.psd.latency_floor import latency_with_floor

    found, note = latency_with_floor(instance, solution, both_models=both_models, seed=seed)
    if found is None:
        raise UaraError(f"latency: {note}")
    return found


__all__ = [
    "PARAMETER_SETS", "Device", "Evaluation", "Instance", "InstanceError", "MissingDependencyError", "Params", "Server", "Slot",
    "SlotData", "SlotDecision", "Solution", "SolutionError", "SolverError", "Status", "Task", "UaraError",
    "evaluate", "evaluate_batch", "exact_allocation", "latency", "random_instance", "slot_data", "solve", "uniform_allocation",
    "__version__",
]
