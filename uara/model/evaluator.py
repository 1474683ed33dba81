"""Score decisions against P1 and check every constraint.

:func:`evaluate` is the one place a decision's objective is computed; every
solver's result is re-scored here, so back-ends are compared on identical
arithmetic. :func:`evaluate_batch` scores many candidate decisions at once for
local search and reinforcement learning.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from uara.model.formulation import DeviceTerms, SlotData, device_terms

#: Tolerance on the per-server share budgets (sum_i y_ij <= 1 + TOL).
BUDGET_TOL = 1e-9


@dataclass(frozen=True)
class Evaluation:
    """The value of one slot's decisions.

    ``objective`` is I (eq. 9) in full; ``controllable`` is I - C, the part
    decisions change (gaps are relative to it). ``breakdown`` sums the terms
    over devices: device_s, server_s, sync_penalty, energy (= energy_compute +
    energy_comm), energy_compute, energy_comm; plus uplink_s (sum of T_i, not
    an objective term). ``energy_j`` is each device's physical energy E^CP +
    E^CM (J). ``violations`` lists broken constraints, one readable line each.
    """

    objective: float
    constant: float
    breakdown: dict[str, float]
    terms: DeviceTerms
    energy_j: np.ndarray
    violations: list[str] = field(default_factory=list)

    @property
    def feasible(self) -> bool:
        return not self.violations

    @property
    def controllable(self) -> float:
        return self.objective - self.constant


def check_decisions(
    sd: SlotData, association: np.ndarray, y: np.ndarray, z: np.ndarray, *, tol: float = BUDGET_TOL
) -> list[str]:
    """Return the list of violated constraints (empty when feasible)."""
    return _check(sd, association, y, z, tol)[0]


def _check(sd: SlotData, association: np.ndarray, y: np.ndarray, z: np.ndarray, tol: float) -> tuple[list[str], bool]:
    """(violations, scorable): scorable is False when shapes or server indices are wrong."""
    m, e = sd.num_devices, sd.num_servers
    out: list[str] = []
    assoc = np.asarray(association)
    y = np.asarray(y, dtype=float)
    z = np.asarray(z, dtype=float)
    for name, arr in (("association", assoc), ("bandwidth_share", y), ("compute_share", z)):
        if arr.shape != (m,):
            out.append(f"{name}: expected shape ({m},), got {arr.shape}")
    if out:
        return out, False
    if not np.issubdtype(assoc.dtype, np.integer):
        if not np.all(np.isfinite(assoc.astype(float))) or np.any(assoc != np.round(assoc)):
            out.append("association: server indices must be integers (eq. 3: x_ij binary)")
            return out, False
        assoc = assoc.astype(np.intp)
    bad = (assoc < 0) | (assoc >= e)
    if bad.any():
        i = int(np.argmax(bad))
        out.append(f"association[{i}]: server {int(assoc[i])} out of range 0..{e - 1}")
        return out, False
    for name, arr in (("bandwidth_share", y), ("compute_share", z)):
        bad = ~np.isfinite(arr) | (arr < 0) | (arr > 1 + tol)
        if bad.any():
            i = int(np.argmax(bad))
            out.append(f"{name}[{i}]: {arr[i]} outside [0, 1]")
        zero = np.isfinite(arr) & (arr <= 0)
        if zero.any():
            i = int(np.argmax(zero))
            out.append(f"{name}[{i}]: zero share for a served device (infinite delay)")
    for name, arr in (("bandwidth_share", y), ("compute_share", z)):
        load = np.bincount(assoc, weights=np.nan_to_num(arr), minlength=e)
        over = load > 1 + tol
        if over.any():
            j = int(np.argmax(over))
            out.append(f"{name}: server {j} hands out {load[j]:.12g} > 1 of its budget (eq. 4, per server)")
    unusable = ~sd.usable[np.arange(m), assoc]
    if unusable.any():
        i = int(np.argmax(unusable))
        out.append(f"association[{i}]: server {int(assoc[i])} has no usable link to device {i} "
                   "(no propagation path, or SNR below params.min_snr_db)")
    return out, True


def evaluate(
    sd: SlotData, association: np.ndarray, y: np.ndarray, z: np.ndarray, *, tol: float = BUDGET_TOL
) -> Evaluation:
    """I of one slot (eq. 9) with its breakdown and the list of violated constraints.

    Infeasible decisions are still scored where the arithmetic allows (a share
    above the budget gives a finite, too-good value; a zero share gives inf),
    so callers must look at :attr:`Evaluation.violations`.
    """
    violations, scorable = _check(sd, association, y, z, tol)
    m = sd.num_devices
    if not scorable:
        nan = np.full(m, np.nan)
        terms = DeviceTerms(nan, nan, nan, nan, nan, nan)
        return Evaluation(float("nan"), sd.constant, {}, terms, nan, violations)
    assoc = np.asarray(association).astype(np.intp)
    terms = device_terms(sd, assoc, y, z)
    breakdown = {
        "device_s": float(terms.device_s.sum()),
        "server_s": float(terms.server_s.sum()),
        "sync_penalty": float(terms.sync_penalty.sum()),
        "energy": float(terms.energy_compute.sum() + terms.energy_comm.sum()),
        "energy_compute": float(terms.energy_compute.sum()),
        "energy_comm": float(terms.energy_comm.sum()),
        "uplink_s": float(terms.uplink_s.sum()),
    }
    objective = float(terms.total.sum())
    energy_j = sd.energy_cp_j + sd.comm_energy_j(assoc, y)
    return Evaluation(objective, sd.constant, breakdown, terms, energy_j, violations)


def evaluate_batch(sd: SlotData, association: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    """I for K candidate decisions at once: inputs (K, M), output (K,).

    No constraint checks (callers generate feasible candidates); the
    arithmetic is that of :func:`evaluate`, term for term.
    """
    return device_terms(sd, association, y, z).total.sum(axis=-1)
