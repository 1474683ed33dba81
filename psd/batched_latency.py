"""A P1 solution's latency under the ``batched`` server model (:mod:`uara.psd.simulation.batched`).

For slot t the devices associated with server j share one work-conserving server (slot t's server j is
an independent queue: slots do not overlap in the simulation, as under ``reserved``):

    server j's hardware   F_j, B_mem,j, memory_j, o_j    (:func:`server_hardware`)
    target model          W, kv_b                         (:func:`target_cost`, from the tasks' profile)
    backlog               busy until queue_s[j] of the slot
    background            Poisson requests at rate rho / t_pass(one request), rho = params.background_load
    per device            t_d = f_draft / F_i^MD, uplink y_i r_ij, downlink and link latency of the options

The compute shares z of the decision are not used; the bandwidth shares y are.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from uara.errors import UaraError
from uara.model.shared.server_model import (DEFAULT_MAX_BATCH, DEFAULT_PASS_OVERHEAD_S, ServerHardware, TargetCost,
                                            SERVER_HARDWARE_KEYS, batch_pass_s, server_kind_hardware)
from uara.psd.simulation.batched import (Background, BatchedServers, BatchedTasks, PassLog, background_arrivals,
                                         simulate_batched)
from uara.psd.simulation.simulator import SimResult, Timing

#: Background arrivals are drawn over max(BACKGROUND_SLOTS * slot length, BACKGROUND_MIN_S) seconds.
BACKGROUND_SLOTS = 3.0
BACKGROUND_MIN_S = 30.0


def server_hardware(instance: Any) -> ServerHardware:
    """(E,) batched-server parameters: each server's own fields (``memory_bytes``,
    ``memory_bandwidth_bytes_per_s``, ``pass_overhead_s``) where the instance gives them, else its kind's
    entry in ``uara/model/shared/data/server_hardware.json``; ``flops`` is the server's F_j. A field neither gives is a
    one-line error naming the server."""
    catalog = server_kind_hardware()
    cols: dict[str, list[float]] = {k: [] for k in SERVER_HARDWARE_KEYS}
    for j, srv in enumerate(instance.servers):
        kind = catalog.get(srv.kind, {})
        for key in SERVER_HARDWARE_KEYS:
            value = getattr(srv, key, None)
            if value is None:
                value = kind.get(key, DEFAULT_PASS_OVERHEAD_S if key == "pass_overhead_s" else None)
            if value is None:
                raise UaraError(f"servers[{j}].{key}: needed by the batched server model; the kind {srv.kind!r} "
                                "is not in the hardware catalog, so give it on the server")
            cols[key].append(float(value))
    return ServerHardware(flops=np.asarray(instance.server_flops, dtype=float),
                          memory_bandwidth_bytes_per_s=np.array(cols["memory_bandwidth_bytes_per_s"]),
                          memory_bytes=np.array(cols["memory_bytes"]), pass_overhead_s=np.array(cols["pass_overhead_s"]),
                          max_batch=int(getattr(instance.params, "max_batch", DEFAULT_MAX_BATCH)))


def target_cost(profiles: Sequence[Any]) -> TargetCost:
    """The target's weight and KV bytes (fp16) from the tasks' profiles; all must share one target."""
    shapes = {(p.target.name, p.target.n_layers, p.target.d_model) for p in profiles}
    if len(shapes) > 1:
        raise UaraError(f"batched server model: the tasks use {len(shapes)} target models; one server runs one")
    t = profiles[0].target
    n_params = t.n_params if t.n_params else t.n_non_embedding + t.vocab * t.d_model
    return TargetCost.from_shape(n_params, t.n_layers, t.d_model)


def _background(instance: Any, hw: ServerHardware, cost: TargetCost, groups: Sequence[Any], n_items: int,
                starts: Sequence[int], seed: int) -> Background:
    """Per (slot, server): Poisson requests of the slot's mean block (g + 1 positions at the tasks' own
    draft lengths g, mean context, mean FLOP per position) at the rate that keeps the server busy rho of the
    time serving them one by one. The means run over the slot's devices in device order, so they do not
    depend on how the devices are grouped (a decision's draft lengths regroup them)."""
    rho = float(getattr(instance.params, "background_load", 0.0))
    e = hw.size
    pos = np.zeros(n_items * e)
    ctx = np.zeros(n_items * e)
    ft = np.zeros(n_items * e)
    for k, gs in enumerate(groups):
        order = np.argsort(np.concatenate([g.idx for g in gs]), kind="stable")
        cat = lambda arrays: np.concatenate(arrays)[order]  # noqa: E731 - in device order
        pos[k * e:(k + 1) * e] = np.mean(cat([_own_length(g) + 1.0 for g in gs]))
        ctx[k * e:(k + 1) * e] = np.mean(cat([g.prompt_tokens for g in gs]) + 0.5 * cat([g.n_out for g in gs]))
        ft[k * e:(k + 1) * e] = np.mean(cat([g.target_flops for g in gs]))
    if rho <= 0:
        return Background(np.full((n_items * e, 1), np.inf), pos, ctx, ft)
    tile = lambda v: np.tile(v, n_items)  # noqa: E731
    one = batch_pass_s(tile(hw.pass_overhead_s), cost.weight_bytes, ctx * cost.kv_bytes_per_token,
                       tile(hw.memory_bandwidth_bytes_per_s), pos * ft, tile(hw.flops))
    horizon = max(BACKGROUND_SLOTS * float(instance.params.slot_s), BACKGROUND_MIN_S)
    rows = [background_arrivals(np.array([rho / one[k * e + j]]), horizon,
                                np.random.default_rng([seed, int(starts[k]), j, 7919]))[0]
            for k in range(n_items) for j in range(e)]
    width = max(r.size for r in rows)
    arr = np.full((len(rows), width), np.inf)
    for r, v in enumerate(rows):
        arr[r, :v.size] = v
    return Background(arr, pos, ctx, ft)


def _own_length(g: Any) -> np.ndarray:
    """The tasks' own draft lengths (background requests do not change with a decision's lengths)."""
    own = getattr(g, "own_draft_length", None)
    return np.full(g.idx.size, float(g.decoding.draft_length)) if own is None else np.asarray(own, dtype=float)


def simulate_slots(instance: Any, items: Sequence[tuple[int, np.ndarray, np.ndarray, Sequence[Any]]], *, seed: int,
                   options: Any, log: PassLog | None = None) -> list[list[SimResult]]:
    """Simulate the slots ``items`` = [(slot index, association, bandwidth shares, task groups)] in one
    batched run; per item, one :class:`SimResult` per task group (in the groups' order). ``log`` receives
    every pass (server index k E + j for item k's server j)."""
    from uara.model.formulation import slot_data

    hw1 = server_hardware(instance)
    e = hw1.size
    cost = target_cost([p for _, _, _, gs in items for g in gs for p in g.profiles])
    n_items = len(items)
    hw = hw1.take(np.tile(np.arange(e), n_items))  # item k's server j is k E + j
    start = np.concatenate([np.asarray(slot_data(instance, t).queue_s, dtype=float) for t, _, _, _ in items])
    bg = _background(instance, hw1, cost, [gs for _, _, _, gs in items], n_items, [t for t, _, _, _ in items], seed)
    servers = BatchedServers(hw, cost, start, bg)
    dev_flops = np.asarray(instance.device_flops, dtype=float)
    merged: dict[Any, list[tuple[int, int, Any, BatchedTasks]]] = {}  # tasks of one decoding, across slots
    for k, (t, x, y, gs) in enumerate(items):
        rate = slot_data(instance, t).rate_bps
        for n, g in enumerate(gs):
            idx = g.idx
            timing = Timing(draft_s_per_token=g.draft_flops / dev_flops[idx], verify_s_per_position=0.0,
                            uplink_bps=rate[idx, x[idx]] * y[idx], downlink_bps=options.downlink_bps,
                            link_latency_s=options.link_latency_s)
            merged.setdefault(g.decoding, []).append(
                (k, n, g, BatchedTasks(g.n_out, g.match, timing, g.decoding, k * e + x[idx], g.prompt_tokens,
                                       g.target_flops)))
    flat = simulate_batched([_concat(parts) for parts in merged.values()], servers, log=log)
    out: list[list[Any]] = [[None] * len(gs) for _, _, _, gs in items]
    for parts, res in zip(merged.values(), flat):
        pos = 0
        for k, n, g, _ in parts:
            out[k][n] = _slice(res, pos, pos + g.idx.size)
            pos += g.idx.size
    return out


def busy_until_s(instance: Any, items: Sequence[tuple[int, Any, Any, Any]], log: PassLog) -> list[np.ndarray]:
    """Per item of :func:`simulate_slots`, (E,): the end of each server's last pass with at least one of the
    item's own requests (background-only passes do not count), from the slot start; the server's starting
    backlog where none ran."""
    from uara.model.formulation import slot_data

    e = len(instance.servers)
    arr = log.arrays()
    own = arr["requests"] > arr["background"]
    ends = np.full(len(items) * e, -np.inf)
    np.maximum.at(ends, arr["server"][own].astype(np.int64), (arr["start_s"] + arr["duration_s"])[own])
    out = []
    for k, (t, _, _, _) in enumerate(items):
        start = np.asarray(slot_data(instance, t).queue_s, dtype=float)
        out.append(np.maximum(ends[k * e:(k + 1) * e], start))
    return out


def _concat(parts: Sequence[tuple[int, int, Any, BatchedTasks]]) -> BatchedTasks:
    """One :class:`BatchedTasks` of several that share a decoding (traces padded to the longest)."""
    tasks = [p[3] for p in parts]
    if len(tasks) == 1:
        return tasks[0]
    width = max(t.match.shape[1] for t in tasks)
    match = np.concatenate([np.pad(t.match, ((0, 0), (0, width - t.match.shape[1]))) for t in tasks])
    cat = lambda name: np.concatenate([np.broadcast_to(getattr(t.timing, name), (t.match.shape[0],))  # noqa: E731
                                       for t in tasks])
    timing = Timing(draft_s_per_token=cat("draft_s_per_token"), verify_s_per_position=0.0, uplink_bps=cat("uplink_bps"),
                    downlink_bps=cat("downlink_bps"), link_latency_s=cat("link_latency_s"))
    return BatchedTasks(np.concatenate([t.n_tokens for t in tasks]), match, timing, tasks[0].decoding,
                        np.concatenate([np.asarray(t.server) for t in tasks]),
                        np.concatenate([t.prompt_tokens for t in tasks]),
                        np.concatenate([t.flops_per_position for t in tasks]))


def _slice(res: SimResult, lo: int, hi: int) -> SimResult:
    """Tasks lo..hi-1 of a :class:`SimResult`."""
    from dataclasses import fields

    return SimResult(**{f.name: getattr(res, f.name)[lo:hi] for f in fields(res)})
