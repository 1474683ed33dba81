"""Exact latency of candidate server configurations, many in one event simulation.

Under either server model a slot's servers are independent queues: the latency of a device served by
server j depends only on the devices server j serves (their tasks, uplink rates y_i r_ij and draft
lengths g_i), on server j's backlog q_j and on its background stream. The background of (slot, server)
is drawn from its own seed and sized by the tasks' own draft lengths, never by a decision
(:func:`uara.psd.batched_latency._background`). So the slot's total latency splits by server,

    sum_i L_i(x, g, y) = sum_j C_j(S_j),   C_j(S) = sum_{i in S} L_i(j, S, g, y),    S_j = {i : x_i = j},

and a candidate *configuration* (j, S, g_S, y_S) can be scored without the rest of the slot. This module
scores K configurations in one call: each is a virtual copy of its server (hardware, backlog, background
rows), the K copies run side by side in one :func:`~uara.psd.simulation.batched.simulate_batched` call
(``reserved``: one :func:`~uara.psd.simulation.simulator.simulate` per decoding). Every task keeps its
acceptance trace (common random numbers), so the configuration scores equal the slot simulation's
latencies of the same devices exactly (tests/test_latency_search.py).

This is latency-aware UARA's evaluator (docs/latency_aware.md) in the form a search needs.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Sequence

import numpy as np

from uara.errors import UaraError
from uara.psd.latency import LatencyOptions, own_draft_lengths, server_model_of, slot_groups
from uara.psd.simulation.simulator import Decoding, Timing, simulate

#: The draft lengths latency-aware UARA chooses from by default.
DEFAULT_DRAFT_LENGTHS = (1, 2, 3, 4, 5, 6, 7, 8)


@dataclass
class SlotTasks:
    """What the latency of one slot's devices depends on besides the decision (built once per slot).

    Per device (M,): ``decoding`` (the task's own :class:`Decoding`), output tokens, match trace (long
    enough for every candidate length), draft / target FLOP per token, prompt tokens, profile, own draft
    length. Per server (E,): backlog ``queue_s`` and, under ``batched``, hardware, target cost and the
    slot's background rows. ``rate_bps`` (M, E) and ``usable`` (M, E) come from the slot data. ``alpha`` (M,):
    each task's acceptance rate (its ``psd.alpha``, else its trace's match rate).
    """

    instance: Any
    slot_index: int
    server_model: str
    options: LatencyOptions
    rate_bps: np.ndarray
    usable: np.ndarray
    queue_s: np.ndarray
    decoding: list[Decoding]
    n_out: np.ndarray
    match: np.ndarray
    draft_flops: np.ndarray
    target_flops: np.ndarray
    prompt_tokens: np.ndarray
    profiles: list
    own_draft_length: np.ndarray
    draft_s_per_token: np.ndarray
    hardware: Any = None
    cost: Any = None
    background: Any = None
    up_bits: np.ndarray | None = None
    down_bits: np.ndarray | None = None
    sd: Any = None
    alpha: np.ndarray | None = None

    @property
    def num_devices(self) -> int:
        return int(self.n_out.size)

    @property
    def num_servers(self) -> int:
        return int(self.queue_s.size)


def slot_tasks(instance: Any, slot_index: int, *, max_draft_length: int = max(DEFAULT_DRAFT_LENGTHS), seed: int = 0,
               options: LatencyOptions | None = None) -> SlotTasks:
    """Precompute :class:`SlotTasks` of slot ``slot_index``, with traces long enough for ``max_draft_length``
    and for every task's own length. ``decoding[i]`` is the decoding of device i's group at the longest
    length: configurations override the length per task (:func:`score_configs`)."""
    from uara.model.formulation import slot_data

    opts = options or LatencyOptions()
    sd = slot_data(instance, slot_index)
    m, e = sd.rate_bps.shape
    max_draft_length = max(int(max_draft_length), int(own_draft_lengths(instance, slot_index, opts).max()))
    longest = np.full(m, max_draft_length)
    groups = slot_groups(instance, slot_index, protocol=None, seed=seed, options=opts, notes=[], draft_lengths=longest)
    decoding: list[Any] = [None] * m
    for g in groups:
        for i in g.idx:
            decoding[i] = g.decoding
    width = max(g.match.shape[1] for g in groups)
    match = np.zeros((m, width), dtype=bool)
    cols = {k: np.zeros(m) for k in ("n_out", "draft_flops", "target_flops", "prompt_tokens", "own")}
    profiles: list[Any] = [None] * m
    for g in groups:
        match[g.idx, :g.match.shape[1]] = g.match
        for key, v in (("n_out", g.n_out), ("draft_flops", g.draft_flops), ("target_flops", g.target_flops),
                       ("prompt_tokens", g.prompt_tokens), ("own", g.own_draft_length)):
            cols[key][g.idx] = v
        for k, i in enumerate(g.idx):
            profiles[i] = g.profiles[k]
    model = server_model_of(instance, opts)
    lengths = np.arange(max_draft_length + 1)
    bits = [(d.protocol.up_bits(lengths, d.vocab), d.protocol.down_bits(lengths, d.vocab)) for d in decoding]
    st = SlotTasks(instance, slot_index, model, opts, sd.rate_bps, sd.usable, np.asarray(sd.queue_s, dtype=float),
                   decoding, cols["n_out"].astype(np.int64), match, cols["draft_flops"], cols["target_flops"],
                   cols["prompt_tokens"], profiles, cols["own"].astype(np.int64),
                   cols["draft_flops"] / np.asarray(instance.device_flops, dtype=float),
                   up_bits=np.array([np.broadcast_to(u, lengths.shape) for u, _ in bits], dtype=float),
                   down_bits=np.array([np.broadcast_to(dn, lengths.shape) for _, dn in bits], dtype=float), sd=sd,
                   alpha=_acceptance_rates(instance, slot_index, match, cols["n_out"]))
    if model == "batched":
        from uara.psd.batched_latency import _background, server_hardware, target_cost

        st.hardware = server_hardware(instance)
        st.cost = target_cost(profiles)
        st.background = _background(instance, st.hardware, st.cost, [groups], 1, [slot_index], seed)
    return st


def _acceptance_rates(instance: Any, slot_index: int, match: np.ndarray, n_out: np.ndarray) -> np.ndarray:
    from uara.psd.latency import _task_fields

    out = np.empty(n_out.size)
    for i, task in enumerate(instance.slots[slot_index].tasks):
        a = _task_fields(task, [])[1].get("alpha")
        out[i] = float(a) if a is not None else float(match[i, :int(n_out[i])].mean())
    return np.clip(out, 1e-6, 1 - 1e-6)


@dataclass(frozen=True)
class Config:
    """One candidate configuration of one server: ``server`` j, its ``devices`` S (indices), their draft
    lengths g_S, bandwidth shares y_S and (``reserved`` only) compute shares z_S."""

    server: int
    devices: np.ndarray
    draft_length: np.ndarray
    bandwidth_share: np.ndarray
    compute_share: np.ndarray


def decision_configs(association: np.ndarray, draft_length: np.ndarray, bandwidth_share: np.ndarray,
                     compute_share: np.ndarray, num_servers: int) -> list[Config]:
    """The configuration of every server j = 0 .. E-1 under one decision (x, g, y, z), each (M,): the devices
    with x_i = j and their lengths and shares (empty where no device is on j)."""
    x = np.asarray(association, dtype=np.int64)
    g, y, z = (np.asarray(v) for v in (draft_length, bandwidth_share, compute_share))
    configs = []
    for j in range(num_servers):
        idx = np.flatnonzero(x == j)
        configs.append(Config(j, idx, g[idx], y[idx], z[idx]))
    return configs


def score_configs(st: SlotTasks, configs: Sequence[Config]) -> list[np.ndarray]:
    """Per configuration, (|S|,) seconds: each device's latency on its server's configuration (inf where a
    share or a rate is zero). One event simulation for all of them (module docstring)."""
    if not configs:
        return []
    k_of = np.concatenate([np.full(c.devices.size, k) for k, c in enumerate(configs)]).astype(np.int64)
    dev = np.concatenate([c.devices for c in configs]).astype(np.int64)
    srv = np.array([c.server for c in configs], dtype=np.int64)
    g = np.concatenate([c.draft_length for c in configs]).astype(np.int64)
    y = np.concatenate([c.bandwidth_share for c in configs]).astype(float)
    z = np.concatenate([c.compute_share for c in configs]).astype(float)
    if g.size and (g.min() < 1 or st.match.shape[1] < st.n_out.max() + g.max() + 1):
        raise UaraError(f"draft_length: expected 1..{st.match.shape[1] - st.n_out.max() - 1} for this slot's traces")
    rate = st.rate_bps[dev, srv[k_of]] * y
    lat = np.full(dev.size, np.inf)
    keys: dict[int, list[int]] = {}
    for pos in range(dev.size):  # tasks of one base decoding run together, each at its own length
        keys.setdefault(id(st.decoding[dev[pos]]), []).append(pos)
    parts = []
    for p_list in keys.values():
        p = np.array(p_list)
        top = int(g[p].max())
        parts.append((p, replace(st.decoding[dev[p[0]]], draft_length=top, max_draft_length=max(top, 64))))
    if st.server_model == "batched":
        _batched(st, srv, k_of, dev, rate, g, parts, lat)
    else:
        _reserved(st, srv[k_of], dev, rate, z, g, parts, lat)
    bounds = np.cumsum([0] + [c.devices.size for c in configs])
    return [lat[bounds[k]:bounds[k + 1]] for k in range(len(configs))]


def _timing(st: SlotTasks, dev: np.ndarray, rate: np.ndarray, verify_s: Any = 0.0, queue_s: Any = 0.0) -> Timing:
    return Timing(draft_s_per_token=st.draft_s_per_token[dev], verify_s_per_position=verify_s,
                  verify_s_per_call=st.options.verify_s_per_call, uplink_bps=rate,
                  downlink_bps=st.options.downlink_bps, link_latency_s=st.options.link_latency_s, queue_s=queue_s)


def _batched(st: SlotTasks, srv: np.ndarray, k_of: np.ndarray, dev: np.ndarray, rate: np.ndarray, g: np.ndarray,
             parts: list[tuple[np.ndarray, Decoding]], lat: np.ndarray) -> None:
    from uara.psd.simulation.batched import Background, BatchedServers, BatchedTasks, simulate_batched

    bg = st.background
    servers = BatchedServers(st.hardware.take(srv), st.cost, st.queue_s[srv],
                             Background(bg.arrival_s[srv], bg.positions[srv], bg.context_tokens[srv],
                                        bg.flops_per_position[srv]))
    tasks = [BatchedTasks(st.n_out[dev[p]], st.match[dev[p]], _timing(st, dev[p], rate[p]), dec, k_of[p],
                          st.prompt_tokens[dev[p]], st.target_flops[dev[p]], g[p]) for p, dec in parts]
    for (p, _), res in zip(parts, simulate_batched(tasks, servers)):
        lat[p] = res.latency_s


def _reserved(st: SlotTasks, server: np.ndarray, dev: np.ndarray, rate: np.ndarray, z: np.ndarray, g: np.ndarray,
              parts: list[tuple[np.ndarray, Decoding]], lat: np.ndarray) -> None:
    comp = z * np.asarray(st.instance.server_flops, dtype=float)[server]
    with np.errstate(divide="ignore"):
        tv = np.where(comp > 0, st.target_flops[dev] / np.where(comp > 0, comp, 1.0), np.inf)
    for p, dec in parts:
        res = simulate(st.n_out[dev[p]], st.match[dev[p]],
                       _timing(st, dev[p], rate[p], tv[p], st.queue_s[server[p]]), dec, g[p])
        lat[p] = res.latency_s



#: How a configuration splits its server's band (and, under ``reserved``, its compute) among its devices.
SHARE_RULES = ("equal", "sqrt")


def rule_shares(st: SlotTasks, server: int, devices: np.ndarray, draft_length: np.ndarray, rule: str
                ) -> tuple[np.ndarray, np.ndarray]:
    """(y_S, z_S) of a configuration under a share rule:

    - ``equal``: y_i = z_i = 1 / |S|;
    - ``sqrt``: y_i proportional to sqrt(u_i), u_i = (n_i / g_i) b_i(g_i) / r_ij the device's uplink seconds
      at share 1 (about n_i / g_i blocks of b_i(g_i) bits, :func:`round_bits`), which minimises
      sum_i u_i / y_i subject to sum_i y_i = 1 (Lagrange: u_i / y_i^2 = const); z_i likewise with the
      verification work v_i = n_i (g_i + 1) / g_i f_t,i (FLOP).
    """
    n = devices.size
    if rule == "equal" or n <= 1:
        share = np.full(n, 1.0 / max(n, 1))
        return share, share.copy()
    if rule != "sqrt":
        raise UaraError(f"share rule: expected one of {', '.join(SHARE_RULES)}, got {rule!r}")
    up = round_bits(st, devices, draft_length) * st.n_out[devices] / draft_length / st.rate_bps[devices, server]
    work = st.n_out[devices] * (draft_length + 1.0) / draft_length * st.target_flops[devices]
    ys, zs = np.sqrt(np.maximum(up, 1e-300)), np.sqrt(work)
    return ys / ys.sum(), zs / zs.sum()


def round_bits(st: SlotTasks, devices: np.ndarray, draft_length: np.ndarray) -> np.ndarray:
    """Uplink bits of one full block of g_i draft tokens, per device (the task's protocol)."""
    return st.up_bits[devices, draft_length]


def device_energy_j(sd: Any, devices: np.ndarray, server: Any, bandwidth_share: np.ndarray) -> np.ndarray:
    """P1's device energy E_i = E_i^CP + E_i^CM (J) of ``devices`` on ``server`` at shares y (eq. 8; the
    instance's energy model), the term latency-aware UARA weighs by its energy weight."""
    y = np.asarray(bandwidth_share, dtype=float)
    if sd.energy_model == "paper":
        comm = sd.energy_cm_j_per_share[devices] * y
    else:
        with np.errstate(divide="ignore"):
            comm = np.where(y > 0, sd.comm_power_w[devices] * sd.uplink_s_full[devices, server] / np.where(y > 0, y, 1),
                            np.inf)
    return sd.energy_cp_j[devices] + comm
