"""Event-driven simulation of pipelined speculative-decoding serving (a sibling of :mod:`uara.psd.simulation.simulator`).

It runs a :class:`~uara.model.pipeline.ServingDecision` the way the serving system would, with no
latency formula: prompts arrive over the uplink (each user at its share's rate, batch after batch in
``sequential`` mode), a batch starts when its last prompt is in and the previous batch is done, the
SBS and the MBS are single FIFO servers of forward passes (a job runs when it is the earliest-arrived
job whose inputs are ready), and the fronthaul delays each message by l_f + bits / R_f. A micro-batch
walks prefill + draft (SBS) -> drafts up -> verify (MBS, after the batch's target prefill) -> verdict
down -> draft (SBS) -> ... until its slowest user is done. Each user's rounds are *sampled* from the
acceptance process (:func:`sample_rounds`: per round, accepted drafts min(G, gamma) with
P(G >= j) = alpha^j, then the correction or bonus token), so a batch runs max_k R_k rounds of one draw;
:func:`event_check_or_reason` averages seeded draws. Only the cost of one pass (the roofline of
:func:`uara.model.pipeline.serving_latency.pass_time_s`) is shared with the analytic model, so the
agreement of the two (tests/test_pipeline.py) checks the recursion of docs/pipeline.md and, over draws,
the expected maximum of :mod:`uara.model.pipeline.batch_rounds`.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from uara.model.pipeline.schedule import ServingDecision, check_decision
from uara.model.pipeline.serving_instance import PipelineInstance
from uara.model.pipeline.serving_latency import (micro_batch_parts, pass_time_s, rounds_needed, user_terms,
                                                 verdict_bits)
from uara.errors import UaraError


@dataclass
class ServingTrace:
    """What the simulation saw: per-user completion, per-batch start/end, every pass as (node, start, end, what)."""

    completion_s: np.ndarray
    batch_start_s: np.ndarray
    batch_end_s: np.ndarray
    passes: list[tuple[str, float, float, str]] = field(default_factory=list)

    def objective(self, kind: str) -> float:
        return float(self.completion_s.sum() if kind == "sum" else self.completion_s.max())

    def busy_s(self, node: str) -> float:
        return float(sum(e - s for n, s, e, _ in self.passes if n == node))


class _Server:
    """A FIFO server of passes; a job waits until its inputs are ready (``ready`` time) and arrives (``arrival``)."""

    def __init__(self, name: str, log: list):
        self.name, self.queue, self.free_at, self.busy, self.log = name, [], 0.0, False, log

    def submit(self, arrival: float, seq: int, duration: float, what: str, done: Any) -> None:
        self.queue.append((arrival, seq, duration, what, done))


def sample_rounds(output_tokens: np.ndarray, alpha: np.ndarray, gamma: int, rng: np.random.Generator) -> np.ndarray:
    """One draw of every user's rounds R_k: rounds of i.i.d. acceptance until O_k tokens are committed
    (gamma = 0: O_k). Independent of the analytic law, so it can check it."""
    o = np.asarray(output_tokens, dtype=np.int64)
    if gamma == 0:
        return o.copy()
    a = np.asarray(alpha, dtype=float)
    done_tokens = np.zeros_like(o)
    rounds = np.zeros_like(o)
    with np.errstate(divide="ignore"):
        log_a = np.log(a)
    while np.any(done_tokens < o):
        live = done_tokens < o
        u = rng.random(o.size)
        with np.errstate(divide="ignore", invalid="ignore"):
            geo = np.where(a >= 1.0, gamma, np.where(a <= 0.0, 0, np.floor(np.log(u) / log_a)))
        done_tokens = done_tokens + live * (np.minimum(geo, gamma).astype(np.int64) + 1)
        rounds = rounds + live
    return rounds


class _Simulation:
    def __init__(self, inst: PipelineInstance, dec: ServingDecision, rng: np.random.Generator):
        self.inst, self.dec, self.terms = inst, dec, user_terms(inst)
        self.rng = rng
        self.events: list = []
        self.seq = 0
        self.passes: list = []
        self.sbs, self.mbs = _Server("sbs", self.passes), _Server("mbs", self.passes)
        m = len(dec.batches)
        self.batch_start, self.batch_end = np.full(m, np.nan), np.full(m, np.nan)
        self.prompts_in = [0] * m
        self.completion = np.full(inst.num_users, np.nan)
        self.next_batch = 0

    # ---------------------------------------------------------------- event loop
    def at(self, t: float, fn: Any, *args: Any) -> None:
        self.seq += 1
        heapq.heappush(self.events, (t, self.seq, fn, args))

    def run(self) -> ServingTrace:
        self._schedule_uploads()
        while self.events:
            t, _, fn, args = heapq.heappop(self.events)
            fn(t, *args)
            self._dispatch(t, self.sbs)
            self._dispatch(t, self.mbs)
        return ServingTrace(self.completion, self.batch_start, self.batch_end, self.passes)

    def _dispatch(self, now: float, srv: _Server) -> None:
        if srv.busy or not srv.queue:
            return
        srv.queue.sort(key=lambda j: (j[0], j[1]))
        arrival, _, duration, what, done = srv.queue.pop(0)
        start = max(now, srv.free_at, arrival)
        srv.busy = True
        self.passes.append((srv.name, start, start + duration, what))
        self.at(start + duration, self._finish, srv, done)

    def _finish(self, t: float, srv: _Server, done: Any) -> None:
        srv.busy, srv.free_at = False, t
        done(t)

    # ---------------------------------------------------------------- uploads and batches
    def _schedule_uploads(self) -> None:
        inst, dec = self.inst, self.dec
        d = inst.upload_bits
        rate = np.asarray(dec.shares) * inst.rate_bps
        if dec.bandwidth_mode == "static":
            for b, members in enumerate(dec.batches):
                for u in members:
                    self.at(d[u] / rate[u], self._prompt_in, b)
        else:
            self._upload_batch(0.0, 0, d, rate)

    def _upload_batch(self, t: float, b: int, d: np.ndarray, rate: np.ndarray) -> None:
        members = self.dec.batches[b]
        last = max(t + d[u] / rate[u] for u in members)
        for u in members:
            self.at(t + d[u] / rate[u], self._prompt_in, b)
        if b + 1 < len(self.dec.batches):
            self.at(last, lambda tt: self._upload_batch(tt, b + 1, d, rate))

    def _prompt_in(self, t: float, b: int) -> None:
        self.prompts_in[b] += 1
        self._maybe_start(t)

    def _maybe_start(self, t: float) -> None:
        b = self.next_batch
        previous_done = b == 0 or not np.isnan(self.batch_end[b - 1])
        if b < len(self.dec.batches) and self.prompts_in[b] == len(self.dec.batches[b]) and previous_done:
            self.next_batch += 1
            self._start_batch(t, b)

    def _start_batch(self, t: float, b: int) -> None:
        inst, link = self.inst, self.inst.link
        members = np.asarray(self.dec.batches[b])
        g, split = self.dec.speculation_length[b], self.dec.micro_batches[b]
        self.batch_start[b] = t
        n_rounds = int(sample_rounds(inst.output_tokens[members], inst.alpha[members], g, self.rng).max())
        parts = micro_batch_parts(members, split)
        padded = len(parts[0])
        state = {"left": len(parts), "prefilled": False, "waiting": []}
        fwd = link.fronthaul_latency_s + (link.token_bits * self.terms.prompt_tokens[members].sum() + link.header_bits) / link.fronthaul_bps
        prefill_m = float(pass_time_s(inst.mbs, inst.target, self.terms.target_prefill_flops[members].sum()))

        def prefilled(tt: float) -> None:
            state["prefilled"] = True
            for job in state["waiting"]:
                job(tt)

        self.at(t + fwd, lambda tt: self.mbs.submit(tt, self._n(), prefill_m, f"b{b} target prefill", prefilled))
        if g == 0:
            self._autoregressive(t, b, members, n_rounds, state)
            return
        for h, part in enumerate(parts):
            self._micro_batch(t, b, h, part, padded, g, n_rounds, state)

    def _n(self) -> int:
        self.seq += 1
        return self.seq

    def _batch_done(self, t: float, b: int) -> None:
        self.batch_end[b] = t
        self.completion[self.dec.batches[b]] = t + self.inst.link.downlink_latency_s
        self._maybe_start(t)

    # ---------------------------------------------------------------- the two ways to decode a batch
    def _micro_batch(self, t0: float, b: int, h: int, part: np.ndarray, padded: int, g: int, n_rounds: int,
                     state: dict) -> None:
        inst, link, terms = self.inst, self.inst.link, self.terms
        draft = g * float(pass_time_s(inst.sbs, inst.draft, terms.draft_flops[part].sum()))
        prefill = float(pass_time_s(inst.sbs, inst.draft, terms.draft_prefill_flops[part].sum()))
        verify = float(pass_time_s(inst.mbs, inst.target, (g + 1) * terms.target_flops[part].sum()))
        up = link.fronthaul_latency_s + (link.token_bits * g * padded + link.header_bits) / link.fronthaul_bps
        down = link.fronthaul_latency_s + (padded * verdict_bits(g, link.token_bits) + link.header_bits) / link.fronthaul_bps

        def drafted(t: float, r: int) -> None:
            self.at(t + up, lambda tt: submit_verify(tt, r))

        def submit_verify(t: float, r: int) -> None:
            job = lambda tt: self.mbs.submit(tt, self._n(), verify, f"b{b}.{h} verify r{r}", lambda te: verified(te, r))
            if state["prefilled"]:
                job(t)
            else:
                state["waiting"].append(job)

        def verified(t: float, r: int) -> None:
            if r < n_rounds:
                self.at(t + down, lambda tt: self.sbs.submit(tt, self._n(), draft, f"b{b}.{h} draft r{r + 1}",
                                                             lambda te: drafted(te, r + 1)))
            else:
                self.at(t + down, lambda tt: micro_done(tt))

        def micro_done(t: float) -> None:
            state["left"] -= 1
            if state["left"] == 0:
                self._batch_done(t, b)

        self.sbs.submit(t0, self._n(), prefill + draft, f"b{b}.{h} prefill+draft r1", lambda te: drafted(te, 1))

    def _autoregressive(self, t0: float, b: int, members: np.ndarray, n_rounds: int, state: dict) -> None:
        inst, link = self.inst, self.inst.link
        step = float(pass_time_s(inst.mbs, inst.target, self.terms.target_flops[members].sum()))
        back = link.fronthaul_latency_s + (link.token_bits * self.terms.output_tokens[members].sum()
                                           + link.header_bits) / link.fronthaul_bps

        def decoded(t: float, r: int) -> None:
            if r < n_rounds:
                self.mbs.submit(t, self._n(), step, f"b{b} decode {r + 1}", lambda te: decoded(te, r + 1))
            else:
                self.at(t + back, lambda tt: self._batch_done(tt, b))

        state["waiting"].append(lambda t: self.mbs.submit(t, self._n(), step, f"b{b} decode 1", lambda te: decoded(te, 1)))


#: The most verification rounds (summed over micro-batches and draws) the event-driven check replays:
#: about 3 us each, so a few seconds; a schedule needing more is not replayed (:func:`event_check_or_reason`).
MAX_EVENT_ROUNDS = 2_000_000
#: Draws of the users' rounds the event-driven check averages (fewer where a draw is long).
EVENT_DRAWS = 16


def event_rounds(inst: PipelineInstance, dec: ServingDecision) -> int:
    """Verification rounds one replay of ``dec`` walks, about: per batch, micro-batches x its slowest user's
    rounds at the expected rate."""
    total = 0
    for members, g, split in zip(dec.batches, dec.speculation_length, dec.micro_batches):
        idx = np.asarray(members, dtype=np.int64)
        total += int(split) * int(rounds_needed(inst.output_tokens[idx], inst.alpha[idx], int(g)).max(initial=0))
    return total


def event_check_or_reason(inst: PipelineInstance, dec: ServingDecision, draws: int = EVENT_DRAWS,
                          seed: int = 0) -> tuple[float | None, str]:
    """(mean objective of seeded event-driven replays, each with its own draw of every user's rounds, "")
    or (None, why it was not replayed): one replay would walk more than :data:`MAX_EVENT_ROUNDS` rounds.
    Replays are fewer than ``draws`` where ``draws`` of them would."""
    n = event_rounds(inst, dec)
    if n > MAX_EVENT_ROUNDS:
        return None, f"event-driven check skipped: the schedule has {n} verification rounds (> {MAX_EVENT_ROUNDS})"
    draws = max(1, min(draws, MAX_EVENT_ROUNDS // max(n, 1)))
    rng = np.random.default_rng(seed)
    return float(np.mean([simulate_serving(inst, dec, rng).objective(inst.objective) for _ in range(draws)])), ""


def simulate_serving(inst: PipelineInstance, dec: ServingDecision, rng: np.random.Generator | int | None = 0
                     ) -> ServingTrace:
    """Run ``dec`` on ``inst`` event by event (module docstring), the users' rounds drawn from ``rng`` (a
    generator or a seed); an infeasible decision raises."""
    bad = check_decision(inst, dec)
    if bad:
        raise UaraError(f"decision: {bad[0]}")
    return _Simulation(inst, dec, np.random.default_rng(rng)).run()
