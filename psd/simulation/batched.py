"""The batched, work-conserving verification server: PSD timelines of many devices sharing servers.

Every device runs its own timeline exactly as in :mod:`uara.psd.simulation.simulator` (drafting,
uplink, pre-/post-verify, downlink, the block and lineage rules); only the verification differs. A
device's block joins its server's queue when it arrives (and not before the device's previous block
has been verified). Each server runs forward passes back to back while any request waits (continuous
batching, work-conserving): a pass starts at

    s = max(end of the previous pass, earliest waiting request),

takes every waiting request it can admit, in arrival order, while

    |B| <= max_batch   and   kv_b * sum_{i in B} c_i <= memory - W

(c_i = prompt + committed tokens + the block's m_i + 1 positions), and returns every verdict of the
batch when it ends, after t_pass(B) of :mod:`uara.model.shared.server_model`. No compute share is
reserved. The critical path charges the wait for the pass to ``queue`` and the pass to ``server``.

Background work of other tenants arrives per server as a seeded Poisson stream of single verification
requests (:class:`Background`); they join passes like any request, so they cost capacity (a larger
batch, a pass that has just started), not only a start delay. A server busy at t = 0 with backlog
(``start_s``) starts its first pass then.

The event loop advances every server by one pass per iteration, vectorised over servers (one call can
hold all slots of an instance: a server of each slot is one independent queue) and over the tasks a
pass completes. Tasks whose context can never fit in their server's KV cache (or whose server cannot
hold the weights) get an infinite latency and ``finite=False``, as a zero share does under ``reserved``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from uara.errors import UaraError
from uara.model.shared.server_model import ServerHardware, TargetCost, batch_pass_s, kv_capacity_tokens
from uara.psd.simulation.acceptance import next_mismatch
from uara.psd.simulation.simulator import (QUEUE, SERVER, Decoding, SimResult, Timing, _charge_waste, _check_inputs,
                                           _initial_state, check_lengths, _mx, _next_block, _plus, _record_finished, _verdict,
                                           downlink_leg, uplink_leg)

#: A batched simulation that runs more passes than this on some server stops with an error (a guard
#: against a loop that makes no progress; a 180 x 8 x 10 instance needs a few thousand).
MAX_PASSES = 5_000_000


@dataclass(frozen=True)
class Background:
    """Requests of other tenants, per server: ``arrival_s`` (G, K) sorted per row, padded with inf;
    each request verifies ``positions`` (G,) positions of ``flops_per_position`` (G,) FLOP over a context
    of ``context_tokens`` (G,)."""

    arrival_s: np.ndarray
    positions: np.ndarray
    context_tokens: np.ndarray
    flops_per_position: np.ndarray

    @classmethod
    def none(cls, n_servers: int) -> "Background":
        z = np.zeros(n_servers)
        return cls(np.full((n_servers, 1), np.inf), z, z, z)


@dataclass(frozen=True)
class BatchedServers:
    """G independent servers: hardware, the target's cost (one value, or (G,) arrays: one per server), backlog
    (busy until ``start_s``)."""

    hardware: ServerHardware
    cost: TargetCost
    start_s: np.ndarray
    background: Background

    @property
    def size(self) -> int:
        return self.hardware.size


@dataclass(frozen=True)
class BatchedTasks:
    """Tasks that share one :class:`Decoding`: as for :func:`~uara.psd.simulation.simulator.simulate`,
    plus the server each one uses (index into :class:`BatchedServers`), its prompt length (tokens) and
    the target's FLOP per verified position. ``timing.verify_s_*`` and ``queue_s`` are not used.
    ``draft_lengths`` (N,): each task's own draft length, at most ``decoding.draft_length`` (None: all that)."""

    n_tokens: Any
    match: np.ndarray
    timing: Timing
    decoding: Decoding
    server: np.ndarray
    prompt_tokens: np.ndarray
    flops_per_position: np.ndarray
    draft_lengths: np.ndarray | None = None


def background_arrivals(rate_per_s: np.ndarray, horizon_s: float, rng: np.random.Generator) -> np.ndarray:
    """(G, K) Poisson arrival times on [0, horizon_s] at ``rate_per_s`` (G,), padded with inf."""
    rate = np.asarray(rate_per_s, dtype=float)
    counts = rng.poisson(rate * horizon_s)
    width = max(1, int(counts.max(initial=0)))
    out = np.full((rate.size, width), np.inf)
    for g, k in enumerate(counts):
        out[g, :k] = np.sort(rng.uniform(0.0, horizon_s, k))
    return out


#: The state entries a round changes (the others are a task's constants: speeds, sizes, its server).
MUTABLE = ("a", "blk", "g", "m", "ds", "dsc", "uf", "ufc", "vf", "vfc", "nf_", "nfc", "rp", "rpc", "dev", "upb", "srv",
           "dnb", "bu", "bd", "rounds", "drafted", "accepted", "verified")


class _Group:
    """The unfinished tasks of one :class:`BatchedTasks`, with their pending request (``ev``)."""

    def __init__(self, tasks: BatchedTasks, servers: BatchedServers):
        dec = tasks.decoding
        match, n_tok = _check_inputs(tasks.n_tokens, tasks.match, dec)
        n = match.shape[0]
        tm = tasks.timing.arrays(n)
        tm["verify_s_per_position"] = np.zeros(n)
        sid = np.broadcast_to(np.asarray(tasks.server, dtype=np.int64), (n,))
        if ((sid < 0) | (sid >= servers.size)).any():
            raise UaraError(f"server: expected indices in 0..{servers.size - 1}")
        prompt = np.broadcast_to(np.asarray(tasks.prompt_tokens, dtype=float), (n,))
        cap = np.broadcast_to(kv_capacity_tokens(servers.hardware, servers.cost), (servers.size,))[sid]
        lengths = check_lengths(tasks.draft_lengths, n, dec)
        block = dec.max_block if dec.adaptive else lengths
        finite = (np.isfinite(tm["draft_s_per_token"]) & (tm["uplink_bps"] > 0) & (tm["downlink_bps"] > 0)
                  & np.isfinite(tm["link_latency_s"]) & (prompt + n_tok + block + 1 <= cap))
        self.dec, self.n_all, self.finite = dec, n, finite
        self.res = {k: np.zeros(n) for k in ("latency_s", "device_busy_s", "uplink_busy_s", "server_busy_s",
                                             "downlink_busy_s", "uplink_bits", "downlink_bits")}
        self.ires = {k: np.zeros(n, dtype=np.int64) for k in ("rounds", "tokens", "drafted_tokens",
                                                               "accepted_tokens", "verified_positions")}
        self.crit = np.zeros((n, 5))
        self.res["latency_s"][~finite] = np.inf
        self.crit[~finite] = np.nan
        rows = np.flatnonzero(finite)
        self.nf = next_mismatch(match[rows])
        st = _initial_state(rows, tm, n_tok, dec, lengths)
        st["sid"] = sid[rows]
        st["ctx0"] = prompt[rows]
        st["ft"] = np.broadcast_to(np.asarray(tasks.flops_per_position, dtype=float), (n,))[rows]
        self.st = st
        self.ev = uplink_leg(st, dec)
        self._ready()

    def _ready(self) -> None:
        """A request is ready at max(arrival, end of the device's previous verification)."""
        self.ready, self.readyc = _mx(self.ev["arr"], self.ev["arrc"], self.st["vf"], self.st["vfc"])

    @property
    def active(self) -> int:
        return int(self.st["row"].size)

    def context(self) -> np.ndarray:
        """c_i of each pending request: prompt + committed tokens + the block's m + 1 positions."""
        return self.st["ctx0"] + self.st["a"] + self.st["m"] + 1

    def complete(self, sel: np.ndarray, start_s: np.ndarray, pass_s: np.ndarray) -> None:
        """The pass that started at ``start_s`` (per selected task) and lasted ``pass_s`` answers the
        selected tasks: downlink, verdict, next block, its uplink; finished tasks leave."""
        dec = self.dec
        sel = np.flatnonzero(sel)
        sub = {k: v[sel] for k, v in self.st.items()}
        ev = {k: v[sel] for k, v in self.ev.items()}
        vs, vsc = _plus(self.ready[sel], self.readyc[sel], start_s - self.ready[sel], QUEUE)
        ve, vec = _plus(vs, vsc, pass_s, SERVER)
        rejected = self.nf[sub["loc"], sub["a"]] < sub["a"] + sub["m"]
        ev = downlink_leg(sub, dec, ev, ve, vec, pass_s, rejected)
        out = _verdict(sub, ev, self.nf, dec)
        if out["waste"].any():
            _charge_waste(sub, ev, out, dec)
        done = out["p_new"] >= sub["ntok"]
        if done.any():
            _record_finished(sub, ev, out, done, self.res, self.ires, self.crit)
        _next_block(sub, ev, out, dec)
        nxt = uplink_leg(sub, dec)
        for k in MUTABLE:
            self.st[k][sel] = sub[k]
        for k, v in nxt.items():
            self.ev[k][sel] = v
        if done.any():
            keep = np.ones(self.active, dtype=bool)
            keep[sel[done]] = False
            self.st = {k: v[keep] for k, v in self.st.items()}
            self.ev = {k: v[keep] for k, v in self.ev.items()}
        self._ready()

    def result(self) -> SimResult:
        r, i = self.res, self.ires
        return SimResult(latency_s=r["latency_s"], critical_s=self.crit, device_busy_s=r["device_busy_s"],
                         uplink_busy_s=r["uplink_busy_s"], server_busy_s=r["server_busy_s"],
                         downlink_busy_s=r["downlink_busy_s"], rounds=i["rounds"], tokens=i["tokens"],
                         drafted_tokens=i["drafted_tokens"], accepted_tokens=i["accepted_tokens"],
                         verified_positions=i["verified_positions"], uplink_bits=r["uplink_bits"],
                         downlink_bits=r["downlink_bits"], finite=self.finite)


@dataclass
class PassLog:
    """Every pass the servers ran: server, start (s), duration (s), requests, of them background,
    context tokens read from the KV cache, verified positions (arrays, one entry per pass)."""

    server: list
    start_s: list
    duration_s: list
    requests: list
    background: list
    kv_tokens: list
    positions: list

    def arrays(self) -> dict[str, np.ndarray]:
        return {k: np.concatenate(v) if v else np.zeros(0) for k, v in self.__dict__.items()}


def simulate_batched(tasks: Sequence[BatchedTasks], servers: BatchedServers, *,
                     log: PassLog | None = None) -> list[SimResult]:
    """Simulate every task on its batched server (module docstring); one :class:`SimResult` per
    :class:`BatchedTasks`, in order. ``log`` (a :class:`PassLog`) receives every pass."""
    groups = [_Group(t, servers) for t in tasks]
    n_srv = servers.size
    hw = servers.hardware
    w, kvb = servers.cost.weight_bytes, servers.cost.kv_bytes_per_token
    cap = np.broadcast_to(kv_capacity_tokens(hw, servers.cost), (n_srv,))
    bg = servers.background
    if bg.arrival_s.shape[0] != n_srv:
        raise UaraError(f"background.arrival_s: expected {n_srv} rows, got {bg.arrival_s.shape[0]}")
    bg_flat, bg_off, bg_width, bg_clip = _flat_background(bg.arrival_s)
    bg_ptr = np.zeros(n_srv, dtype=np.int64)
    free = np.asarray(servers.start_s, dtype=float).copy()
    passes = 0
    while any(g.active for g in groups):
        next_req = np.full(n_srv, np.inf)
        for g in groups:
            np.minimum.at(next_req, g.st["sid"], g.ready)
        row = np.minimum(bg_ptr, bg_width - 1)
        next_bg = np.where(bg_ptr < bg_width, bg.arrival_s[np.arange(n_srv), row], np.inf)
        start = np.maximum(free, np.minimum(next_req, next_bg))
        run = np.isfinite(start)
        n_bg = np.where(run, np.searchsorted(bg_flat, np.where(run, np.minimum(start, bg_clip), 0.0) + bg_off, "right")
                        - np.arange(n_srv) * bg_width - bg_ptr, 0)
        admitted, n_bg = _admit(groups, start, n_bg, bg, bg_ptr, cap, hw.max_batch)
        kv_tok = np.zeros(n_srv)
        flops = np.zeros(n_srv)
        reqs = np.zeros(n_srv, dtype=np.int64)
        pos = np.zeros(n_srv)
        for g, sel in zip(groups, admitted):
            sid = g.st["sid"][sel]
            np.add.at(kv_tok, sid, g.context()[sel])
            np.add.at(pos, sid, g.st["m"][sel] + 1.0)
            np.add.at(flops, sid, (g.st["m"][sel] + 1.0) * g.st["ft"][sel])
            np.add.at(reqs, sid, 1)
        kv_tok += n_bg * bg.context_tokens
        pos += n_bg * bg.positions
        flops += n_bg * bg.positions * bg.flops_per_position
        ran = (reqs + n_bg) > 0
        dur = np.where(ran, batch_pass_s(hw.pass_overhead_s, w, kv_tok * kvb, hw.memory_bandwidth_bytes_per_s,
                                         flops, hw.flops), 0.0)
        if log is not None:
            _log(log, ran, start, dur, reqs, n_bg, kv_tok, pos)
        for g, sel in zip(groups, admitted):
            if sel.any():
                sid = g.st["sid"][sel]
                g.complete(sel, start[sid], dur[sid])
        free = np.where(ran, start + dur, free)
        bg_ptr += n_bg
        passes += 1
        if passes > MAX_PASSES:
            raise UaraError(f"batched simulation: more than {MAX_PASSES} passes on a server; is a rate zero?")
    return [g.result() for g in groups]


def _flat_background(arrival: np.ndarray) -> tuple[np.ndarray, np.ndarray, int, float]:
    """Rows of background arrivals laid end to end in one sorted array (row g offset by 2 g span, padding
    at 1.5 span), so one ``searchsorted`` counts the arrivals up to a time (clipped to 1.2 span, after
    every arrival) on every server at once."""
    n_srv, width = arrival.shape
    finite = arrival[np.isfinite(arrival)]
    span = float(finite.max(initial=0.0)) + 1.0
    off = np.arange(n_srv) * span * 2.0
    flat = (np.where(np.isfinite(arrival), arrival, span * 1.5) + off[:, None]).ravel()
    return flat, off, width, span * 1.2


def _admit(groups: Sequence[_Group], start: np.ndarray, n_bg: np.ndarray, bg: Background, bg_ptr: np.ndarray,
           cap: np.ndarray, max_batch: int) -> tuple[list[np.ndarray], np.ndarray]:
    """Which waiting requests each pass takes: all that are ready by the pass start, unless the batch or
    the KV cache is full; then the earliest-ready prefix that fits (foreground and background merged in
    arrival order). Returns a mask per group and the background count per server."""
    waiting = [g.ready <= start[g.st["sid"]] for g in groups]
    kv = n_bg * bg.context_tokens
    count = n_bg.copy()
    for g, sel in zip(groups, waiting):
        np.add.at(kv, g.st["sid"][sel], g.context()[sel])
        np.add.at(count, g.st["sid"][sel], 1)
    over = (count > max_batch) | (kv > cap)
    if not over.any():
        return waiting, n_bg
    # the slow path, for the servers whose waiting requests do not all fit
    srv, t, ctx, owner, idx = [], [], [], [], []
    for k, (g, sel) in enumerate(zip(groups, waiting)):
        pick = np.flatnonzero(sel & over[g.st["sid"]])
        srv.append(g.st["sid"][pick]); t.append(g.ready[pick]); ctx.append(g.context()[pick])
        owner.append(np.full(pick.size, k)); idx.append(pick)
    for s in np.flatnonzero(over & (n_bg > 0)):
        k = int(n_bg[s])
        srv.append(np.full(k, s)); t.append(bg.arrival_s[s, bg_ptr[s]:bg_ptr[s] + k])
        ctx.append(np.full(k, bg.context_tokens[s])); owner.append(np.full(k, -1)); idx.append(np.zeros(k, dtype=np.int64))
    srv_a, t_a, ctx_a, own_a, idx_a = (np.concatenate(v) for v in (srv, t, ctx, owner, idx))
    order = np.lexsort((t_a, srv_a))
    srv_a, ctx_a, own_a, idx_a = srv_a[order], ctx_a[order], own_a[order], idx_a[order]
    first = np.r_[True, srv_a[1:] != srv_a[:-1]]
    seg = np.cumsum(first) - 1
    starts = np.flatnonzero(first)
    cum_kv = np.cumsum(ctx_a) - np.r_[0.0, np.cumsum(ctx_a)][starts][seg]
    rank = np.arange(srv_a.size) - starts[seg]
    take = ((rank < max_batch) & (cum_kv <= cap[srv_a])) | (rank == 0)
    take = _prefix(take, first)
    out = [sel & ~over[g.st["sid"]] for g, sel in zip(groups, waiting)]
    for k in range(len(groups)):
        mine = take & (own_a == k)
        out[k][idx_a[mine]] = True
    n_bg = np.where(over, 0, n_bg)
    np.add.at(n_bg, srv_a[take & (own_a == -1)], 1)
    return out, n_bg


def _prefix(take: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Within each segment (``first`` marks its start), keep ``take`` only up to its first False."""
    seg = np.cumsum(first) - 1
    bad = np.where(~take, np.arange(take.size), take.size)
    first_bad = np.full(seg.max(initial=-1) + 1, take.size)
    np.minimum.at(first_bad, seg, bad)
    return np.arange(take.size) < first_bad[seg]


def _log(log: PassLog, ran: np.ndarray, start: np.ndarray, dur: np.ndarray, reqs: np.ndarray, n_bg: np.ndarray,
         kv_tok: np.ndarray, pos: np.ndarray) -> None:
    s = np.flatnonzero(ran)
    log.server.append(s); log.start_s.append(start[s]); log.duration_s.append(dur[s])
    log.requests.append(reqs[s] + n_bg[s]); log.background.append(n_bg[s]); log.kv_tokens.append(kv_tok[s])
    log.positions.append(pos[s])
