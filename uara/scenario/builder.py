"""Build instances from channel models, mobility, the hardware catalog and task samplers.

    from uara.scenario.builder import build_instance, rebuild
    inst = build_instance(devices=60, servers=8, slots=10, channel="sionna-rt", scene="etoile", seed=0)
    inst.save("instances/m60_e8.json")
    same = rebuild("instances/m60_e8.json")          # from the file's provenance, bit for bit

What a build does (every random draw comes from ``seed`` through independent
``numpy.random.SeedSequence`` streams: hardware, placement, mobility, tasks,
state, channel):

1. Hardware: M devices and E servers, kinds drawn from the catalog by weight;
   device transmit power uniform in the kind's range (0.1 dB steps).
2. Geometry: the channel's layout places the servers (spread apart; on
   rooftops for ray tracing) and the devices (on streets, at least
   ``min_distance_m`` from every server). Positions are rounded to 1 cm
   before any channel is computed, so the stored positions are exactly the
   traced ones.
3. Slot 0 and the no-path rule: ``spares = ceil(M / 5) + 2`` extra device
   positions are traced with the M; the first M devices that reach at least
   one server are kept (a device *reaches* a server when the channel has a
   path to it, i.e. a gain above the floor). If fewer than M reach, up to
   ``max_resample`` rounds trace fresh positions for the missing ones; any
   still missing are dropped and listed in provenance (``dropped_devices``).
   With the coverage rule (``min_coverage_snr_db``, e.g. -6 dB, where NR stops
   decoding) a position also needs a best-server SNR of at least that much for
   the device it would become (:func:`best_snr_db`: its transmit power, the band
   W / E and the noise figure); rejected positions are counted
   (``coverage_rejected``).
4. Slots t >= 1: devices move by random waypoint (:mod:`uara.scenario.mobility`) for
   ``params.slot_s`` seconds and the channel is recomputed. A device whose
   move would leave it reaching no server (or, with the coverage rule, leave
   coverage) does not make that move: it stays at its slot t-1 position with
   its slot t-1 gains, and turns to a new waypoint (counted per slot in
   provenance ``held_moves``; coverage holds also in ``coverage_held``).
5. Tasks: one new task per device per slot from the task sampler (default
   ``psd``: type drawn uniformly from code / summarisation / chat, fields from
   the PSD profile of that type, :mod:`uara.psd.workload.tasks`; ``parametric``:
   :mod:`uara.scenario.task_sources`). The SHA-256 of the task sampler's data files (the PSD
   profiles of its profile set) is recorded, and a rebuild refuses to run if
   they changed.
6. Battery and queues for a static instance (each slot is solved as given;
   :mod:`uara.model.dynamics` rolls them with a method's own decisions instead):
   B_i(0) ~ U[battery_range]; B_i(t+1) = max(1e-3, B_i(t) - (E_i^CP + E^CM_i,est) / capacity_i)
   with E^CP = delta_CP f_i^MD and E^CM_est = delta_CM (y_est W_j / 1e6) P_i[W],
   y_est = min(1, E / M) (an even split of each server's band);
   queue_s_j(t) ~ U[0, queue_max_s] i.i.d. per slot and server.
7. Rounding, inside the builder so that a rebuild gives the same file:
   gains 0.01 dB, positions 1 cm, battery 1e-4, queues 0.1 ms, task bits to
   the integer and FLOP to 4 significant digits.

Provenance holds the full option set (``provenance["build"]``, channel
options resolved with their defaults): calling :func:`build_instance` with it
repeats the build; with Sionna RT on one
thread (the default) the result is bit-for-bit the same file for the same
package versions (also recorded).
"""

from __future__ import annotations

import math
import sys
import copy
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from uara.scenario.channels import ChannelProvider, get_channel
from uara.errors import UaraError
from uara.model.instance import Instance, Params, Slot, Task
from uara.scenario.build_spec import BuildSpec, params_from

from uara.scenario.provenance import BUILDER_ALIASES, build_options_from, provenance_of, provenance_record

__all__ = ["BATTERY_FLOOR", "best_snr_db", "build_instance", "build_options_from", "rebuild"]

BATTERY_FLOOR = 1e-3


def _sig(x: float, digits: int = 4) -> float:
    return float(f"{x:.{digits}g}")


def _round_task(task: Task) -> Task:
    return replace(task, bits=float(round(task.bits)), flops_device=_sig(task.flops_device),
                   flops_server=_sig(task.flops_server))


class _CachedChannel:
    """Calls a provider, optionally through an on-disk cache of its results.

    The key is the SHA-256 of the provider's label, options and package versions, the
    exact position arrays and the seed, so a hit returns what the call would return.
    The cache only saves time (e.g. re-making instances after the task model changed:
    tasks use their own random stream, so every channel call repeats exactly).
    """

    def __init__(self, provider: ChannelProvider, folder: str | Path | None) -> None:
        self.provider = provider
        self.folder = None if folder is None else Path(folder)
        self.hits = 0
        self._salt = ""
        if self.folder is not None:
            import hashlib
            import json

            self.folder.mkdir(parents=True, exist_ok=True)
            ident = {"label": provider.label, "options": provider.options(), "versions": provider.versions()}
            self._salt = hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()

    def __call__(self, servers: np.ndarray, devices: np.ndarray, seed: int) -> Any:
        if self.folder is None:
            return self.provider(servers, devices, seed=seed)
        import hashlib

        from uara.scenario.channels import ChannelResult

        h = hashlib.sha256(self._salt.encode())
        for arr in (np.ascontiguousarray(servers, dtype=np.float64), np.ascontiguousarray(devices, dtype=np.float64)):
            h.update(str(arr.shape).encode() + arr.tobytes())
        h.update(str(int(seed)).encode())
        path = self.folder / f"{h.hexdigest()}.npz"
        if path.exists():
            with np.load(path) as z:
                self.hits += 1
                los = z["los"] if "los" in z.files else None
                return ChannelResult(z["gain_db"], z["no_path"], los, {})
        res = self.provider(servers, devices, seed=seed)
        arrays = {"gain_db": res.gain_db, "no_path": res.no_path}
        if res.los is not None:
            arrays["los"] = res.los
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, **arrays)
        tmp.replace(path)
        return res


class _Progress:
    """tqdm when installed (``uara[report]``), else one line per step on stderr."""

    def __init__(self, total: int, desc: str, enabled: bool) -> None:
        self.enabled = enabled
        self.bar = None
        self.n = 0
        self.total = total
        self.desc = desc
        self.t0 = time.perf_counter()
        if enabled:
            try:
                from tqdm import tqdm

                self.bar = tqdm(total=total, desc=desc, unit="slot", file=sys.stderr)
            except ImportError:
                self.bar = None

    def update(self, note: str = "") -> None:
        self.n += 1
        if not self.enabled:
            return
        if self.bar is not None:
            if note:
                self.bar.set_postfix_str(note)
            self.bar.update(1)
        else:
            print(f"{self.desc}: slot {self.n}/{self.total} ({time.perf_counter() - self.t0:.0f} s) {note}",
                  file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


@dataclass(frozen=True)
class _Streams:
    hardware: np.random.Generator
    placement: np.random.Generator
    mobility: np.random.Generator
    tasks: np.random.Generator
    state: np.random.Generator
    channel_entropy: int


def _streams(seed: int) -> _Streams:
    ss = np.random.SeedSequence(int(seed))
    kids = ss.spawn(6)
    return _Streams(*(np.random.default_rng(k) for k in kids[:5]), int(kids[5].generate_state(1, np.uint32)[0]))


def _channel_seed(streams: _Streams, slot: int, attempt: int, per_slot: bool = True) -> int:
    """Seed of the channel call for ``slot`` and resampling ``attempt`` (independent of call order).

    Providers whose seed only drives numerical sampling (``seed_per_slot`` False:
    ray tracing) get one seed for the whole build.
    """
    if not per_slot:
        slot, attempt = 0, 0
    return int(np.random.SeedSequence([streams.channel_entropy, slot, attempt]).generate_state(1, np.uint32)[0])


def build_instance(
    spec: BuildSpec | None = None,
    *,
    task_sampler: Callable[[np.random.Generator, int], list[Task]] | None = None,
    progress: bool = False,
    channel_cache: str | Path | None = None,
    **options: Any,
) -> Instance:
    """Build an instance (see the module docstring for every rule).

    Args:
        spec: the :class:`~uara.scenario.build_spec.BuildSpec` (M, E, T, channel, scene, seed,
            hardware, tasks, parameters, mobility, battery and queue ranges); or give its
            fields as keyword ``options`` (``build_instance(devices=60, servers=8, ...)``).
        task_sampler: a ready sampler object instead of ``spec.tasks`` (not reproducible from
            provenance unless it has ``describe()`` and is re-passed).
        progress: show a progress bar (tqdm if installed) on stderr.
        channel_cache: folder caching channel results by their exact inputs (saves the
            ray tracing when only tasks, hardware or parameters change; not recorded,
            it never changes the result).

    Returns:
        The validated :class:`Instance`; ``provenance["build"]`` records the resolved spec.

    Raises:
        UaraError: a bad option (one line naming it).
    """
    from uara.scenario.hardware import load_catalog
    from uara.scenario.mobility import RandomWaypoint
    from uara.scenario.task_sources import get_task_sampler

    if spec is None:
        spec = BuildSpec.from_dict(options, where="build_instance")
    elif options:
        raise UaraError(f"build_instance: give a BuildSpec or its fields, not both (got {', '.join(sorted(options))})")
    spec.validate()
    par = params_from(spec.params)
    if spec.queue_model == "background" and spec.background_load > 0:  # the batched server's background stream
        par = par.with_changes({"background_load": spec.background_load})
    ch_opts = dict(spec.channel_options)
    if spec.scene is not None:
        ch_opts["scene"] = spec.scene
    ch_opts.setdefault("gain_floor_db", par.gain_floor_db)
    if ch_opts["gain_floor_db"] != par.gain_floor_db:
        raise UaraError("channel_options.gain_floor_db must equal params.gain_floor_db "
                        f"({ch_opts['gain_floor_db']} != {par.gain_floor_db})")
    provider: ChannelProvider = get_channel(spec.channel, **ch_opts)
    cat = load_catalog(spec.catalog)
    sampler = task_sampler if task_sampler is not None else get_task_sampler(spec.tasks, **dict(spec.task_options))
    m, e = int(spec.devices), int(spec.servers)
    streams = _streams(int(spec.seed))
    inst_name = spec.name or f"m{m}_e{e}"

    dev_list = cat.draw_devices(m, streams.hardware, list(spec.device_kinds) if spec.device_kinds else None)
    layout = provider.layout()
    server_pos = np.round(layout.sample_servers(e, streams.placement), 2)
    srv_list = cat.draw_servers(e, streams.hardware, server_pos, list(spec.server_kinds) if spec.server_kinds else None)
    mobility = RandomWaypoint(layout, tuple(spec.speed_mps), spec.waypoint_radius_m)  # type: ignore[arg-type]
    trace = _CachedChannel(provider, channel_cache)
    stats: dict[str, Any] = {"no_path_pairs": [], "los_pairs": [], "held_moves": [], "resample_rounds": 0,
                             "dropped_devices": 0, "spare_positions": 0}
    if spec.min_coverage_snr_db is not None:
        stats.update(coverage_rejected=0, coverage_held=0)
    tx_dbm = np.array([d.tx_power_dbm for d in dev_list])
    first = _place_devices(spec, provider, layout, server_pos, streams, trace, stats, par, tx_dbm)
    if first.kept < m:
        dev_list = [replace(d, name=f"d{i}") for i, d in enumerate(dev_list[:first.kept])]
    bar = _Progress(int(spec.slots), f"build {inst_name} ({provider.label})", progress)
    slot_list = _roll_slots(spec, par, dev_list, np.array([sv.flops for sv in srv_list]), first, mobility, streams, trace,
                            server_pos, sampler, stats, bar)
    bar.close()
    provenance = provenance_record(spec, par, provider, layout, mobility, sampler, cat, stats)
    if task_sampler is not None:
        provenance["build"]["task_sampler"] = "custom object (pass it again to rebuild)"
    return Instance(inst_name, par, dev_list, srv_list, slot_list, provenance).validate()


@dataclass
class _Placement:
    """Slot-0 positions of the devices that reach a server, with their channel."""

    pos: np.ndarray  # (M', 2) m
    gain: np.ndarray  # (M', E) dB
    no_path: np.ndarray  # (M', E) bool
    los: np.ndarray | None  # (M', E) bool
    kept: int


def best_snr_db(gain_db: np.ndarray, tx_power_dbm: np.ndarray, par: Params, num_servers: int) -> np.ndarray:
    """Each row's best-server SNR (dB) over a server's band W / E with the noise figure:
    max_j G_ij + P_i - (N0 + 10 log10(W / E) + NF). Shapes (n, E), (n,) -> (n,)."""
    noise_dbm = par.noise_dbm_per_hz + 10.0 * np.log10(par.bandwidth_hz / num_servers) + par.noise_figure_db
    return np.max(np.asarray(gain_db, dtype=float), axis=1) + np.asarray(tx_power_dbm, dtype=float) - noise_dbm


def _place_devices(spec: BuildSpec, provider: ChannelProvider, layout: Any, server_pos: np.ndarray, streams: _Streams,
                   trace: _CachedChannel, stats: dict[str, Any], par: Params, tx_dbm: np.ndarray) -> _Placement:
    """Slot 0 (module docstring, no-path rule): M + spares positions, keep the first M that reach a
    server (and, with ``min_coverage_snr_db``, whose best SNR with the device they would become clears
    it), then up to ``max_resample`` rounds of fresh positions, then drop the rest (warning)."""
    m = int(spec.devices)
    spares = math.ceil(m / 5) + 2
    stats["spare_positions"] = spares
    rows: dict[str, list[Any]] = {"pos": [], "gain": [], "no_path": [], "los": []}

    def take(cand: np.ndarray, res: Any, need: int) -> None:
        for i in np.flatnonzero(~res.unreachable):
            if need <= 0:
                return
            k = len(rows["pos"])  # the device this position would become
            if spec.min_coverage_snr_db is not None and \
                    best_snr_db(res.gain_db[i:i + 1], tx_dbm[k:k + 1], par, len(server_pos))[0] < spec.min_coverage_snr_db:
                stats["coverage_rejected"] = stats.get("coverage_rejected", 0) + 1
                continue
            rows["pos"].append(cand[i])
            rows["gain"].append(res.gain_db[i])
            rows["no_path"].append(res.no_path[i])
            rows["los"].append(None if res.los is None else res.los[i])
            need -= 1

    cand = np.round(layout.sample_devices(m + spares, streams.placement, servers=server_pos), 2)
    take(cand, trace(server_pos, cand, seed=_channel_seed(streams, 0, 0, provider.seed_per_slot)), m)
    attempt = 0
    while len(rows["pos"]) < m and attempt < spec.max_resample:
        attempt += 1
        need = m - len(rows["pos"])
        cand = np.round(layout.sample_devices(2 * need + 2, streams.placement, servers=server_pos), 2)
        take(cand, trace(server_pos, cand, seed=_channel_seed(streams, 0, attempt, provider.seed_per_slot)), need)
    stats["resample_rounds"] = attempt
    kept = len(rows["pos"])
    if kept == 0:
        raise UaraError(f"no device position reaches any server in {provider.label} after {attempt} resampling "
                        "rounds; use more servers or samples_per_src")
    if kept < m:
        stats["dropped_devices"] = m - kept
        why = "reach no server" if spec.min_coverage_snr_db is None else \
            f"reach no server with a best-server SNR of at least {spec.min_coverage_snr_db:g} dB"
        print(f"uara build: warning: {m - kept} of {m} devices {why} after {attempt} rounds of new "
              "positions; dropped (provenance.build_stats.dropped_devices)", file=sys.stderr)
    los = None if rows["los"][0] is None else np.array(rows["los"])
    return _Placement(np.array(rows["pos"]), np.array(rows["gain"]), np.array(rows["no_path"]), los, kept)


def _roll_slots(spec: BuildSpec, par: Params, dev_list: list[Any], server_flops: np.ndarray, first: _Placement,
                mobility: Any, streams: _Streams, trace: _CachedChannel, server_pos: np.ndarray, sampler: Any, stats: dict[str, Any],
                bar: _Progress) -> list[Slot]:
    """Slots 0..T-1: mobility (a move into no coverage is held and redirected), channel, tasks, queues (uniform
    draws or the Lindley backlog of :func:`_reference_load`), and the battery rule
    B(t+1) = max(1e-3, B(t) - (E^CP + E^CM_est) / capacity) (module docstring, step 6)."""
    m, e = first.kept, int(spec.servers)
    pos, gain, no_path, los = first.pos, first.gain, first.no_path, first.los
    state = mobility.start(pos, streams.mobility)
    lo_b, hi_b = (float(v) for v in spec.battery_range)
    battery = np.maximum(np.round(streams.state.uniform(lo_b, hi_b, m), 4), 1e-4)
    cap = np.array([d.battery_capacity_j for d in dev_list])
    p_w = 10.0 ** ((np.array([d.tx_power_dbm for d in dev_list]) - 30.0) / 10.0)
    y_est, w_j = min(1.0, e / m), par.bandwidth_hz / e
    backlog = np.zeros(e)  # Lindley backlog (s) at the start of the slot; servers start idle
    slot_list: list[Slot] = []
    for t in range(int(spec.slots)):
        held = 0
        if t > 0:
            prev = (pos, gain, no_path, los)
            state = mobility.step(state, par.slot_s, streams.mobility)
            pos = np.round(state.positions, 2)
            res = trace(server_pos, pos, seed=_channel_seed(streams, t, 0, trace.provider.seed_per_slot))
            gain, no_path, los = res.gain_db.copy(), res.no_path.copy(), None if res.los is None else res.los.copy()
            out = res.unreachable
            if spec.min_coverage_snr_db is not None:
                below = best_snr_db(res.gain_db, [d.tx_power_dbm for d in dev_list], par, e) < spec.min_coverage_snr_db
                stats["coverage_held"] += int((below & ~res.unreachable).sum())
                out = out | below
            lost = np.flatnonzero(out)
            if len(lost):
                held = len(lost)
                pos[lost], gain[lost], no_path[lost] = prev[0][lost], prev[1][lost], prev[2][lost]
                if los is not None and prev[3] is not None:
                    los[lost] = prev[3][lost]
                state = replace(state, positions=state.positions.copy())
                state.positions[lost] = prev[0][lost]
                state = mobility.redirect(state, lost, streams.mobility)
        task_list = [_round_task(tk) for tk in sampler(streams.tasks, m)]
        if spec.queue_model == "uniform":
            queue = np.round(streams.state.uniform(0.0, spec.queue_max_s, e), 4) if spec.queue_max_s > 0 else np.zeros(e)
        else:
            queue = np.round(backlog, 4)
        # a path just above the floor must not round onto it (that would read as "no path")
        gain_r = np.where(no_path, par.gain_floor_db, np.maximum(np.round(gain, 2), par.gain_floor_db + 0.01))
        slot = Slot(gain_db=gain_r, battery=battery.copy(), queue_s=queue, tasks=task_list, device_positions=pos.copy())
        slot_list.append(slot)
        stats["no_path_pairs"].append(int(no_path.sum()))
        stats["los_pairs"].append(None if los is None else int(los.sum()))
        stats["held_moves"].append(held)
        f_md = np.array([tk.flops_device for tk in task_list])
        if par.energy_model == "paper" and spec.queue_model == "uniform":  # the original rules, bit for bit
            energy = par.delta_cp_j_per_flop * f_md + par.delta_cm * (y_est * w_j / 1e6) * p_w
        else:
            energy, backlog = _reference_load(spec, par, dev_list, server_flops, slot, backlog, y_est, streams)
        battery = np.round(np.maximum(BATTERY_FLOOR, battery - energy / cap), 4)
        bar.update(f"no-path {int(no_path.sum())}/{no_path.size}")
    stats["mobility_stuck"] = int(state.stuck)
    return slot_list


def _reference_load(spec: BuildSpec, par: Params, dev_list: list[Any], server_flops: np.ndarray, slot: Slot,
                    backlog: np.ndarray, y_est: float, streams: Any) -> tuple[np.ndarray, np.ndarray]:
    """Energy spent in the slot (J, (M,)) and the next slot's backlog (s, (E,)) under the Max-SINR reference
    association with even shares y_est:

        E_i = delta_CP f_i^MD + E_i^CM(y_est)                     (either energy model)
        q_j(t+1) = max(0, q_j(t) + sum_{i -> j} f_i^ES / F_j + X_j(t) - tau)   (Lindley, ``queue_model='lindley'``)
        q_j(t+1) = max(0, q_j(t) + X_j(t) - tau)                              (``queue_model='background'``)

    with X_j(t) ~ Exponential(mean background_load * tau): work of other tenants (none at 0). The
    ``background`` backlog is the same whatever method later decides the slots (no method is charged
    another's queue); ``lindley`` is the Max-SINR-induced backlog of the earlier builds."""
    from uara.model.formulation import build_slot_data

    m, e = slot.gain_db.shape
    tx = np.array([d.tx_power_dbm for d in dev_list])
    sd = build_slot_data(
        par, gain_db=slot.gain_db, tx_power_dbm=tx, device_flops=np.array([d.flops for d in dev_list]),
        server_flops=server_flops, battery=slot.battery, queue_s=slot.queue_s,
        bits=np.array([tk.bits for tk in slot.tasks]), flops_device=np.array([tk.flops_device for tk in slot.tasks]),
        flops_server=np.array([tk.flops_server for tk in slot.tasks]))
    ref = sd.max_sinr_association()
    energy = sd.energy_cp_j + sd.comm_energy_j(ref, np.full(m, y_est))
    if spec.queue_model not in ("lindley", "background"):
        return energy, backlog
    work = (np.bincount(ref, weights=sd.server_work_s[np.arange(m), ref], minlength=e)
            if spec.queue_model == "lindley" else 0.0)
    other = streams.state.exponential(spec.background_load * par.slot_s, e) if spec.background_load > 0 else 0.0
    return energy, np.maximum(0.0, backlog + work + other - par.slot_s)


def rebuild(source: str | Path | Mapping[str, Any] | Instance, progress: bool = False,
            channel_cache: str | Path | None = None) -> Instance:
    """Build again from recorded provenance (see :func:`build_options_from`)."""
    spec = BuildSpec.from_record(build_options_from(source), where="provenance.build")
    inst = build_instance(spec, progress=progress, channel_cache=channel_cache)
    recorded = provenance_of(source).get("builder")
    if recorded in BUILDER_ALIASES:  # the same code under its earlier path: keep the recorded name
        inst.provenance["builder"] = recorded
    return inst


def requeue_background(inst: Instance, server_model: str = "batched") -> Instance:
    """The instance with the background-only backlog of its own build, without building it again (no ray
    tracing): ``background`` differs from ``lindley`` only in the queues (the background draws X_j(t) come
    from the same stream in the same order), so q_j(t+1) = max(0, q_j(t) + X_j(t) - tau) replayed from the
    build's seed gives what ``--queue-model background`` writes, bit for bit; the params gain
    ``background_load`` and the server model, the provenance says so (a rebuild gives the same file)."""
    from uara.scenario.provenance import _queue_rule, build_options_from

    opts = build_options_from(inst)
    if opts.get("queue_model") not in ("lindley", "background"):
        raise UaraError(f"provenance.build.queue_model: {opts.get('queue_model')!r}; only Lindley builds carry the "
                        "background draws to replay")
    rho = float(opts.get("background_load", 0.0))
    state = _streams(int(opts["seed"])).state
    lo, hi = (float(v) for v in opts.get("battery_range", (0.2, 1.0)))
    state.uniform(lo, hi, inst.num_devices)  # the slot-0 batteries come first in this stream
    tau, e = float(inst.params.slot_s), inst.num_servers
    q = np.zeros(e)
    d = inst.to_dict()
    for slot in d["slots"]:
        slot["queue_s"] = np.round(q, 4).tolist()
        other = state.exponential(rho * tau, e) if rho > 0 else 0.0
        q = np.maximum(0.0, q + other - tau)
    changes = {"server_model": server_model}
    if rho > 0:
        changes["background_load"] = rho
    d["params"] = inst.params.with_changes(changes).to_dict()
    prov = copy.deepcopy(inst.provenance)
    prov["build"]["queue_model"] = "background"
    prov["build"]["params"] = {**prov["build"].get("params", {}), **changes}
    prov.setdefault("resolved", {})["queue_rule"] = _queue_rule(BuildSpec.from_record({**opts, "queue_model": "background"}))
    d["provenance"] = prov
    return Instance.from_dict(d)
