"""``pipeline-brute-force``: every composition of the same order (``space=contiguous``, 2^(K-1)) or
every ordered set partition (``space=all``, Fubini-many; optimal over the whole model, proven).
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from uara.errors import SolverError
from uara.model.pipeline.schedule import ServingDecision, sequential_shares, uniform_shares
from uara.model.pipeline.serving_instance import PipelineInstance
from uara.model.pipeline.serving_latency import UserTerms, single_batch_duration_s, user_terms
from uara.model.solution import Status
from uara.solvers.pipeline.ordering import user_order
from uara.solvers.pipeline.serving_base import PipelineOptions, PipelineSolver

class PipelineBruteForceSolver(PipelineSolver):
    """Exhaustive search: compositions of the DP's order, or every ordered set partition (``space=all``)."""

    name = "pipeline-brute-force"
    description = "pipelined serving: exhaustive batches (contiguous in the DP's order, or all ordered partitions)"
    EXACT = True
    PROVIDES_BOUND = True

    @dataclass
    class Options(PipelineOptions):
        """space: ``contiguous`` (the DP's decision space) or ``all`` (every ordered set partition).
        max_users: refuse larger instances (the count grows as 2^(K-1) or the Fubini numbers)."""

        space: str = "contiguous"
        max_users: int = 10

    def check_options(self) -> None:
        super().check_options()
        if self.options.space not in ("contiguous", "all"):
            raise SolverError(f"solver '{self.name}': option 'space' expects contiguous or all, got {self.options.space!r}")

    def solve_schedule(self, inst: PipelineInstance, deadline: float | None) -> tuple[ServingDecision, dict[str, Any]]:
        o = self.options
        k = inst.num_users
        if k > o.max_users:
            raise SolverError(f"solver '{self.name}' enumerates all batchings: {k} users is more than max_users = "
                              f"{o.max_users} (use pipeline-dp)")
        lengths = self.lengths(inst)
        order = user_order(inst, o.order)
        terms = user_terms(inst)
        table = _subset_table(inst, terms, order, lengths, o.pipelining, contiguous=o.space == "contiguous")
        best = _enumerate(inst, order, table, inst.upload_s_full_band, o, deadline)
        info: dict[str, Any] = {"evaluated": best["count"], "space": o.space}
        if best["timed_out"]:
            info["status"] = Status.TIME_LIMIT
        elif o.space == "all" and o.bandwidth == "closed-form" and o.pipelining and o.lengths is None:
            tail = inst.link.downlink_latency_s * (inst.num_users if inst.objective == "sum" else 1)
            info["status"], info["lower_bound_s"] = Status.OPTIMAL, best["cost"] + tail
        batches = best["batches"]
        cuts_g = [table[b][1] for b in batches]
        cuts_s = [table[b][2] for b in batches]
        members = [[int(u) for u in b] for b in batches]
        shares = sequential_shares(inst, members) if o.bandwidth == "closed-form" else uniform_shares(inst)
        dec = ServingDecision(batches=members, speculation_length=cuts_g, micro_batches=cuts_s, shares=shares,
                              bandwidth_mode="sequential" if o.bandwidth == "closed-form" else "static")
        return dec, info


def _subset_table(inst: PipelineInstance, terms: UserTerms, order: np.ndarray, lengths: list[int], pipelining: bool,
                  *, contiguous: bool) -> dict[tuple[int, ...], tuple[float, int, int]]:
    """Best (T, gamma, split) of every batch the enumeration can form (members in ``order``'s order)."""
    k = len(order)
    order = [int(u) for u in order]
    if contiguous:
        groups = [tuple(order[i:j]) for i in range(k) for j in range(i + 1, k + 1)]
    else:
        rank = {u: p for p, u in enumerate(order)}
        groups = [tuple(sorted(c, key=lambda u: rank[u])) for r in range(1, k + 1)
                  for c in itertools.combinations(range(k), r)]
    table = {}
    for grp in groups:
        best = (np.inf, 0, 1)
        for g in lengths:
            for s in ((1, 2) if pipelining and g > 0 and len(grp) >= 2 else (1,)):
                t = single_batch_duration_s(inst, terms, np.asarray(grp), g, s)
                if t < best[0]:
                    best = (t, g, s)
        table[grp] = best
    return table


def _enumerate(inst: PipelineInstance, order: np.ndarray, table: dict, d_over_r: np.ndarray, o: Any,
               deadline: float | None) -> dict[str, Any]:
    """Walk every batching (depth first: the next batch is any allowed group of the users left)."""
    k = inst.num_users
    rank = {int(u): p for p, u in enumerate(order)}
    state = {"cost": np.inf, "batches": None, "count": 0, "timed_out": False}
    sum_obj = inst.objective == "sum"

    def ready(grp: tuple, upload_done: float) -> tuple[float, float]:
        if o.bandwidth == "closed-form":
            done = upload_done + float(d_over_r[list(grp)].sum())
            return done, done
        return float((d_over_r[list(grp)] * k).max()), upload_done

    def walk(left: tuple, clock: float, upload_done: float, cost: float, chosen: list) -> None:
        if state["timed_out"]:
            return
        if not left:
            state["count"] += 1
            total = cost if sum_obj else clock
            if total < state["cost"]:
                state["cost"], state["batches"] = total, list(chosen)
            if deadline is not None and state["count"] % 4096 == 0 and time.perf_counter() > deadline:
                state["timed_out"] = True
            return
        if o.space == "contiguous":
            options = [left[:n] for n in range(1, len(left) + 1)]
        else:
            options = [c for r in range(1, len(left) + 1) for c in itertools.combinations(left, r)]
        for grp in options:
            rho, up2 = ready(grp, upload_done)
            c = max(clock, rho) + table[grp][0]
            rest = tuple(u for u in left if u not in grp)
            chosen.append(grp)
            walk(rest, c, up2, cost + len(grp) * c, chosen)
            chosen.pop()

    walk(tuple(sorted(range(k), key=lambda u: rank[u])), 0.0, 0.0, 0.0, [])
    return state
