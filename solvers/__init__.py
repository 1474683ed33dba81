"""Solver back-ends for P1 and their registry (installed as ``uara.solvers``).

>>> from uara.solvers import get_solver
>>> solution = get_solver("tma").solve(instance, seed=0)

Names may carry an allocation suffix: ``max-sinr+exact`` is Max-SINR
association with the exact allocation instead of the paper's uniform one.
Register your own back-end with :func:`register_solver` (a
:class:`~uara.solvers.base.Solver` subclass, or an ``"module:Class"`` path
imported lazily so that optional packages load only when used).
"""

from __future__ import annotations

import importlib
import sys

if __name__ != "uara.solvers":  # imported as top-level ``solvers`` (the source tree on sys.path): one registry,
    sys.modules[__name__] = importlib.import_module("uara.solvers")  # whichever name imports it
from dataclasses import fields
from typing import Any

from uara.errors import SolverError
from uara.solvers.base import Solver, SlotDecision, SolveContext

#: The paper's three baselines (association heuristics; with their uniform shares by default).
BASELINES = ("random", "max-sinr", "max-compute")

__all__ = ["BASELINES", "PIPELINE_DEFAULT", "problem_of", "Solver", "SlotDecision", "SolveContext", "get_solver", "get_solver_class", "list_solvers", "register_solver", "solver_names"]

# name -> "module:Class" (imported on first use) or a class.
_REGISTRY: dict[str, Any] = {
    "random": "uara.solvers.p1.heuristics:RandomSolver",
    "max-sinr": "uara.solvers.p1.heuristics:MaxSINRSolver",
    "max-compute": "uara.solvers.p1.heuristics:MaxComputeSolver",
    "tma": "uara.solvers.p1.tma:TMASolver",
    "brute-force": "uara.solvers.p1.brute_force:BruteForceSolver",
    "exact": "uara.solvers.p1.exact:ExactSolver",
    "relax": "uara.solvers.p1.relax:RelaxSolver",
    "relax-dw": "uara.solvers.p1.relax_dw:RelaxDWSolver",
    "price": "uara.solvers.p1.price:PriceSolver",
    "masac": "uara.solvers.p1.masac:PaperMASACSolver",
    "masac-uara": "uara.solvers.p1.masac:MASACSolver",
    "learned-pref": "uara.solvers.p1.masac:PrefSolver",
    # latency-aware UARA (docs/latency_aware.md): P1's instances and decisions plus a draft length per device
    "latency-search": "uara.solvers.latency.search:LatencySearchSolver",
    "latency-brute-force": "uara.solvers.latency.enumeration:LatencyBruteForceSolver",
    "tkslt-length": "uara.solvers.latency.analytic:AnalyticLengthSolver",
    # the pipelined serving problem (docs/pipeline.md)
    "pipeline-dp": "uara.solvers.pipeline.dp:PipelineDPSolver",
    "pipeline-brute-force": "uara.solvers.pipeline.exhaustive:PipelineBruteForceSolver",
    "pipeline-uniform": "uara.solvers.pipeline.benchmarks:PipelineUniformSolver",
    "pipeline-ad": "uara.solvers.pipeline.benchmarks:PipelineADSolver",
    "pipeline-max-batch": "uara.solvers.pipeline.benchmarks:PipelineMaxBatchSolver",
    "pipeline-dp-uniform": "uara.solvers.pipeline.benchmarks:PipelineDPUniformSolver",
    "pipeline-fixed-length": "uara.solvers.pipeline.benchmarks:PipelineFixedLengthSolver",
    "pipeline-no-overlap": "uara.solvers.pipeline.benchmarks:PipelineNoOverlapSolver",
}

#: The pipeline back-ends `uara compare` runs on pipeline instances when --solvers is not given.
PIPELINE_DEFAULT = ("pipeline-dp", "pipeline-uniform", "pipeline-ad", "pipeline-max-batch", "pipeline-dp-uniform",
                    "pipeline-fixed-length", "pipeline-no-overlap")


def problem_of(name: str) -> str:
    """``"p1"`` or ``"pipeline"``: the problem family the back-end ``name`` solves."""
    return getattr(get_solver_class(name), "PROBLEM", "p1")


def register_solver(name: str, target: Any, *, replace: bool = False) -> None:
    """Add a back-end under ``name``: a Solver subclass or a ``"module:Class"`` string."""
    if name in _REGISTRY and not replace:
        raise SolverError(f"solver '{name}' is already registered (pass replace=True to override)")
    _REGISTRY[name] = target


def solver_names() -> list[str]:
    return list(_REGISTRY)


def _split(name: str) -> tuple[str, str | None]:
    base, _, alloc = name.partition("+")
    return base, (alloc or None)


def get_solver_class(name: str) -> type[Solver]:
    """The class registered under ``name`` (allocation suffix ignored)."""
    base, _ = _split(name)
    if base not in _REGISTRY:
        raise SolverError(f"unknown solver '{name}'; available: {', '.join(_REGISTRY)}")
    target = _REGISTRY[base]
    if isinstance(target, str):
        module, _, cls_name = target.partition(":")
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name == module:
                raise SolverError(f"solver '{base}' is registered but its module {module} is not part of this installation") from None
            raise
        target = getattr(mod, cls_name)
        _REGISTRY[base] = target
    return target


def get_solver(name: str, **options: Any) -> Solver:
    """An instance of the solver ``name`` configured with ``options``.

    ``name+alloc`` sets the ``allocation`` option (``uniform`` or ``exact``).
    """
    base, alloc = _split(name)
    cls = get_solver_class(base)
    if alloc is not None:
        if "allocation" not in {f.name for f in fields(cls.Options)}:
            raise SolverError(f"solver '{base}' takes no allocation suffix (got '{name}')")
        options = {**options, "allocation": alloc}
    return cls(**options)


def list_solvers() -> list[dict[str, Any]]:
    """One row per registered back-end: name, installed, capabilities, description."""
    rows = []
    for name in _REGISTRY:
        try:
            cls = get_solver_class(name)
        except SolverError as exc:
            rows.append({"name": name, "installed": False, "missing": str(exc), "description": ""})
            continue
        missing = cls.missing()
        rows.append(
            {
                "name": name,
                "installed": not missing,
                "missing": ", ".join(missing),
                "extra": cls.extra,
                "exact": cls.EXACT,
                "provides_bound": cls.PROVIDES_BOUND,
                "stochastic": cls.STOCHASTIC,
                "problem": getattr(cls, "PROBLEM", "p1"),
                "description": cls.description,
            }
        )
    return rows
