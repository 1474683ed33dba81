"""A certified floor under every method's simulated latency: each device alone on its best server.

For device i in slot t, with its own task and acceptance trace (the same common random numbers as every
method's latency, :func:`uara.psd.latency.slot_groups`):

    floor_i(t) = min_{g in G} min_{j : r_ij > 0} L_i(j, g | alone)

where L_i(j | alone) is the PSD timeline with the whole band of server j (y = 1, rate r_ij), no backlog, no
other tenant and no other device: under ``reserved`` the whole server's compute (z = 1); under
``batched`` every verification pass starts when the block arrives and serves it alone, at
o_j + max((W + kv_b C) / B_mem,j, P f / F_j). A method's device sees at best these: a share y <= 1 of
that band, z <= 1 of that compute, a pass that starts no sooner and costs no less (more requests add
bytes and FLOPs), a backlog >= 0. The PSD timeline's events are non-decreasing in every uplink, wait and
verification time (each is a max of sums of earlier ones; a later verdict lets the phone draft ahead,
never finish sooner), so floor_i(t) <= the method's latency of device i in slot t, for the same trace;
tests/test_latency_floor.py checks this on every shipped instance. G is latency-aware UARA's candidate set of
draft lengths (:data:`~uara.psd.server_configs.DEFAULT_DRAFT_LENGTHS`, 1..8) plus the task's own, so the floor
is certified for every P1 method (which keeps the task's own length) and for latency-aware UARA alike;
``own_length_only`` gives the floor at the task's own length (P1's decision set). ``floor_mean_s``
averages device-slots as ``mean_s`` does.
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache, partial
from typing import Any, Mapping

import numpy as np

from uara.psd.latency import LatencyOptions, TaskGroup, own_draft_lengths, server_model_of, slot_groups
from uara.psd.simulation.simulator import SimResult, Timing, simulate


def slot_floor_s(instance: Any, slot_index: int, *, protocol: str | None = None, seed: int = 0,
                 options: LatencyOptions | None = None, own_length_only: bool = False) -> np.ndarray:
    """(M,) floor_i(t) of slot ``slot_index`` (module docstring); inf for a device with no usable link."""
    best, own = slot_floors_s(instance, slot_index, protocol=protocol, seed=seed, options=options,
                              own_length_only=own_length_only)
    return own if own_length_only else best


def slot_floors_s(instance: Any, slot_index: int, *, protocol: str | None = None, seed: int = 0,
                  options: LatencyOptions | None = None, own_length_only: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """((M,) floor over the candidate lengths and the own one, (M,) floor at the task's own length); each task
    group is simulated once, its devices tiled over the E servers and the lengths."""
    from uara.model.formulation import slot_data

    from uara.psd.batched_latency import server_hardware
    from uara.psd.server_configs import DEFAULT_DRAFT_LENGTHS

    opts = options or LatencyOptions()
    sd = slot_data(instance, slot_index)
    m, e = sd.rate_bps.shape
    longest = max(max(DEFAULT_DRAFT_LENGTHS), int(own_draft_lengths(instance, slot_index, opts).max()))
    top = None if own_length_only else np.full(m, longest)  # one group per configuration, each task at its lengths
    groups = slot_groups(instance, slot_index, protocol=protocol, seed=seed, options=opts, notes=[], draft_lengths=top)
    batched = server_model_of(instance, opts) == "batched"
    alone = partial(_alone_batched, hw=server_hardware(instance)) if batched else _alone_reserved
    best, at_own = np.full(m, np.inf), np.full(m, np.inf)
    for g in groups:
        own = g.own_draft_length.astype(np.int64)
        lengths = [own] if own_length_only else [np.full(own.size, k) for k in DEFAULT_DRAFT_LENGTHS] + [own]
        n_len = len(lengths)
        rate = np.tile(sd.rate_bps[g.idx, :].T.ravel(), n_len)     # (L E n,): length-major, then server-major
        server = np.tile(np.repeat(np.arange(e), g.idx.size), n_len)
        draft = np.concatenate([np.tile(v, e) for v in lengths])
        lat = alone(instance, _tiled(g, e * n_len), rate, server, opts, draft).latency_s.reshape(n_len * e, -1)
        lat = np.where(rate.reshape(n_len * e, -1) > 0, lat, np.inf)
        best[g.idx] = np.min(lat, axis=0)
        at_own[g.idx] = np.min(lat[-e:], axis=0)
    return best, at_own


def _tiled(g: TaskGroup, e: int) -> TaskGroup:
    """The group's tasks repeated ``e`` times (server-major)."""
    return replace(g, idx=np.tile(g.idx, e), n_out=np.tile(g.n_out, e), match=np.tile(g.match, (e, 1)),
                   draft_flops=np.tile(g.draft_flops, e), target_flops=np.tile(g.target_flops, e),
                   prompt_tokens=np.tile(g.prompt_tokens, e))


def _timing(instance: Any, rate: np.ndarray, g: TaskGroup, opts: LatencyOptions, verify_s_per_position: Any = 0.0
            ) -> Timing:
    return Timing(draft_s_per_token=g.draft_flops / np.asarray(instance.device_flops, dtype=float)[g.idx],
                  verify_s_per_position=verify_s_per_position, verify_s_per_call=opts.verify_s_per_call,
                  uplink_bps=rate, downlink_bps=opts.downlink_bps, link_latency_s=opts.link_latency_s)


def _alone_reserved(instance: Any, g: TaskGroup, rate: np.ndarray, server: np.ndarray, opts: LatencyOptions,
                    draft: np.ndarray) -> SimResult:
    """Each task of ``g`` alone on server ``server[k]`` at draft length ``draft[k]`` (at most the group's): full
    band (``rate``), full compute (z = 1), no backlog."""
    flops = np.asarray(instance.server_flops, dtype=float)[server]
    return simulate(g.n_out, g.match, _timing(instance, rate, g, opts, g.target_flops / flops), g.decoding, draft)


def _alone_batched(instance: Any, g: TaskGroup, rate: np.ndarray, server: np.ndarray, opts: LatencyOptions,
                   draft: np.ndarray, *, hw: Any) -> SimResult:
    """Each task of ``g`` alone on its own copy of server ``server[k]`` of ``hw`` (one virtual server per task),
    at draft length ``draft[k]``: each pass is its own request's, started on arrival; no backlog, no background."""
    from uara.psd.batched_latency import target_cost
    from uara.psd.simulation.batched import Background, BatchedServers, BatchedTasks, simulate_batched

    n = server.size
    servers = BatchedServers(hw.take(server), target_cost(g.profiles), np.zeros(n), Background.none(n))
    tasks = BatchedTasks(g.n_out, g.match, _timing(instance, rate, g, opts), g.decoding, np.arange(n),
                         g.prompt_tokens, g.target_flops, draft)
    return simulate_batched([tasks], servers)[0]


def solution_floor(instance: Any, num_slots: int, *, protocol: str | None = None, seed: int = 0,
                   options: LatencyOptions | None = None, own_length_only: bool = False) -> dict[str, Any]:
    """The floor over the first ``num_slots`` slots: ``floor_mean_s`` (device-slots, as ``mean_s``; inf if any
    device has no usable link), ``floor_mean_finite_s`` (over the finite ones) and
    ``floor_own_length_mean_s`` (the floor at the tasks' own draft lengths: P1's decision set)."""
    both = [slot_floors_s(instance, t, protocol=protocol, seed=seed, options=options, own_length_only=own_length_only)
            for t in range(num_slots)]
    per, own = np.stack([b[1] if own_length_only else b[0] for b in both]), np.stack([b[1] for b in both])
    fin = np.isfinite(per)
    return {"floor_mean_s": float(per.mean()) if fin.all() else float("inf"),
            "floor_mean_finite_s": float(per[fin].mean()) if fin.any() else float("nan"),
            "floor_own_length_mean_s": float(own.mean()) if np.isfinite(own).all() else float("inf")}


@lru_cache(maxsize=128)  # a few floats per instance; a 50-instance campaign's worker keeps them all
def _floor_by_key(fingerprint: str, num_slots: int, seed: int, latency_params: str, instance_ref: Any) -> tuple:
    fl = solution_floor(instance_ref.instance, num_slots, seed=seed)
    return tuple(sorted(fl.items()))


class _Ref:
    """Holds an instance for the cache without making it part of the key (the fingerprint is)."""

    def __init__(self, instance: Any):
        self.instance = instance

    def __hash__(self) -> int:
        return 0

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Ref)


def cached_floor(instance: Any, num_slots: int, *, seed: int = 0) -> dict[str, Any]:
    """:func:`solution_floor` under the instance's server model, computed once per (instance fingerprint, its
    latency parameters, slots, seed) in a process: every method compared on one instance shares it."""
    from uara.model.records import LATENCY_PARAMS

    latency_params = repr(tuple((k, getattr(instance.params, k, None)) for k in sorted(LATENCY_PARAMS)))
    return dict(_floor_by_key(instance.fingerprint(), int(num_slots), int(seed), latency_params, _Ref(instance)))


def latency_with_floor(inst: Any, sol: Any, *, both_models: bool = False, seed: int = 0
                       ) -> tuple[dict[str, Any] | None, str | None]:
    """:func:`uara.psd.latency.latency_or_reason` plus the floor: ``floor_mean_s``, ``floor_mean_finite_s``
    and ``gap_to_floor`` = mean_s / floor_mean_s - 1 (a fraction, >= 0) under the instance's server model."""
    from uara.psd.latency import latency_or_reason

    out, note = latency_or_reason(inst, sol, both_models=both_models, seed=seed)
    if out is None:
        return out, note
    try:
        fl = cached_floor(inst, len(sol["slots"] if isinstance(sol, Mapping) else sol.slots), seed=seed)
    except Exception as exc:  # noqa: BLE001 - an annex of the latency, reported, not raised
        out["floor_note"] = f"floor failed: {type(exc).__name__}: {exc}"
        return out, note
    out.update(fl)
    mean, floor = out.get("mean_s"), fl["floor_mean_s"]
    ok = mean is not None and np.isfinite(mean) and np.isfinite(floor) and floor > 0
    out["gap_to_floor"] = float(mean / floor - 1.0) if ok else None
    return out, note
