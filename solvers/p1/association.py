"""Association-only methods: pick servers, then an allocation method fills the shares."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from uara.model.allocation import ALLOCATORS, allocate
from uara.errors import SolverError
from uara.model.formulation import SlotData
from uara.solvers.base import SlotDecision, SolveContext, Solver


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
