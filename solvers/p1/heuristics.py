"""Association-only methods (pick servers, then an allocation method fills the shares) and the paper's
benchmark associations: Random, Max-SINR, Max-Compute.

Each picks servers only among those with a propagation path (gain above the
instance floor). Allocation is the paper's uniform split by default;
``+exact`` (or ``allocation="exact"``) uses the exact allocation instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from uara.errors import SolverError
from uara.model.allocation import ALLOCATORS, allocate
from uara.model.formulation import SlotData
from uara.solvers.base import SlotDecision, SolveContext, Solver
from uara.solvers.core.moves import masked_argmax


@dataclass
class AllocationOptions:
    """allocation: 'uniform' (the paper's benchmarks: y = z = 1/n_j) or 'exact'."""

    allocation: str = "uniform"


class AssociationSolver(Solver):
    """Base of methods that choose the association; shares come from ``allocation``."""

    Options: ClassVar[type] = AllocationOptions

    def check_options(self) -> None:
        if self.options.allocation not in ALLOCATORS:
            raise SolverError(
                f"solver '{self.name}': unknown allocation {self.options.allocation!r}; choose one of: {', '.join(ALLOCATORS)}"
            )

    @property
    def display_name(self) -> str:
        default = type(self).Options().allocation
        return self.name if self.options.allocation == default else f"{self.name}+{self.options.allocation}"

    def associate(self, sd: SlotData, ctx: SolveContext) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def solve_slot(self, sd: SlotData, ctx: SolveContext) -> SlotDecision:
        assoc = np.asarray(self.associate(sd, ctx), dtype=np.intp)
        alloc = allocate(sd, assoc, self.options.allocation)
        return SlotDecision(assoc, alloc.bandwidth_share, alloc.compute_share)


class RandomSolver(AssociationSolver):
    name = "random"
    CORE = ("moves",)
    description = "each device on a uniformly random server it can reach (paper benchmark)"
    STOCHASTIC = True

    def associate(self, sd: SlotData, ctx: SolveContext) -> np.ndarray:
        return masked_argmax(ctx.rng.random(sd.snr.shape), sd.usable)


class MaxSINRSolver(AssociationSolver):
    name = "max-sinr"
    CORE = ("moves",)
    description = "each device on the server with the highest SNR_ij (paper benchmark)"

    def associate(self, sd: SlotData, ctx: SolveContext) -> np.ndarray:
        return masked_argmax(sd.snr, sd.usable)


class MaxComputeSolver(AssociationSolver):
    name = "max-compute"
    CORE = ("moves",)
    description = "each device on the reachable server with the most FLOP/s, ties by SNR (paper benchmark)"

    def associate(self, sd: SlotData, ctx: SolveContext) -> np.ndarray:
        # F_j is proportional to 1 / s_ij; dense rank of F_j (equal servers tie), then SNR.
        flops_rel = sd.server_work_s[0].min() / sd.server_work_s[0]
        _, dense_rank = np.unique(np.round(flops_rel, 12), return_inverse=True)  # larger = faster
        score = dense_rank[None, :] * 1e3 + np.log10(sd.snr + 1e-300) / 1e3
        return masked_argmax(score, sd.usable)
