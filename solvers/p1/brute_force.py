"""Brute force: every association, each scored with the exact allocation.

The ground truth for tiny instances. P1 separates by server once the
association is fixed, so the value of an association is
    I = C + sum_j V_j(S_j),
where V_j(S) is the optimal value of server j serving device set S
(:func:`uara.model.allocation.group_values`). The table V_j(S) has E * 2^M entries;
every one of the E^M associations is then scored by table look-ups,
vectorised in chunks. The result is optimal with a proven bound (itself).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from uara.model.allocation import exact_allocation, group_values
from uara.errors import SolverError
from uara.model.formulation import SlotData
from uara.model.solution import Status
from uara.solvers.base import SlotDecision, SolveContext, Solver


@dataclass
class BruteForceOptions:
    """max_assignments: refuse instances with more than this many associations (E^M)."""

    max_assignments: float = 1e6
    chunk: int = 1 << 16


def subset_values(sd: SlotData) -> np.ndarray:
    """V[j, S] for every server j and device subset S (bit i of S = device i): shape (E, 2^M)."""
    m, e = sd.num_devices, sd.num_servers
    n_sub = 1 << m
    members = ((np.arange(n_sub)[:, None] >> np.arange(m)[None, :]) & 1).astype(bool)  # (2^M, M)
    sub_idx, dev_idx = np.nonzero(members)
    devices = np.tile(dev_idx, e)
    servers = np.repeat(np.arange(e), dev_idx.size)
    groups = np.tile(sub_idx, e) + servers * n_sub
    values = group_values(sd, devices, servers, groups, e * n_sub)
    return values.reshape(e, n_sub)


class BruteForceSolver(Solver):
    name = "brute-force"
    description = "enumerates all E^M associations with the exact allocation (tiny instances; proves optimality)"
    EXACT = True
    PROVIDES_BOUND = True
    Options: ClassVar[type] = BruteForceOptions

    def check_options(self) -> None:
        if not self.options.max_assignments >= 1:
            raise SolverError(f"solver 'brute-force': option max_assignments must be >= 1, got {self.options.max_assignments}")
        if self.options.chunk < 1:
            raise SolverError(f"solver 'brute-force': option chunk must be >= 1, got {self.options.chunk}")

    def solve_slot(self, sd: SlotData, ctx: SolveContext) -> SlotDecision:
        m, e = sd.num_devices, sd.num_servers
        log10_total = m * math.log10(e)  # E^M itself overflows a float from M ~ 1000
        if log10_total > math.log10(self.options.max_assignments):
            count = f"{float(e) ** m:.3g}" if log10_total < 300 else f"10^{log10_total:.1f}"
            raise SolverError(
                f"brute-force: {e}^{m} = {count} associations exceeds max_assignments="
                f"{self.options.max_assignments:.3g}; use --solver exact or raise --option max_assignments=..."
            )
        total = float(e) ** m
        table = subset_values(sd)
        table[:, 1:][~_usable_subsets(sd)] = np.inf
        n = int(round(total))
        weights = (1 << np.arange(m)).astype(np.int64)
        powers = e ** np.arange(m, dtype=np.int64)
        best_val, best_idx = np.inf, -1
        for lo in range(0, n, self.options.chunk):
            if ctx.out_of_time():
                raise SolverError("brute-force: time limit reached before all associations were scored")
            codes = np.arange(lo, min(n, lo + self.options.chunk), dtype=np.int64)
            digits = (codes[:, None] // powers[None, :]) % e  # (K, M) server of each device
            val = np.zeros(codes.size)
            for j in range(e):
                mask = ((digits == j) * weights[None, :]).sum(axis=1)
                val += table[j, mask]
            k = int(np.argmin(val))
            if val[k] < best_val:
                best_val, best_idx = float(val[k]), int(codes[k])
        assoc = (best_idx // powers) % e
        alloc = exact_allocation(sd, assoc)
        optimum = sd.constant + best_val
        return SlotDecision(
            assoc, alloc.bandwidth_share, alloc.compute_share, status=Status.OPTIMAL, lower_bound=optimum,
            info={"associations": n},
        )


def _usable_subsets(sd: SlotData) -> np.ndarray:
    """(E, 2^M - 1) bool: subset S (S >= 1) only holds devices with a path to server j."""
    m = sd.num_devices
    n_sub = 1 << m
    members = ((np.arange(1, n_sub)[:, None] >> np.arange(m)[None, :]) & 1).astype(bool)
    unusable = ~sd.usable.T  # (E, M)
    return ~(members[None, :, :] & unusable[:, None, :]).any(axis=2)
