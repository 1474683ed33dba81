"""End-to-end latency of a P1 solution, from the PSD timeline simulator.

For slot t and device i served by server j = association[i]:

    draft time per token     t_d = flops_draft_per_token / F_i^MD
    verify time per position t_v = flops_target_per_token / (z_i F_j^ES)
    uplink rate              y_i * r_ij   (r_ij = slot_data(instance, t).rate_bps, eq. 5)
    server queue delay       queue_s[j]
    downlink rate, one-way latency: :class:`LatencyOptions`

and the task's own output length, draft length, protocol and acceptance trace
(``Task.psd``, written by :func:`uara.psd.workload.tasks.sample_tasks`; the trace is
regenerated from its seed, so every solution of an instance sees the same
acceptance: common random numbers). A zero share or a zero rate gives an
infinite latency, flagged in ``infinite`` -- never an exception.

Tasks without ``psd`` fields (e.g. the parametric task model) are decoded
with the default profile of their type (``gpt2_<type>``; ``gpt2_chat`` for an
unknown type), n = D * E[tokens per round] / g output tokens, where
D = f^MD / draft FLOP per token and E[.] is the i.i.d. SD formula at the
profile's alpha, and the payload ``bits:K`` with K = d_i / D bits per draft
token: an approximation, reported in ``notes``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any, Mapping

import numpy as np

from uara.errors import UaraError
from uara.psd.simulation.acceptance import Acceptance
from uara.psd.workload.profiles import Profile, load_profile
from uara.psd.simulation.protocols import Protocol
from uara.psd.simulation.simulator import CATEGORIES, Decoding, SimResult, Timing, simulate
from uara.psd.workload.tasks import task_trace

DEFAULT_PROFILE_SET = "gpt2"


@dataclass(frozen=True)
class LatencyOptions:
    """What P1 does not model. ``mode``/``draft_length``/``protocol`` override the tasks' own."""

    downlink_bps: float = 100e6
    link_latency_s: float = 0.010
    verify_s_per_call: float = 0.0
    mode: str | None = None
    draft_length: int | None = None
    protocol: str | None = None
    adaptive: bool = False
    server_model: str | None = None


@dataclass
class LatencyResult:
    """Latency of every device of one slot.

    Attributes:
        per_device_s: (M,) seconds, inf where a share/rate is zero.
        infinite: (M,) bool.
        mean_s, p95_s: over all devices (inf if any is infinite);
        mean_finite_s: over the finite ones.
        breakdown: name -> (M,) seconds (critical path parts, busy and idle times).
        rounds, tokens_per_round: (M,).
        notes: approximations used (e.g. tasks without psd fields).
        server_busy_until_s: (E,) under the batched server, the end of each server's last pass that served
            one of the slot's tasks, from the slot start (its starting backlog where none did); None under
            reserved. An episode rolls the backlog forward from it (:mod:`uara.experiments.episode`).
    """

    per_device_s: np.ndarray
    infinite: np.ndarray
    mean_s: float
    p95_s: float
    mean_finite_s: float
    breakdown: dict[str, np.ndarray]
    rounds: np.ndarray
    tokens_per_round: np.ndarray
    notes: list[str] = field(default_factory=list)
    server_busy_until_s: np.ndarray | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {
            "mean_s": self.mean_s, "p95_s": self.p95_s, "mean_finite_s": self.mean_finite_s,
            "per_device_s": self.per_device_s.tolist(),
            "infinite": np.flatnonzero(self.infinite).tolist(),
            "breakdown_mean_s": {k: _mean(v[~self.infinite]) for k, v in self.breakdown.items()},
            "tokens_per_round_mean": _mean(self.tokens_per_round[~self.infinite]),
            "notes": list(self.notes),
        }
        if self.server_busy_until_s is not None:
            out["server_busy_until_s"] = self.server_busy_until_s.tolist()
        return out


def _mean(x: np.ndarray) -> float:
    return float(np.mean(x)) if x.size else float("nan")


def _stats(x: np.ndarray) -> tuple[float, float, float]:
    inf = ~np.isfinite(x)
    if x.size == 0:
        return float("nan"), float("nan"), float("nan")
    mean = float("inf") if inf.any() else float(x.mean())
    p95 = float(np.percentile(x, 95, method="higher" if inf.any() else "linear"))
    return mean, p95, _mean(x[~inf])


@lru_cache(maxsize=64)
def _profile(name: str) -> Profile:
    return load_profile(name)


def _check_decisions(m: int, e: int, association: Any, y: Any, z: Any) -> tuple[np.ndarray, ...]:
    x = np.asarray(association)
    if x.shape != (m,):
        raise UaraError(f"association: expected {m} server indices, got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.integer):
        if not np.all(np.isfinite(x.astype(float))) or np.any(x != np.round(x)):
            raise UaraError("association: expected integer server indices")
    x = x.astype(np.int64)
    bad = np.flatnonzero((x < 0) | (x >= e))
    if bad.size:
        raise UaraError(f"association[{bad[0]}]: server {x[bad[0]]} out of range 0..{e - 1}")
    out = [x]
    for name, v in (("bandwidth_share", y), ("compute_share", z)):
        a = np.asarray(v, dtype=float)
        if a.shape != (m,):
            raise UaraError(f"{name}: expected {m} values, got shape {a.shape}")
        bad = np.flatnonzero(~np.isfinite(a) | (a < 0) | (a > 1 + 1e-9))
        if bad.size:
            raise UaraError(f"{name}[{bad[0]}]: expected a share in [0, 1], got {a[bad[0]]}")
        out.append(np.clip(a, 0.0, 1.0))
    return tuple(out)


def _task_fields(task: Any, notes: list[str]) -> tuple[Profile, dict[str, Any]]:
    """(profile, psd fields) of one task; fills in the fallback for tasks without psd."""
    psd = dict(task.psd) if task.psd else {}
    name = psd.get("profile")
    prof = None
    if name:
        try:
            prof = _profile(str(name))
        except UaraError:
            notes.append(f"profile {name!r} not found: default profile, i.i.d. acceptance at the task's alpha")
    if prof is None:
        ttype = task.type if f"{DEFAULT_PROFILE_SET}_{task.type}" in _shipped() else "chat"
        prof = _profile(f"{DEFAULT_PROFILE_SET}_{ttype}")
        if "alpha" in psd:
            prof = replace(prof, acceptance=Acceptance.iid(float(psd["alpha"])))
            psd["trace_index"] = None
    if "output_tokens" not in psd:
        ctx = prof.context_tokens(prof.prompt_tokens.mean(), prof.output_tokens.mean())
        f_d = float(prof.draft.flops_per_token(ctx))
        g = prof.draft_length
        drafted = task.flops_device / f_d
        n = max(1, int(round(drafted * float(prof.acceptance.expected_tokens_per_round(g)) / g)))
        psd.update(output_tokens=n, draft_flops_per_token=f_d,
                   target_flops_per_token=float(prof.target.flops_per_token(ctx)),
                   protocol=f"bits:{max(1, int(round(task.bits / max(drafted, 1.0))))}")
        notes.append(f"task without psd fields decoded with profile {prof.name} (n from f^MD)")
    psd.setdefault("trace_seed", None)
    return prof, psd


@lru_cache(maxsize=1)
def _shipped() -> frozenset[str]:
    from uara.psd.workload.profiles import list_profiles

    return frozenset(list_profiles())


def slot_latency(instance: Any, slot_index: int, association: Any, bandwidth_share: Any, compute_share: Any,
                 *, protocol: str | Protocol | None = None, seed: int = 0,
                 options: LatencyOptions | None = None, draft_length: Any = None) -> LatencyResult:
    """Latency of every device's task in slot ``slot_index`` under the given decisions.

    Args:
        instance: a :class:`uara.model.instance.Instance`.
        association: (M,) server index per device; bandwidth_share y, compute_share z: (M,) in [0, 1].
        protocol: payload protocol for every task (default: each task's own).
        seed: seeds the acceptance of tasks that carry no trace seed.
        options: :class:`LatencyOptions`.
        draft_length: (M,) draft length per device (latency-aware UARA's decision), or None: each task's own
            (or ``options.draft_length``). The acceptance trace is the same at every length.
    """
    opts = options or LatencyOptions()
    dec = (association, bandwidth_share, compute_share, draft_length)
    if server_model_of(instance, opts) == "batched":
        return _batched_slots(instance, {slot_index: dec}, protocol=protocol, seed=seed, options=opts)[0]
    sd, x, y, z, groups, notes = _slot_inputs(instance, slot_index, dec, protocol=protocol, seed=seed, options=opts)
    return assemble(len(x), groups, [_simulate_reserved(instance, sd, x, y, z, g, opts) for g in groups], notes)


def _slot_inputs(instance: Any, slot_index: int, decisions: tuple[Any, ...], *, protocol: str | Protocol | None,
                 seed: int, options: LatencyOptions) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray, list, list[str]]:
    """(slot data, checked association, y, z, task groups, notes) of one slot: what either server model needs.
    ``decisions`` is (association, y, z) or (association, y, z, draft lengths or None)."""
    from uara.model.formulation import slot_data

    if not 0 <= slot_index < instance.num_slots:
        raise UaraError(f"slot_index: expected 0..{instance.num_slots - 1}, got {slot_index}")
    sd = slot_data(instance, slot_index)
    m, e = sd.rate_bps.shape
    x, y, z = _check_decisions(m, e, *decisions[:3])
    lengths = check_draft_lengths(m, decisions[3] if len(decisions) > 3 else None)
    notes: list[str] = []
    groups = slot_groups(instance, slot_index, protocol=protocol, seed=seed, options=options, notes=notes,
                         draft_lengths=lengths)
    return sd, x, y, z, groups, notes


def check_draft_lengths(m: int, draft_length: Any) -> np.ndarray | None:
    """(M,) integer draft lengths in 1..64 (:func:`uara.model.solution.checked_draft_lengths`), or None."""
    from uara.model.solution import checked_draft_lengths

    return None if draft_length is None else checked_draft_lengths(draft_length, m).astype(np.int64)


def server_model_of(instance: Any, options: LatencyOptions) -> str:
    """The server model a latency uses: the options' override, else the instance's ``params.server_model``."""
    return options.server_model or getattr(instance.params, "server_model", "reserved")


@dataclass
class TaskGroup:
    """The tasks of one slot that share a decoding configuration: device indices ``idx``, the
    :class:`Decoding`, output lengths, match traces, FLOP per draft token / verified position, prompts, and
    ``own_draft_length``: each task's own draft length (what background requests are sized by, whatever
    length a decision sets)."""

    idx: np.ndarray
    decoding: Decoding
    n_out: np.ndarray
    match: np.ndarray
    draft_flops: np.ndarray
    target_flops: np.ndarray
    prompt_tokens: np.ndarray
    profiles: list
    own_draft_length: np.ndarray | None = None


def own_draft_lengths(instance: Any, slot_index: int, options: LatencyOptions | None = None) -> np.ndarray:
    """(M,) each task's own draft length in slot ``slot_index``: ``options.draft_length``, else its ``psd``
    field, else its profile's."""
    return _own_lengths([_task_fields(t, []) for t in instance.slots[slot_index].tasks], options or LatencyOptions())


def _own_lengths(fields_: list, opts: LatencyOptions) -> np.ndarray:
    return np.array([int(opts.draft_length or psd.get("draft_length") or prof.draft_length) for prof, psd in fields_],
                    dtype=np.int64)


def slot_groups(instance: Any, slot_index: int, *, protocol: str | Protocol | None,
                seed: int, options: LatencyOptions, notes: list[str],
                draft_lengths: np.ndarray | None = None) -> list[TaskGroup]:
    """Group the devices of a slot by decoding configuration, with each task's trace (common random numbers).
    ``draft_lengths`` (M,) sets each device's draft length (else the task's own, or ``options.draft_length``)."""
    opts = options
    fields_ = [_task_fields(t, notes) for t in instance.slots[slot_index].tasks]
    groups: dict[tuple, list[int]] = {}
    decs: dict[tuple, Decoding] = {}
    own = _own_lengths(fields_, opts)
    for i, (prof, psd) in enumerate(fields_):
        dec = prof.decoding(
            mode=opts.mode or psd.get("mode"),
            draft_length=int(draft_lengths[i]) if draft_lengths is not None else int(own[i]),
            protocol=protocol or opts.protocol or psd.get("protocol"),
            pre_verify=psd.get("pre_verify"), adaptive=opts.adaptive, stream_uplink=psd.get("stream_uplink"))
        key = (dec.mode, dec.draft_length, dec.pre_verify, dec.protocol.spec, dec.vocab, dec.adaptive,
               dec.stream_uplink)
        groups.setdefault(key, []).append(i)
        decs[key] = dec
    out = []
    for key, idx_list in groups.items():
        idx = np.array(idx_list)
        dec = decs[key]
        n_out = np.array([int(fields_[i][1]["output_tokens"]) for i in idx])
        length = int(n_out.max()) + dec.max_block + 1
        match = np.empty((idx.size, length), dtype=bool)
        for k, i in enumerate(idx):
            prof, psd = fields_[i]
            if psd.get("trace_seed") is None:
                psd = {**psd, "trace_seed": int(np.random.default_rng([seed, slot_index, i]).integers(2**62))}
            match[k] = task_trace(prof, psd, length)
        out.append(TaskGroup(
            idx, dec, n_out, match,
            np.array([float(fields_[i][1]["draft_flops_per_token"]) for i in idx]),
            np.array([float(fields_[i][1]["target_flops_per_token"]) for i in idx]),
            np.array([float(fields_[i][1].get("prompt_tokens", fields_[i][0].prompt_tokens.mean())) for i in idx]),
            [fields_[i][0] for i in idx], own[idx]))
    return out


def _simulate_reserved(instance: Any, sd: Any, x: np.ndarray, y: np.ndarray, z: np.ndarray, g: TaskGroup,
                       opts: LatencyOptions) -> SimResult:
    """The paper's accounting: each task verifies alone on its share z F_j (t_v = f_t / (z F_j))."""
    idx = g.idx
    rate = sd.rate_bps[idx, x[idx]] * y[idx]
    comp = z[idx] * np.asarray(instance.server_flops, dtype=float)[x[idx]]
    with np.errstate(divide="ignore"):
        timing = Timing(
            draft_s_per_token=g.draft_flops / np.asarray(instance.device_flops, dtype=float)[idx],
            verify_s_per_position=np.where(comp > 0, g.target_flops / np.where(comp > 0, comp, 1.0), np.inf),
            verify_s_per_call=opts.verify_s_per_call, uplink_bps=rate, downlink_bps=opts.downlink_bps,
            link_latency_s=opts.link_latency_s, queue_s=sd.queue_s[x[idx]])
    return simulate(g.n_out, g.match, timing, g.decoding)


def assemble(m: int, groups: list[TaskGroup], results: list[SimResult], notes: list[str]) -> "LatencyResult":
    """One slot's :class:`LatencyResult` from the simulated groups."""
    lat = np.full(m, np.inf)
    crit = np.full((m, len(CATEGORIES)), np.nan)
    busy = {k: np.full(m, np.nan) for k in ("device_busy_s", "uplink_busy_s", "server_busy_s", "downlink_busy_s")}
    rounds = np.zeros(m)
    tpr = np.full(m, np.nan)
    for g, res in zip(groups, results):
        idx = g.idx
        lat[idx] = res.latency_s
        crit[idx] = res.critical_s
        for k in busy:
            busy[k][idx] = getattr(res, k)
        rounds[idx] = res.rounds
        tpr[idx] = res.tokens_per_round
    inf = ~np.isfinite(lat)
    breakdown = {f"critical_{c}_s": crit[:, k] for k, c in enumerate(CATEGORIES)}
    breakdown.update(busy)
    breakdown["device_idle_s"] = lat - busy["device_busy_s"]
    breakdown["server_idle_s"] = lat - busy["server_busy_s"]
    mean, p95, mean_f = _stats(lat)
    return LatencyResult(lat, inf, mean, p95, mean_f, breakdown, rounds, tpr, sorted(set(notes)))


def _decisions(slot: Any) -> tuple[Any, Any, Any, Any]:
    """(association, bandwidth_share, compute_share, draft_length or None) of a solution slot (object or dict)."""
    draft = slot.get("draft_length") if isinstance(slot, Mapping) else getattr(slot, "draft_length", None)
    return (*(_decision(slot, k) for k in ("association", "bandwidth_share", "compute_share")), draft)  # type: ignore[return-value]


def _decision(slot: Any, key: str) -> Any:
    if isinstance(slot, Mapping):
        if key not in slot:
            raise UaraError(f"solution.slots[].{key}: missing")
        return slot[key]
    return getattr(slot, key)


def in_coverage_stats(instance: Any, latency_s: np.ndarray) -> dict[str, Any]:
    """Mean, median and p95 latency over the device-slots in coverage (best-server SNR >= -6 dB), with
    their count and share; ``latency_s`` is (T, M) for the instance's first T slots."""
    from uara.model.formulation import COVERAGE_SNR_DB, slot_data

    mask = np.array([slot_data(instance, t).best_snr_db() >= COVERAGE_SNR_DB for t in range(latency_s.shape[0])])
    x = latency_s[mask]
    mean, p95, _ = _stats(x)
    return {"device_slots": int(mask.sum()), "share": float(mask.mean()), "mean_s": mean,
            "median_s": float(np.median(x)) if x.size else float("nan"), "p95_s": p95}


def solution_latency(instance: Any, solution: Any, *, protocol: str | Protocol | None = None, seed: int = 0,
                     options: LatencyOptions | None = None) -> dict[str, Any]:
    """Latency of a whole solution (every slot), JSON-ready.

    ``solution`` is a :class:`uara.model.solution.Solution` or anything with
    ``slots[t].association / bandwidth_share / compute_share`` (objects or
    dicts). Returns ``mean_s``, ``median_s`` and ``p95_s`` over all (slot, device) pairs,
    ``in_coverage`` (the same over the device-slots in coverage, :func:`in_coverage_stats`),
    ``per_device_s`` (the mean over slots of each device), ``per_slot``
    (:meth:`LatencyResult.to_dict` of each slot) and ``infinite`` ([t, i]
    pairs). Non-finite numbers become null when written with
    :func:`uara.io.dumps_json`.
    """
    slots = solution["slots"] if isinstance(solution, Mapping) else solution.slots
    if len(slots) > instance.num_slots:
        raise UaraError(f"solution.slots: {len(slots)} slots, the instance has {instance.num_slots}")
    if not slots:
        raise UaraError("solution.slots: empty")
    opts = options or LatencyOptions()
    model = server_model_of(instance, opts)
    if model == "batched":
        per_slot = _batched_slots(instance, {t: _decisions(s) for t, s in enumerate(slots)}, protocol=protocol,
                                  seed=seed, options=opts)
    else:
        per_slot = []
        for t, s in enumerate(slots):
            x, y, z, g = _decisions(s)
            per_slot.append(slot_latency(instance, t, x, y, z, protocol=protocol, seed=seed, options=opts, draft_length=g))
    allv = np.stack([r.per_device_s for r in per_slot])  # (T, M)
    mean, p95, mean_f = _stats(allv.ravel())
    crit = {k: float(np.nanmean(np.concatenate([r.breakdown[k][~r.infinite] for r in per_slot])))
            if any((~r.infinite).any() for r in per_slot) else float("nan")
            for k in per_slot[0].breakdown}
    return {
        "mean_s": mean, "p95_s": p95, "mean_finite_s": mean_f,
        "median_s": float(np.median(allv)),
        "in_coverage": in_coverage_stats(instance, allv),
        "per_device_s": allv.mean(axis=0).tolist(),
        "infinite": [[t, int(i)] for t, r in enumerate(per_slot) for i in np.flatnonzero(r.infinite)],
        "breakdown_mean_s": crit,
        "per_slot": [r.to_dict() for r in per_slot],
        "notes": sorted({n for r in per_slot for n in r.notes}),
        "simulator": "uara.psd.simulation.batched" if model == "batched" else "uara.psd.simulation.simulator",
        "server_model": model,
        "compute_share_used": model == "reserved",
    }


def _batched_slots(instance: Any, decisions: Mapping[int, tuple[Any, ...]], *, protocol: str | Protocol | None,
                   seed: int, options: LatencyOptions, log: Any = None) -> list[LatencyResult]:
    """The slots ``decisions`` = {slot index: (association, y, z[, draft lengths])} under the batched server, in one event
    simulation (slots are independent queues); ``log`` (a :class:`~uara.psd.simulation.batched.PassLog`)
    receives every pass."""
    from uara.psd.batched_latency import busy_until_s, simulate_slots
    from uara.psd.simulation.batched import PassLog

    items, notes = [], []
    for t, dec in decisions.items():
        _, x, y, _, groups, slot_notes = _slot_inputs(instance, t, dec, protocol=protocol, seed=seed, options=options)
        items.append((t, x, y, groups))
        notes.append(slot_notes)
    log = PassLog([], [], [], [], [], [], []) if log is None else log
    results = simulate_slots(instance, items, seed=seed, options=options, log=log)
    busy = busy_until_s(instance, items, log)
    out = [assemble(len(instance.devices), it[3], res, n) for it, res, n in zip(items, results, notes)]
    for r, b in zip(out, busy):
        r.server_busy_until_s = b
    return out


def latency_or_reason(inst: Any, sol: Any, *, both_models: bool = False, seed: int = 0
                      ) -> tuple[dict[str, Any] | None, str | None]:
    """The PSD simulator's end-to-end latency of a solution (:func:`solution_latency`, under the instance's
    server model), or (None, why not): the one bridge that ``uara solve``, a comparison run and an episode
    slot use. With ``both_models`` the result also carries ``by_server_model``: the mean, median and p95
    under each of :data:`~uara.model.shared.server_model.SERVER_MODELS`. With the certified floor:
    :func:`uara.psd.latency_floor.latency_with_floor`."""
    from uara.model.shared.server_model import SERVER_MODELS

    try:
        out = solution_latency(inst, sol, seed=seed)
        if both_models:
            out["by_server_model"] = {}
            for model in SERVER_MODELS:
                other = out if model == out["server_model"] else solution_latency(
                    inst, sol, seed=seed, options=LatencyOptions(server_model=model))
                out["by_server_model"][model] = {k: other[k] for k in ("mean_s", "median_s", "p95_s")}
        return out, None
    except Exception as exc:  # noqa: BLE001 - the latency is an annex of a run; its failure is reported, not raised
        return None, f"PSD simulator failed: {type(exc).__name__}: {exc}"
