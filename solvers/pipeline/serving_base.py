"""The pipelined-serving family's solver base (docs/pipeline.md): options, candidate speculation
lengths, and :meth:`PipelineSolver.solve`, which re-scores the schedule with
:func:`uara.model.pipeline.evaluate_schedule` and vets the back-end's claims with the same rule as
P1's driver (:func:`uara.solvers.driver.vet_claims`).

Back-ends: ``pipeline-dp`` (:mod:`.dp`), ``pipeline-brute-force`` (:mod:`.exhaustive`), the
benchmarks and ablations (:mod:`.benchmarks`); user orders and batch-duration tables in
:mod:`.ordering`.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any, Callable, ClassVar

from uara.errors import SolverError
from uara.model.pipeline.schedule import ServingDecision, evaluate_schedule
from uara.model.pipeline.serving_instance import PipelineInstance
from uara.model.pipeline.serving_solution import ServingSolution
from uara.model.solution import Status
from uara.solvers.base import Solver
from uara.solvers.driver import check_memory, check_run_arguments, vet_claims

BANDWIDTHS = ("closed-form", "uniform")
ORDERS = ("rounds", "output", "index")


@dataclass
class PipelineOptions:
    """Options of the DP family (``uara solvers --options pipeline-dp``).

    bandwidth: ``closed-form`` (sequential, optimal for any batching) or ``uniform`` (y_k = 1/K, FDMA).
    lengths: candidate speculation lengths, e.g. ``"0,2,4"`` (default: the instance's).
    pipelining: allow two micro-batches per batch (draft one while the other is verified).
    one_batch: serve all users as one batch (max batching).
    order: the order batches are contiguous in: ``rounds`` (ascending O_k / E_k), ``output``, ``index``.
    """

    bandwidth: str = "closed-form"
    lengths: str | None = None
    pipelining: bool = True
    one_batch: bool = False
    order: str = "rounds"


class PipelineSolver(Solver):
    """Base of the pipeline back-ends: :meth:`solve` takes a :class:`PipelineInstance`."""

    PROBLEM: ClassVar[str] = "pipeline"
    PRESET: ClassVar[dict[str, Any]] = {}
    Options: ClassVar[type] = PipelineOptions

    def __init__(self, **options: Any):
        super().__init__(**{**self.PRESET, **options})

    def check_options(self) -> None:
        o = self.options
        if getattr(o, "bandwidth", "closed-form") not in BANDWIDTHS:
            raise SolverError(f"solver '{self.name}': option 'bandwidth' expects one of {', '.join(BANDWIDTHS)}, got {o.bandwidth!r}")
        if getattr(o, "order", "rounds") not in ORDERS:
            raise SolverError(f"solver '{self.name}': option 'order' expects one of {', '.join(ORDERS)}, got {o.order!r}")
        if getattr(o, "lengths", None) is not None:
            parse_lengths(o.lengths, self.name)

    def lengths(self, inst: PipelineInstance) -> list[int]:
        raw = getattr(self.options, "lengths", None)
        if raw is None:
            return list(inst.speculation_lengths)
        g = parse_lengths(raw, self.name)
        bad = [v for v in g if v not in inst.speculation_lengths]
        if bad:
            raise SolverError(f"solver '{self.name}': speculation length {bad[0]} is not a candidate of the instance "
                              f"({list(inst.speculation_lengths)})")
        return g

    def memory_estimate_users(self, num_users: int) -> float:
        """Peak bytes a solve needs for ``num_users`` users, roughly (0: small); the driver refuses, with one
        line, a run that would need more than the machine has available."""
        return 0.0

    def solve_schedule(self, inst: PipelineInstance, deadline: float | None) -> tuple[ServingDecision, dict[str, Any]]:  # pragma: no cover
        raise NotImplementedError

    def solve(self, instance: Any, *, time_limit: float | None = None, seed: int = 0, threads: int = 1,
              slots: Any = None, log: Callable[[str], None] | None = None) -> ServingSolution:  # type: ignore[override]
        """Solve and re-score; the status claims optimality only with a matching proven bound."""
        if not isinstance(instance, PipelineInstance):
            raise SolverError(f"solver '{self.name}' solves pipeline instances, not {type(instance).__name__}")
        check_run_arguments(time_limit=time_limit, seed=seed, threads=threads)
        check_memory(self.name, self.memory_estimate_users(instance.num_users), f"K = {instance.num_users} users",
                     "use fewer users, one_batch=true or pipeline-uniform")
        start = time.perf_counter()
        deadline = None if time_limit is None else start + float(time_limit)
        dec, info = self.solve_schedule(instance, deadline)
        ev = evaluate_schedule(instance, dec)
        status, bound = vet_claims(ev.objective_s, 0.0, ev.violations, info.pop("status", Status.FEASIBLE),
                                   info.pop("lower_bound_s", None), info)
        wall = time.perf_counter() - start
        if log is not None:
            log(f"{self.name}: objective {ev.objective_s:.10g} s, {len(dec.batches)} batches, {status.value}, {wall:.3f} s")
        return ServingSolution(instance=instance.name, instance_fingerprint=instance.fingerprint(), solver=self.name,
                               status=status, decision=dec, evaluation=ev, wall_time_s=wall,
                               options=dataclasses.asdict(self.options), seed=seed, lower_bound_s=bound, info=info)


def parse_lengths(raw: str, solver: str) -> list[int]:
    try:
        g = sorted({int(v) for v in str(raw).split(",") if v.strip()})
    except ValueError:
        raise SolverError(f"solver '{solver}': option 'lengths' expects comma-separated integers, got {raw!r}") from None
    if not g or g[0] < 0:
        raise SolverError(f"solver '{solver}': option 'lengths' expects integers >= 0, got {raw!r}")
    return g
