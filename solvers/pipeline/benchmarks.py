"""The paper's benchmarks and the ablations of ``pipeline-dp``.

``pipeline-uniform`` (uniform FDMA shares, one batch of all users, fixed gamma) and ``pipeline-ad``
(autoregressive serving: the DP with gamma = 0 only); ablations ``pipeline-max-batch`` (closed-form
bandwidth, one batch), ``pipeline-dp-uniform`` (the DP under uniform shares),
``pipeline-fixed-length`` (the DP at one gamma), ``pipeline-no-overlap`` (the DP without
micro-batch pipelining).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from uara.errors import SolverError
from uara.model.pipeline.schedule import ServingDecision, uniform_shares
from uara.model.pipeline.serving_instance import PipelineInstance
from uara.solvers.pipeline.dp import PipelineDPSolver
from uara.solvers.pipeline.serving_base import PipelineSolver

class PipelineUniformSolver(PipelineSolver):
    """The benchmark: uniform bandwidth, one batch of all users, one fixed speculation length."""

    name = "pipeline-uniform"
    description = "pipelined serving benchmark: uniform bandwidth, one batch of all users, fixed speculation length"

    @dataclass
    class Options:
        """length: the fixed speculation length (must be a candidate of the instance);
        micro_batches: 2 = the pipelined framework with uniform allocation, 1 = no overlap."""

        length: int = 4
        micro_batches: int = 2

    def check_options(self) -> None:
        if self.options.length < 0 or self.options.micro_batches not in (1, 2):
            raise SolverError(f"solver '{self.name}': need length >= 0 and micro_batches 1 or 2")

    def solve_schedule(self, inst: PipelineInstance, deadline: float | None) -> tuple[ServingDecision, dict[str, Any]]:
        g = self.options.length
        if g not in inst.speculation_lengths:
            raise SolverError(f"solver '{self.name}': length {g} is not a candidate of the instance "
                              f"({list(inst.speculation_lengths)}); pass -o length=N")
        split = self.options.micro_batches if (inst.num_users >= 2 and g > 0) else 1
        return ServingDecision(batches=[list(range(inst.num_users))], speculation_length=[g], micro_batches=[split],
                               shares=uniform_shares(inst), bandwidth_mode="static"), {}


class PipelineADSolver(PipelineDPSolver):
    """Autoregressive serving: the target alone on the MBS (gamma = 0), batches by the DP."""

    name = "pipeline-ad"
    description = "pipelined serving benchmark: autoregressive decoding on the MBS (DP over batches, gamma = 0)"
    PRESET = {"lengths": "0"}


class PipelineMaxBatchSolver(PipelineDPSolver):
    name = "pipeline-max-batch"
    description = "ablation: closed-form bandwidth, one batch of all users (max batching), best gamma"
    PRESET = {"one_batch": True}


class PipelineDPUniformSolver(PipelineDPSolver):
    name = "pipeline-dp-uniform"
    description = "ablation: the DP over batches and gamma under uniform bandwidth shares"
    PRESET = {"bandwidth": "uniform"}


class PipelineFixedLengthSolver(PipelineDPSolver):
    name = "pipeline-fixed-length"
    description = "ablation: closed-form bandwidth and DP batching at one speculation length (default 4)"
    PRESET = {"lengths": "4"}


class PipelineNoOverlapSolver(PipelineDPSolver):
    name = "pipeline-no-overlap"
    description = "ablation: the DP without micro-batch pipelining (draft and verify of a batch never overlap)"
    PRESET = {"pipelining": False}
