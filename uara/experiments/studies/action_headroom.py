"""How much any TMA-MASAC policy could gain: the best action found by searching the action space directly.

A policy maps a slot to an action A in [-1, 1]^(M x 2) (:mod:`uara.rl.environment`: a per-device energy-price
factor exp(beta_y A_i0) and compute weight exp(beta_z A_i1)); a *semantics* maps the action to a decision:

- ``paper`` (the ``masac`` back-end, the paper's Sec. IV): the policy's Y, Z on the Max-SINR association, then
  TMA's pairwise swaps of seats with their shares; the policy's shares are returned
  (:func:`uara.solvers.p1.masac.paper_decision`).
- ``uara`` (the ``masac-uara`` back-end): TMA phase 1, best-improving single-device moves under the policy's
  shares, then the allocation re-solved exactly (:func:`uara.rl.environment.decide`, ``final_allocation="exact"``).

For one slot the value of an action is f(A) = I(decision(A)) - C (the controllable cost). The *headroom* of a
semantics on the slot is f(0) - min_A f(A): what a perfect policy could gain over the zero action (the KKT
prior, i.e. the exact allocation's shares). min_A f(A) is searched by

- :func:`coordinate_search`: sweeps over the devices in a seeded random order; for each of the 2 M coordinates
  every value of a grid is tried and the best kept; stops after a sweep that improves nothing (a coordinate-wise
  local minimum on the grid: ``converged``), at ``max_evaluations`` or at a deadline;
- :func:`block_search`: a (1+1) evolution strategy that perturbs a random block of devices per step (Gaussian,
  step size adapted by the 1/5 success rule), for sizes where one sweep is beyond the budget.

Both start from the better of the zero action and a given one (the shipped policy's), so what they return is
never worse than either: a lower bound on the headroom, exact only in the limit of the search.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from uara.model.evaluator import evaluate
from uara.model.formulation import SlotData

#: The two meanings of an action (module docstring).
SEMANTICS = ("paper", "uara")
#: What f measures: P1's controllable cost I - C, or the decision's summed PSD latency (s) on the batched
#: server's event simulation (:func:`decision_latency_s`).
OBJECTIVES = ("cost", "latency")
#: Values a coordinate takes in :func:`coordinate_search` (the action range is [-1, 1]).
COORDINATE_GRID = (-1.0, -0.5, -0.2, 0.0, 0.2, 0.5, 1.0)
#: An improvement counts when it lowers f by more than this, relative to |f|.
IMPROVEMENT_RTOL = 1e-12


@dataclass(frozen=True)
class SearchResult:
    """The best action found, its value f (I - C), how many evaluations and sweeps (steps for
    :func:`block_search`) it took, whether it stopped at a local minimum, and the seconds spent."""

    action: np.ndarray
    value: float
    evaluations: int
    sweeps: int
    converged: bool
    time_s: float
    method: str


def decision_latency_s(tasks: Any, association: np.ndarray, bandwidth_share: np.ndarray,
                       compute_share: np.ndarray) -> float:
    """sum_i L_i (s): every device's PSD latency under the decision on its server's configuration, by the
    batched server's event simulation with the tasks' own draft lengths
    (:func:`uara.psd.server_configs.score_configs`; ``tasks`` from :func:`uara.psd.server_configs.slot_tasks`):
    latency-aware UARA's objective at energy weight 0. inf when a device gets no share or no rate."""
    from uara.psd.server_configs import decision_configs, score_configs

    configs = decision_configs(association, tasks.own_draft_length, bandwidth_share, compute_share,
                               tasks.num_servers)
    total = float(sum(float(np.sum(v)) for v in score_configs(tasks, configs)))
    return total if np.isfinite(total) else float("inf")


def action_objective(sd: SlotData, semantics: str, tasks: Any = None) -> Callable[[np.ndarray], float]:
    """f(A) = I - C of the decision ``semantics`` makes from action A (M, 2), re-scored by the evaluator; with
    ``tasks`` (the slot's :class:`uara.psd.server_configs.SlotTasks`) the decision's summed latency instead
    (:func:`decision_latency_s`)."""
    if semantics == "paper":
        from uara.solvers.p1.masac import paper_decision

        def decide_action(action: np.ndarray):
            return paper_decision(sd, action)
    elif semantics == "uara":
        from uara.rl.environment import decide

        def decide_action(action: np.ndarray):
            return decide(sd, action, final_allocation="exact")
    else:
        raise ValueError(f"semantics must be one of {', '.join(SEMANTICS)}, got {semantics!r}")

    def f(action: np.ndarray) -> float:
        dec = decide_action(action)
        if tasks is not None:
            return decision_latency_s(tasks, dec.association, dec.bandwidth_share, dec.compute_share)
        ev = evaluate(sd, dec.association, dec.bandwidth_share, dec.compute_share)
        if ev.violations:
            return float("inf")
        return float(ev.objective - sd.constant)

    return f


def _improves(new: float, old: float) -> bool:
    return new < old - IMPROVEMENT_RTOL * max(abs(old), 1.0)


def coordinate_search(f: Callable[[np.ndarray], float], start: np.ndarray, rng: np.random.Generator, *,
                      grid: tuple[float, ...] = COORDINATE_GRID, max_sweeps: int = 4,
                      max_evaluations: int | None = None, deadline: float | None = None) -> SearchResult:
    """min f over actions by coordinate sweeps on ``grid`` (module docstring), from ``start`` (M, 2)."""
    t0 = time.perf_counter()
    x = np.clip(np.asarray(start, dtype=float), -1.0, 1.0).copy()
    best = f(x)
    evals, sweeps, converged = 1, 0, False

    def out_of_budget() -> bool:
        return ((max_evaluations is not None and evals >= max_evaluations)
                or (deadline is not None and time.perf_counter() >= deadline))

    while sweeps < max_sweeps and not out_of_budget():
        sweeps += 1
        improved = False
        for i in rng.permutation(x.shape[0]):
            for c in range(x.shape[1]):
                kept = x[i, c]
                for v in grid:
                    if v == kept or out_of_budget():
                        continue
                    x[i, c] = v
                    val = f(x)
                    evals += 1
                    if _improves(val, best):
                        best, kept, improved = val, v, True
                x[i, c] = kept
        if not improved and not out_of_budget():
            converged = True
            break
    return SearchResult(x, best, evals, sweeps, converged, time.perf_counter() - t0, "coordinate")


def block_search(f: Callable[[np.ndarray], float], start: np.ndarray, rng: np.random.Generator, *,
                 max_evaluations: int, block_share: float = 0.05, sigma: float = 0.5,
                 deadline: float | None = None) -> SearchResult:
    """min f by a (1+1) evolution strategy from ``start``: each step draws ceil(block_share M) devices, adds
    sigma N(0, 1) to both their coordinates (clipped to [-1, 1]) and keeps the result if it improves f;
    sigma grows by 1.5 after a success and shrinks by 1.5^(-1/4) after a failure (the 1/5 rule)."""
    t0 = time.perf_counter()
    x = np.clip(np.asarray(start, dtype=float), -1.0, 1.0).copy()
    best = f(x)
    evals, steps = 1, 0
    m = x.shape[0]
    k = max(1, int(np.ceil(block_share * m)))
    while evals < max_evaluations and not (deadline is not None and time.perf_counter() >= deadline):
        steps += 1
        rows = rng.choice(m, size=k, replace=False)
        y = x.copy()
        y[rows] = np.clip(y[rows] + sigma * rng.standard_normal((k, x.shape[1])), -1.0, 1.0)
        val = f(y)
        evals += 1
        if _improves(val, best):
            x, best, sigma = y, val, min(2.0, sigma * 1.5)
        else:
            sigma = max(0.02, sigma * 1.5 ** -0.25)
    return SearchResult(x, best, evals, steps, False, time.perf_counter() - t0, "block")


@dataclass(frozen=True)
class HeadroomRow:
    """One slot under one semantics, all values I - C: ``zero_action`` f(0), ``shipped_policy`` f(policy's
    action), ``best_searched`` min f found, ``best_bound`` a certified lower bound on I - C over all decisions
    (and ``best_known`` the best decision known by any method), with the search's record."""

    instance: str
    slot: int
    semantics: str
    devices: int
    servers: int
    zero_action: float
    shipped_policy: float
    best_searched: float
    best_bound: float
    best_known: float
    search: dict

    @property
    def headroom(self) -> float:
        """(f(0) - best searched) / f(0): the share of the zero action's cost a policy can remove."""
        return (self.zero_action - self.best_searched) / self.zero_action

    @property
    def policy_share_of_headroom(self) -> float:
        """(f(0) - f(policy)) / (f(0) - best searched); nan without headroom."""
        gain = self.zero_action - self.best_searched
        return (self.zero_action - self.shipped_policy) / gain if gain > 0 else float("nan")


def headroom_row(instance: str, slot: int, sd: SlotData, semantics: str, policy_action: np.ndarray,
                 bound: float, known: float, rng: np.random.Generator, *, max_evaluations: int,
                 method: str = "coordinate", deadline: float | None = None) -> HeadroomRow:
    """Search the action space of ``semantics`` on one slot (from the better of zero and ``policy_action``)
    and return its row; ``bound`` and ``known`` are values of I (converted to I - C here)."""
    f = action_objective(sd, semantics)
    zero = np.zeros((sd.num_devices, 2))
    f_zero, f_policy = f(zero), f(policy_action)
    start = policy_action if f_policy < f_zero else zero
    if method == "coordinate":
        res = coordinate_search(f, start, rng, max_evaluations=max_evaluations, deadline=deadline)
    elif method == "block":
        res = block_search(f, start, rng, max_evaluations=max_evaluations, deadline=deadline)
    else:
        raise ValueError(f"method must be coordinate or block, got {method!r}")
    best = min(res.value, f_zero, f_policy)
    record = {"method": res.method, "start": "policy" if start is policy_action else "zero",
              "evaluations": res.evaluations + 2, "sweeps": res.sweeps, "converged": res.converged,
              "max_evaluations": max_evaluations, "time_s": round(res.time_s, 3)}
    return HeadroomRow(instance, slot, semantics, sd.num_devices, sd.num_servers, f_zero, f_policy, best,
                       bound - sd.constant, min(known - sd.constant, best), record)
