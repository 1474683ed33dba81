"""Decisions of the pipelined serving problem, their evaluation and the closed-form bandwidth.

A :class:`ServingDecision` is an ordered list of batches (user indices), a speculation length and a
micro-batch count (1, or 2 = drafting one half while the other is verified) per batch, and the uplink
bandwidth shares y_k. :func:`evaluate_schedule` scores any decision with the model of
:mod:`uara.model.pipeline.serving_latency` and lists every violated constraint; solvers are re-scored
by it, so every back-end is judged by the same numbers.

Bandwidth modes (docs/pipeline.md):

- ``sequential``: the band serves the batches' uploads one batch after another, in batch order
  (user k of B_m holds share y_k of the band while B_m uploads, sum_{k in B_m} y_k <= 1):
  rho_m = rho_{m-1} + max_{k in B_m} d_k / (y_k r_k). With y_k = (d_k / r_k) / A_m,
  A_m = sum_{k in B_m} d_k / r_k, rho_m = sum_{n <= m} A_n, which no allocation, even a time-varying
  one, can beat for any m (by rho_m every prompt of B_1..B_m is in: sum d_k / r_k of band-time), so
  it is optimal for every objective that grows with the rho_m (:func:`sequential_shares`).
- ``static``: FDMA for the whole upload phase, sum_k y_k <= 1, rho_m = max_{k in B_m} d_k / (y_k r_k).
  :func:`static_shares` minimises sum_m w_m rho_m in closed form: within a batch equal finish times,
  Y_m = sqrt(w_m A_m) / sum_n sqrt(w_n A_n) across batches (Cauchy-Schwarz).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from uara.errors import SolutionError
from uara.model.pipeline.serving_instance import PipelineInstance
from uara.model.pipeline.serving_latency import UserTerms, batch_memory_bytes, single_batch_duration_s, user_terms

BANDWIDTH_MODES = ("sequential", "static")
SHARE_TOL = 1e-9


@dataclass
class ServingDecision:
    """Ordered batches, speculation length and micro-batches per batch, bandwidth shares (module docstring)."""

    batches: list[list[int]]
    speculation_length: list[int]
    micro_batches: list[int]
    shares: np.ndarray
    bandwidth_mode: str = "sequential"

    def to_dict(self) -> dict[str, Any]:
        return {"batches": [[int(k) for k in b] for b in self.batches],
                "speculation_length": [int(g) for g in self.speculation_length],
                "micro_batches": [int(s) for s in self.micro_batches],
                "bandwidth": {"mode": self.bandwidth_mode, "shares": [float(y) for y in self.shares]}}

    @classmethod
    def from_dict(cls, raw: Any, path: str = "decision") -> "ServingDecision":
        if not isinstance(raw, Mapping):
            raise SolutionError(path, "expected an object")
        for key in ("batches", "speculation_length", "micro_batches", "bandwidth"):
            if key not in raw:
                raise SolutionError(f"{path}.{key}", "missing")
        bw = raw["bandwidth"]
        if not isinstance(bw, Mapping) or "shares" not in bw:
            raise SolutionError(f"{path}.bandwidth", "expected an object with 'mode' and 'shares'")
        batches = raw["batches"]
        if not isinstance(batches, list) or not all(isinstance(b, list) for b in batches):
            raise SolutionError(f"{path}.batches", "expected a list of lists of user indices")
        for m, b in enumerate(batches):
            for pos, k in enumerate(b):
                if isinstance(k, bool) or not isinstance(k, int):
                    raise SolutionError(f"{path}.batches[{m}][{pos}]", f"expected a user index, got {k!r}")
        for key in ("speculation_length", "micro_batches"):
            vals = raw[key]
            if not isinstance(vals, list) or any(isinstance(v, bool) or not isinstance(v, int) for v in vals):
                raise SolutionError(f"{path}.{key}", "expected a list of integers")
        shares = bw["shares"]
        if not isinstance(shares, list) or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in shares):
            raise SolutionError(f"{path}.bandwidth.shares", "expected a list of numbers")
        return cls(batches=[list(b) for b in batches], speculation_length=list(raw["speculation_length"]),
                   micro_batches=list(raw["micro_batches"]), shares=np.asarray(shares, dtype=float),
                   bandwidth_mode=bw.get("mode", "sequential"))


@dataclass
class ServingEvaluation:
    """The score of a decision: per-user completion times and what they add up to."""

    objective_s: float
    completion_s: np.ndarray
    batch_ready_s: np.ndarray
    batch_start_s: np.ndarray
    batch_end_s: np.ndarray
    batch_duration_s: np.ndarray
    violations: list[str] = field(default_factory=list)

    @property
    def feasible(self) -> bool:
        return not self.violations

    def to_dict(self) -> dict[str, Any]:
        c = self.completion_s
        return {"objective_s": self.objective_s, "feasible": self.feasible, "violations": list(self.violations),
                "mean_latency_s": float(c.mean()) if c.size else None,
                "max_latency_s": float(c.max()) if c.size else None,
                "completion_s": c.tolist(), "batch_ready_s": self.batch_ready_s.tolist(),
                "batch_start_s": self.batch_start_s.tolist(), "batch_end_s": self.batch_end_s.tolist(),
                "batch_duration_s": self.batch_duration_s.tolist()}


def check_decision(inst: PipelineInstance, dec: ServingDecision) -> list[str]:
    """Every violated constraint, one line each (empty: feasible)."""
    k = inst.num_users
    out: list[str] = []
    m = len(dec.batches)
    if m == 0:
        return ["batches: no batch"]
    if len(dec.speculation_length) != m or len(dec.micro_batches) != m:
        return [f"speculation_length and micro_batches need one entry per batch ({m}), got "
                f"{len(dec.speculation_length)} and {len(dec.micro_batches)}"]
    seen = np.zeros(k, dtype=int)
    for b, members in enumerate(dec.batches):
        if not members:
            out.append(f"batches[{b}]: empty batch")
        for u in members:
            if not 0 <= u < k:
                out.append(f"batches[{b}]: user {u} out of range 0..{k - 1}")
            else:
                seen[u] += 1
        g, s = dec.speculation_length[b], dec.micro_batches[b]
        if g not in inst.speculation_lengths:
            out.append(f"speculation_length[{b}]: {g} is not a candidate ({list(inst.speculation_lengths)})")
        if s not in (1, 2):
            out.append(f"micro_batches[{b}]: expected 1 or 2, got {s}")
        elif s == 2 and (len(members) < 2 or g == 0):
            out.append(f"micro_batches[{b}]: two micro-batches need at least 2 users and speculation length >= 1")
    for u in np.flatnonzero(seen == 0)[:3]:
        out.append(f"user {u} is in no batch")
    for u in np.flatnonzero(seen > 1)[:3]:
        out.append(f"user {u} is in {seen[u]} batches")
    out += _check_shares(dec, k)
    return out


def _check_shares(dec: ServingDecision, k: int) -> list[str]:
    y = np.asarray(dec.shares, dtype=float)
    if dec.bandwidth_mode not in BANDWIDTH_MODES:
        return [f"bandwidth.mode: expected one of {', '.join(BANDWIDTH_MODES)}, got {dec.bandwidth_mode!r}"]
    if y.shape != (k,):
        return [f"bandwidth.shares: expected {k} shares, got {y.size}"]
    out = []
    bad = np.flatnonzero(~np.isfinite(y) | (y <= 0))
    if bad.size:
        out.append(f"bandwidth.shares[{bad[0]}]: {y[bad[0]]} (every user needs a positive share to upload its prompt)")
    if dec.bandwidth_mode == "static" and y.sum() > 1 + SHARE_TOL:
        out.append(f"bandwidth.shares: sum {y.sum():.12g} > 1")
    if dec.bandwidth_mode == "sequential":
        for b, members in enumerate(dec.batches):
            idx = [u for u in members if 0 <= u < k]
            if idx and y[idx].sum() > 1 + SHARE_TOL:
                out.append(f"bandwidth.shares of batches[{b}]: sum {y[idx].sum():.12g} > 1")
    return out


def upload_ready_s(inst: PipelineInstance, dec: ServingDecision) -> np.ndarray:
    """rho_m per batch (module docstring), for either bandwidth mode."""
    per_user = inst.upload_s_full_band / np.asarray(dec.shares, dtype=float)
    rho = np.empty(len(dec.batches))
    start = 0.0
    for m, members in enumerate(dec.batches):
        done = float(per_user[members].max())
        rho[m] = start + done if dec.bandwidth_mode == "sequential" else done
        if dec.bandwidth_mode == "sequential":
            start = rho[m]
    return rho


def evaluate_schedule(inst: PipelineInstance, dec: ServingDecision, terms: UserTerms | None = None) -> ServingEvaluation:
    """C_m = max(C_{m-1}, rho_m) + T_m; user k finishes at C_{m(k)} + l_d; the objective is their sum
    (or the largest, for ``objective: makespan``). An infeasible decision scores +inf with its violations."""
    violations = check_decision(inst, dec)
    m = len(dec.batches)
    if violations:
        nan = np.full(m, np.nan)
        return ServingEvaluation(float("inf"), np.full(inst.num_users, np.inf), nan, nan, nan, nan, violations)
    terms = terms or user_terms(inst)
    rho = upload_ready_s(inst, dec)
    dur = np.array([single_batch_duration_s(inst, terms, np.asarray(b), g, s)
                    for b, g, s in zip(dec.batches, dec.speculation_length, dec.micro_batches)])
    memory = memory_violations(inst, dec, terms)
    if memory:
        return ServingEvaluation(float("inf"), np.full(inst.num_users, np.inf), rho, np.full(m, np.nan),
                                 np.full(m, np.nan), dur, memory)
    start, end = np.empty(m), np.empty(m)
    clock = 0.0
    for b in range(m):
        start[b] = max(clock, rho[b])
        end[b] = clock = start[b] + dur[b]
    completion = np.empty(inst.num_users)
    for b, members in enumerate(dec.batches):
        completion[members] = end[b] + inst.link.downlink_latency_s
    objective = float(completion.sum() if inst.objective == "sum" else completion.max())
    return ServingEvaluation(objective, completion, rho, start, end, dur, [])


def batch_peak_bytes(inst: PipelineInstance, dec: ServingDecision, terms: UserTerms | None = None) -> np.ndarray:
    """Per batch: the MBS memory it needs, W_t + peak KV cache (B; :func:`uara.model.pipeline.serving_latency.batch_memory_bytes`)."""
    terms = terms or user_terms(inst)
    return np.array([float(batch_memory_bytes(inst, terms.prompt_tokens[b].sum(), terms.output_tokens[b].sum(), g, len(b)))
                     for b, g in zip(dec.batches, dec.speculation_length)])


def memory_violations(inst: PipelineInstance, dec: ServingDecision, terms: UserTerms | None = None) -> list[str]:
    """One line per batch whose weights plus KV cache exceed the MBS memory."""
    if inst.mbs.memory_bytes is None:
        return []
    need = batch_peak_bytes(inst, dec, terms)
    return [f"batches[{m}]: needs {need[m] / 1e9:.2f} GB of MBS memory (weights + KV cache of its "
            f"{len(dec.batches[m])} users), the MBS has {inst.mbs.memory_bytes / 1e9:.2f} GB"
            for m in np.flatnonzero(need > inst.mbs.memory_bytes)]


def sequential_shares(inst: PipelineInstance, batches: Sequence[Sequence[int]]) -> np.ndarray:
    """y_k = (d_k / r_k) / A_m within each batch: every prompt of a batch arrives at once, rho_m = sum_{n<=m} A_n."""
    d_over_r = inst.upload_s_full_band
    y = np.zeros(inst.num_users)
    for members in batches:
        idx = np.asarray(members, dtype=np.int64)
        y[idx] = d_over_r[idx] / d_over_r[idx].sum()
    return y


def static_shares(inst: PipelineInstance, batches: Sequence[Sequence[int]], weights: Sequence[float] | None = None) -> np.ndarray:
    """argmin sum_m w_m max_{k in B_m} d_k / (y_k r_k) s.t. sum y <= 1: Y_m proportional to sqrt(w_m A_m),
    y_k = Y_m (d_k / r_k) / A_m. Default w_m = |B_m| (the users who wait for batch m)."""
    d_over_r = inst.upload_s_full_band
    w = np.array([len(b) for b in batches], float) if weights is None else np.asarray(weights, float)
    a = np.array([d_over_r[np.asarray(b, dtype=np.int64)].sum() for b in batches])
    big_y = np.sqrt(w * a) / np.sqrt(w * a).sum()
    y = np.zeros(inst.num_users)
    for members, ym, am in zip(batches, big_y, a):
        idx = np.asarray(members, dtype=np.int64)
        y[idx] = ym * d_over_r[idx] / am
    return y


def uniform_shares(inst: PipelineInstance) -> np.ndarray:
    """y_k = 1 / K (the benchmark)."""
    return np.full(inst.num_users, 1.0 / inst.num_users)
