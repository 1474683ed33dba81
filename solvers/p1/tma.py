"""TMA: the paper's two-phase matching association (Alg. 1).

Phase 1: every device joins the reachable server with the highest channel
gain (Max-SINR). Phase 2: swap two devices on different servers while the
objective I improves; stop when no swap improves.

A swap exchanges the two devices' *seats*: device i takes device k's server
and k's shares (y_k, z_k), and vice versa. The per-server sums of shares are
unchanged, so the swapped decision is feasible, and its value is exact for
the uniform allocation (n_j is unchanged). With ``allocation="exact"`` the
two touched servers are then re-allocated exactly, which can only lower I,
so I never increases and TMA never ends worse than its Max-SINR start.

All candidate swaps are scored at once: with cost_i(j, y, z) the device's
term of I (see :mod:`uara.model.formulation`), the change of swapping i and k is
    D[i, k] = cost_i(j_k, y_k, z_k) + cost_k(j_i, y_i, z_i) - cost_i - cost_k,
an (M, M) array; the best (most negative) swap is applied each iteration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


from uara.model.formulation import SlotData
from uara.model.solution import Status
from uara.errors import SolverError
from uara.solvers.core.moves import masked_argmax, swap_search
from uara.solvers.p1.heuristics import AssociationSolver
from uara.solvers.base import SlotDecision, SolveContext


@dataclass
class TMAOptions:
    """allocation: 'exact' (default) or 'uniform' (the paper's TMA with uniform shares);
    max_swaps: cap on phase-2 swaps (None = until no swap improves);
    rtol: a swap must lower I by more than rtol * |I - C| to count."""

    allocation: str = "exact"
    max_swaps: int | None = None
    rtol: float = 1e-12


class TMASolver(AssociationSolver):
    name = "tma"
    CORE = ("moves",)
    description = "two-phase matching (paper Alg. 1): Max-SINR start, then pairwise swaps while I improves"
    Options: ClassVar[type] = TMAOptions

    def memory_estimate_bytes(self, num_devices: int, num_servers: int) -> float:
        """Phase 2's seat-cost table and its temporaries: about ten (M, M) float arrays (bench/bench_memory.py:
        estimate / peak 1.0 at M = 500, 1000, 2000)."""
        return 10 * 8.0 * num_devices**2

    def check_options(self) -> None:
        super().check_options()
        if not 0 <= self.options.rtol < 1:
            raise SolverError(f"solver 'tma': option rtol must be in [0, 1), got {self.options.rtol}")
        if self.options.max_swaps is not None and self.options.max_swaps < 0:
            raise SolverError(f"solver 'tma': option max_swaps must be >= 0, got {self.options.max_swaps}")

    def solve_slot(self, sd: SlotData, ctx: SolveContext) -> SlotDecision:
        start = masked_argmax(sd.snr, sd.usable)
        assoc, y, z, swaps, stopped = swap_search(
            sd, start, self.options.allocation, ctx, max_swaps=self.options.max_swaps, rtol=self.options.rtol
        )
        status = Status.TIME_LIMIT if stopped and ctx.out_of_time() else Status.FEASIBLE
        return SlotDecision(assoc, y, z, status=status, info={"swaps": swaps})
