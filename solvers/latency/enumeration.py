"""``latency-brute-force``: latency-aware UARA solved exactly on tiny instances, to prove the search there.

The slot objective splits by server (:mod:`uara.psd.server_configs`): sum_j C_j(S_j, g_{S_j}, rule_j). So

    best_j(S) = min over g in G^|S| and the share rules of C_j(S, g, rule)          (every S of usable devices)
    F_j(U)    = min_{S subset of U} F_{j-1}(U minus S) + best_j(S),   F_0(empty) = 0,  F_0(U) = inf otherwise

and F_E(all devices) is the optimum over every association (coverage as in P1: only usable links), every
draft length of the candidate set G per device and every share rule per server, each configuration
scored by the event simulator. It simulates sum_j sum_{S} |G|^|S| |rules| configurations (4^5 x 2 per
server at M = 5, |G| = 3) and runs the subset recursion in O(E 3^M); it refuses an instance whose count
exceeds ``max_configs``.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from uara.errors import SolverError
from uara.model.formulation import SlotData
from uara.model.solution import SlotDecision, Status
from uara.psd.server_configs import SHARE_RULES, slot_tasks
from uara.solvers.base import SolveContext, Solver
from uara.solvers.latency.search_state import ExactCosts, SlotState
from uara.solvers.latency.search import parse_lengths


@dataclass
class LatencyBruteForceOptions:
    """draft_lengths: the candidate set ("1-8"); energy_weight: w in s/J (as ``latency-search``);
    max_configs: refuse a slot that needs more simulated configurations; chunk: configurations per simulation."""

    draft_lengths: str = "1-8"
    energy_weight: float = 0.0
    max_configs: int = 60_000
    chunk: int = 4_000


class LatencyBruteForceSolver(Solver):
    name = "latency-brute-force"
    description = "latency-aware UARA by enumeration and a subset recursion (tiny instances; proves latency-search)"
    Options: ClassVar[type] = LatencyBruteForceOptions

    def check_options(self) -> None:
        self.lengths = parse_lengths(self.options.draft_lengths)
        if self.options.energy_weight < 0:
            raise SolverError(f"option 'energy_weight': expected >= 0, got {self.options.energy_weight}")

    def solve_slot(self, sd: SlotData, ctx: SolveContext) -> SlotDecision:
        t0 = time.perf_counter()
        m, e = sd.num_devices, sd.num_servers
        n_g, n_r = len(self.lengths), len(SHARE_RULES)
        n_cfg = sum(n_r * ((1 + n_g) ** int(n) - 1) - (n_r - 1) * int(n) * n_g for n in sd.usable.sum(axis=0))
        if n_cfg > self.options.max_configs or m > 16:
            raise SolverError(f"latency-brute-force: slot {ctx.slot} needs {n_cfg} simulated configurations "
                              f"(max_configs={self.options.max_configs}, M={m}); use latency-search")
        st = slot_tasks(ctx.instance, ctx.slot, max_draft_length=max(self.lengths))
        exact = ExactCosts(st, sd, self.options.energy_weight)
        probe = SlotState(st, np.zeros(m, dtype=np.int64), np.ones(m, dtype=np.int64), np.zeros(e, dtype=np.int64),
                          np.zeros(e))
        best = [self._best_per_subset(probe, j, exact) for j in range(e)]
        x, g, rule, total = _recurse(best, m, e)
        state = SlotState(st, x, g, rule, np.zeros(e))
        y, z = np.zeros(m), np.zeros(m)
        for j in range(e):
            c = state.current(j)
            y[c.devices], z[c.devices] = c.bandwidth_share, c.compute_share
        info = {"objective_s": total / m, "simulated_configs": exact.configs, "simulator_s": exact.seconds,
                "draft_lengths": list(self.lengths), "share_rule": [SHARE_RULES[r] for r in rule],
                "energy_weight_s_per_j": self.options.energy_weight, "search_s": time.perf_counter() - t0}
        info["optimal"] = bool(np.isfinite(total))  # for latency-aware UARA; ``status`` speaks of P1's I
        return SlotDecision(x, y, z, None, info, Status.FEASIBLE if np.isfinite(total) else Status.INFEASIBLE, g)

    def _best_per_subset(self, probe: SlotState, j: int, exact: ExactCosts
                         ) -> dict[int, tuple[float, np.ndarray, np.ndarray, int]]:
        """mask -> (best cost, devices, their lengths, rule) over every subset of server j's usable devices."""
        cands = []
        for s in _subsets(np.flatnonzero(probe.st.usable[:, j])):
            dev = np.array(s, dtype=np.int64)
            for g in itertools.product(self.lengths, repeat=dev.size):
                for r in range(1 if dev.size == 1 else len(SHARE_RULES)):
                    cands.append((probe.config(j, dev, np.array(g, dtype=np.int64), r), r))
        costs = np.concatenate([exact.costs([c for c, _ in cands[k:k + self.options.chunk]],
                                            [r for _, r in cands[k:k + self.options.chunk]])
                                for k in range(0, len(cands), self.options.chunk)]) if cands else np.zeros(0)
        best: dict[int, tuple[float, np.ndarray, np.ndarray, int]] = {0: (0.0, np.zeros(0, np.int64), np.zeros(0, np.int64), 0)}
        for (c, r), cost in zip(cands, costs):
            mask = int(np.sum(1 << c.devices))
            if mask not in best or cost < best[mask][0]:
                best[mask] = (float(cost), c.devices, c.draft_length, r)
        return best


def _subsets(devices: np.ndarray) -> list[tuple[int, ...]]:
    return [s for k in range(1, devices.size + 1) for s in itertools.combinations(devices.tolist(), k)]


def _recurse(best: list[dict], m: int, e: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """The subset recursion of the module docstring; (association, lengths, rule per server, total cost)."""
    full = (1 << m) - 1
    f = np.full(1 << m, np.inf)
    f[0] = 0.0
    choice = []
    for j in range(e):
        nf = np.full(1 << m, np.inf)
        pick = np.zeros(1 << m, dtype=np.int64)
        for u in range(1 << m):
            s = u
            while True:  # every subset s of u, including the empty one
                if s in best[j] and f[u ^ s] + best[j][s][0] < nf[u]:
                    nf[u], pick[u] = f[u ^ s] + best[j][s][0], s
                if s == 0:
                    break
                s = (s - 1) & u
        f = nf
        choice.append(pick)
    x, g, rule = np.zeros(m, dtype=np.int64), np.ones(m, dtype=np.int64), np.zeros(e, dtype=np.int64)
    u = full
    for j in reversed(range(e)):
        s = int(choice[j][u])
        _, dev, lengths, r = best[j][s]
        x[dev], g[dev], rule[j] = j, lengths, r
        u ^= s
    return x, g, rule, float(f[full])
