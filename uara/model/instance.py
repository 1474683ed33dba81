"""Instances of P1: the ``INSTANCE_FORMAT`` JSON format as typed Python objects.

An :class:`Instance` holds static data (devices, servers, parameters) and one
:class:`Slot` per time slot (channel, positions, battery, queues, tasks). Each
slot is one static P1; see ``docs/model.md`` for the symbols:

=========================  ==================  ===========================
JSON field                 symbol              unit
=========================  ==================  ===========================
devices[i].flops           F_i^MD              FLOP/s (effective)
devices[i].tx_power_dbm    P_i                 dBm
servers[j].flops           F_j^ES              FLOP/s (effective)
slots[t].gain_db[i][j]     G_ij                dB (path gain, <= 0)
slots[t].battery[i]        B_i                 fraction of capacity, (0, 1]
slots[t].queue_s[j]        k_j * kappa         seconds
slots[t].tasks[i].bits     d_i                 bit (uplink payload of the task)
tasks[i].flops_device      f_i^MD              FLOP
tasks[i].flops_server      f_i^ES              FLOP
=========================  ==================  ===========================

Loading validates everything and raises :class:`uara.errors.InstanceError`
naming the JSON path of the first bad value (``slots[3].gain_db[12][4]: NaN``).
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from uara.errors import InstanceError
from uara.io import atomic_write_json, dumps_json
from uara.model.shared.validation import (
    load_instance_file,
    check_array,
    check_keys,
    check_list,
    check_number,
    check_string,
)

from uara.model.shared.formats import INSTANCE_FORMAT  # noqa: E402


@dataclass(frozen=True)
class Params:
    """System parameters of P1 (paper's Table I; defaults documented in docs/model.md).

    Attributes:
        bandwidth_hz: total uplink bandwidth W, split equally: W_j = W / E (eq. 5).
        noise_dbm_per_hz: noise spectral density N0 (dBm/Hz).
        lambda_: weight of the draft/uplink synchronisation penalty (eq. 9), JSON key ``lambda``.
        energy_weight: w, weight of battery-normalised energy (eq. 9).
        delta_cp_j_per_flop: delta_CP, device compute energy per FLOP (J/FLOP).
        delta_cm: delta_CM, communication energy coefficient, J per (MHz * W) (eq. 8).
        slot_s: slot length tau (s), used by the dynamics across slots.
        gain_floor_db: the gain written for pairs with no propagation path (dB).
        min_snr_db: coverage threshold: a link whose SNR over its server's band
            (10 log10 SNR_ij) is below it cannot be used, except each device's best
            link, kept so that every device can be served (docs/model.md). Written to
            JSON only when it differs from the default.
        noise_figure_db: receiver noise figure NF (dB): the noise over W_j is N0 W_j 10^(NF/10).
            0 = the paper's ideal receiver; 3GPP FR1 evaluations use 5 dB for a base station.
        shannon_attenuation: alpha of the attenuated Shannon bound of 3GPP TR 36.942 Annex A,
            r = W_j min(alpha log2(1 + SNR), max_spectral_efficiency); 1 = pure Shannon (the paper).
        max_spectral_efficiency: the cap of that bound (b/s/Hz; 0 = no cap, the paper). NR's
            single-layer peak is about 7.4 b/s/Hz (256-QAM, code rate 948/1024).
        energy_model: how the communication energy E_i^CM is counted: ``paper`` (eq. 8 as printed,
            delta_CM (y W_j / 1e6) P_i: grows with the bandwidth given) or ``physical`` (transmit power
            times uplink time, P_i T_i = P_i d_i / (y r_ij): falls with the bandwidth given).
        The last four are written to JSON (and enter the fingerprint) only when they differ from
        their defaults, so every file written before they existed keeps its bytes and fingerprint.
    """

    bandwidth_hz: float = 1e7
    noise_dbm_per_hz: float = -174.0
    lambda_: float = 1e-2
    energy_weight: float = 20.0
    delta_cp_j_per_flop: float = 1e-9
    delta_cm: float = 2.6
    slot_s: float = 1.0
    gain_floor_db: float = -200.0
    min_snr_db: float = -5.0
    noise_figure_db: float = 0.0
    shannon_attenuation: float = 1.0
    max_spectral_efficiency: float = 0.0
    energy_model: str = "paper"

    def with_changes(self, changes: Mapping[str, Any], where: str = "params") -> "Params":
        """A checked copy with some values changed (JSON keys: ``lambda`` names ``lambda_``).

        An unknown name, a value that is not a finite number or one out of its range is a
        one-line :class:`InstanceError` naming ``where.key``. The one way a mapping becomes
        parameters: the loader, ``Instance.with_params`` and the builder all use it.
        """
        if not isinstance(changes, Mapping):
            raise InstanceError(where, "must be a JSON object")
        check_keys(dict(changes), _PARAM_KEYS, where)
        values = {("lambda_" if k == "lambda" else k): _param_value(k, v, f"{where}.{k}") for k, v in changes.items()}
        new = replace(self, **values)
        _check_params(new, where)
        return new

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: _param_json(getattr(self, f.name)) for f in fields(self)}
        d["lambda"] = d.pop("lambda_")
        for key in OPTIONAL_PARAMS:  # files written before these existed stay byte-identical
            if d[key] == getattr(Params, key):
                del d[key]
        return d


#: Parameters written to JSON, and fingerprinted, only when they differ from their defaults.
OPTIONAL_PARAMS = ("min_snr_db", "noise_figure_db", "shannon_attenuation", "max_spectral_efficiency", "energy_model")

#: The values of ``Params.energy_model`` (docs/model.md, "Energy").
ENERGY_MODELS = ("paper", "physical")

#: Parameters whose values are names, not numbers.
STRING_PARAMS = ("energy_model",)


def _param_value(key: str, value: Any, path: str) -> Any:
    """A parameter's value from JSON: a string for ``energy_model``, a finite number otherwise."""
    if key in STRING_PARAMS:  # energy_model, the only one
        text = check_string(value, path)
        if text not in ENERGY_MODELS:
            raise InstanceError(path, f"unknown energy model {text!r}; choose one of: {', '.join(ENERGY_MODELS)}")
        return text
    return check_number(value, path)


def _param_json(value: Any) -> Any:
    return value if isinstance(value, str) else float(value)

#: Named parameter sets (docs/model.md, "Parameter sets", gives each value and its source).
#: ``paper-literal`` is the paper's Table I (delta_CP read as 1e-9 J/FLOP), pure Shannon, no noise
#: figure, eq. 8 as printed, tau = 1 s: the class defaults, also under its older name ``default``.
#: ``credible`` is what a wireless and LLM-serving reviewer would accept: a 5 dB base-station noise
#: figure, the attenuated and capped Shannon bound of 3GPP TR 36.942 Annex A (alpha 0.6, cap 7.4
#: b/s/Hz: NR's 256-QAM single-layer peak), links below -6 dB unusable, delta_CP = 1e-10 J/FLOP (a
#: phone drafting at 26-51 GFLOP/s draws 2.6-5.1 W), transmit energy P_i T_i, and a 10 s slot (one
#: request per device per 10 s; 95 % of tasks draft within it). ``paper-table1-literal`` keeps the printed
#: delta_CP = 1e9 for anyone who wants to see what it does (the compute-energy constant then dwarfs
#: everything; it changes no decision).
PARAMETER_SETS: dict[str, Params] = {
    "credible": Params(noise_figure_db=5.0, shannon_attenuation=0.6, max_spectral_efficiency=7.4, min_snr_db=-6.0,
                       delta_cp_j_per_flop=1e-10, energy_model="physical", slot_s=10.0),
    "paper-literal": Params(),
    "default": Params(),
    "paper-table1-literal": Params(delta_cp_j_per_flop=1e9),
}


@dataclass(frozen=True)
class Device:
    """A mobile device running the draft model."""

    name: str
    kind: str
    flops: float  # F_i^MD, effective FLOP/s
    tx_power_dbm: float  # P_i
    battery_capacity_j: float

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class Server:
    """An edge server running the target model."""

    name: str
    kind: str
    flops: float  # F_j^ES, effective FLOP/s
    position: tuple[float, float, float] | None = None  # metres

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "kind": self.kind, "flops": self.flops}
        if self.position is not None:
            d["position"] = [float(v) for v in self.position]
        return d


@dataclass(frozen=True)
class Task:
    """One device's LLM task in one slot.

    ``bits`` is d_i (uplink payload of the whole task, bit), ``flops_device``
    f_i^MD (draft FLOP), ``flops_server`` f_i^ES (verification FLOP). ``psd``
    optionally carries the speculative-decoding details the simulator uses
    (see docs/psd.md); P1 itself needs only the three numbers.
    """

    type: str
    bits: float
    flops_device: float
    flops_server: float
    psd: Mapping[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "type": self.type,
            "bits": float(self.bits),
            "flops_device": float(self.flops_device),
            "flops_server": float(self.flops_server),
        }
        if self.psd is not None:
            d["psd"] = copy.deepcopy(dict(self.psd))
        return d


@dataclass
class Slot:
    """The state of one time slot: shapes (M, E), (M, 3), (M,), (E,), M tasks."""

    gain_db: np.ndarray  # (M, E) dB
    battery: np.ndarray  # (M,) in (0, 1]
    queue_s: np.ndarray  # (E,) seconds
    tasks: list[Task]
    device_positions: np.ndarray | None = None  # (M, 3) metres

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"gain_db": self.gain_db.tolist()}
        if self.device_positions is not None:
            d["device_positions"] = self.device_positions.tolist()
        d["battery"] = self.battery.tolist()
        d["queue_s"] = self.queue_s.tolist()
        d["tasks"] = [t.to_dict() for t in self.tasks]
        return d


@dataclass
class Instance:
    """A UARA instance: static system plus one P1 per slot.

    Build one from a file (:meth:`load`), from a dict (:meth:`from_dict`), from
    arrays (:meth:`from_arrays`), or at random (:meth:`random`).
    """

    name: str
    params: Params
    devices: list[Device]
    servers: list[Server]
    slots: list[Slot]
    provenance: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ sizes
    @property
    def num_devices(self) -> int:
        """M."""
        return len(self.devices)

    @property
    def num_servers(self) -> int:
        """E."""
        return len(self.servers)

    @property
    def num_slots(self) -> int:
        """T."""
        return len(self.slots)

    # ------------------------------------------------------------------ arrays
    @property
    def device_flops(self) -> np.ndarray:
        """F_i^MD, shape (M,), FLOP/s."""
        return np.array([d.flops for d in self.devices], dtype=float)

    @property
    def server_flops(self) -> np.ndarray:
        """F_j^ES, shape (E,), FLOP/s."""
        return np.array([s.flops for s in self.servers], dtype=float)

    @property
    def tx_power_dbm(self) -> np.ndarray:
        """P_i, shape (M,), dBm."""
        return np.array([d.tx_power_dbm for d in self.devices], dtype=float)

    @property
    def battery_capacity_j(self) -> np.ndarray:
        """Battery capacity, shape (M,), J."""
        return np.array([d.battery_capacity_j for d in self.devices], dtype=float)

    # ------------------------------------------------------------------ I/O
    def to_dict(self) -> dict[str, Any]:
        """The ``INSTANCE_FORMAT`` JSON object."""
        return {
            "format": INSTANCE_FORMAT,
            "name": self.name,
            "params": self.params.to_dict(),
            "devices": [d.to_dict() for d in self.devices],
            "servers": [s.to_dict() for s in self.servers],
            "slots": [s.to_dict() for s in self.slots],
            "provenance": copy.deepcopy(self.provenance),
        }

    def save(self, path: str | Path) -> Path:
        """Write the instance as JSON, atomically."""
        return atomic_write_json(path, self.to_dict(), indent=None)

    @classmethod
    def load(cls, path: str | Path) -> "Instance":
        """Read and validate an instance file."""
        return load_instance_file(path, cls.from_dict)

    def fingerprint(self) -> str:
        """SHA-256 of the canonical JSON of everything P1 reads (provenance excluded).

        Two instances with the same fingerprint pose the same problem; solutions
        and cached lower bounds record it.
        """
        d = self.to_dict()
        d.pop("provenance", None)
        d["params"] = {f.name: _param_json(getattr(self.params, f.name)) for f in fields(self.params)  # defaults too,
                       if f.name in ("min_snr_db",) or f.name not in OPTIONAL_PARAMS  # except the newer ones
                       or getattr(self.params, f.name) != getattr(Params, f.name)}
        text = json.dumps(d, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @classmethod
    def from_dict(cls, data: Any) -> "Instance":
        """Validate a ``INSTANCE_FORMAT`` object and build the instance.

        Raises:
            InstanceError: naming the JSON path of the first bad value.
        """
        if not isinstance(data, dict):
            raise InstanceError("", f"an instance must be a JSON object, got {type(data).__name__}")
        fmt = data.get("format")
        if fmt != INSTANCE_FORMAT:
            raise InstanceError("format", f"expected '{INSTANCE_FORMAT}', got {fmt!r}")
        check_keys(data, _TOP_KEYS, "")
        name = check_string(data.get("name", "instance"), "name")

        params = _params_from_dict(data.get("params", {}))
        devices_raw = check_list(data.get("devices"), "devices", min_len=1)
        devices = [_device_from_dict(d, f"devices[{i}]") for i, d in enumerate(devices_raw)]
        servers_raw = check_list(data.get("servers"), "servers", min_len=1)
        servers = [_server_from_dict(s, f"servers[{j}]") for j, s in enumerate(servers_raw)]
        m, e = len(devices), len(servers)
        slots_raw = check_list(data.get("slots"), "slots", min_len=1)
        slots = [_slot_from_dict(s, f"slots[{t}]", m, e) for t, s in enumerate(slots_raw)]
        provenance = data.get("provenance", {})
        if not isinstance(provenance, dict):
            raise InstanceError("provenance", "must be a JSON object")
        inst = cls(name, params, devices, servers, slots, dict(provenance))
        inst.validate()
        return inst

    # ------------------------------------------------------------------ checks
    def validate(self) -> "Instance":
        """Check every value (types, shapes, ranges, finiteness, usable channels).

        Called by :meth:`from_dict`; call it yourself after building an
        instance by hand. Returns ``self``.
        """
        _check_params(self.params)
        m, e = self.num_devices, self.num_servers
        if m < 1:
            raise InstanceError("devices", "needs at least one device (M >= 1)")
        if e < 1:
            raise InstanceError("servers", "needs at least one server (E >= 1)")
        if not self.slots:
            raise InstanceError("slots", "needs at least one slot")
        for i, d in enumerate(self.devices):
            _check_device(d, f"devices[{i}]")
        for j, s in enumerate(self.servers):
            _check_server(s, f"servers[{j}]")
        for t, slot in enumerate(self.slots):
            _check_slot(slot, f"slots[{t}]", m, e, self.params.gain_floor_db, self.devices)
        return self

    # ------------------------------------------------------------------ builders
    @classmethod
    def from_arrays(
        cls,
        *,
        gain_db: np.ndarray,
        device_flops: Sequence[float] | np.ndarray,
        server_flops: Sequence[float] | np.ndarray,
        tx_power_dbm: Sequence[float] | np.ndarray | float,
        bits: Sequence[float] | np.ndarray,
        flops_device: Sequence[float] | np.ndarray,
        flops_server: Sequence[float] | np.ndarray,
        battery: Sequence[float] | np.ndarray | float = 1.0,
        queue_s: Sequence[float] | np.ndarray | float = 0.0,
        battery_capacity_j: Sequence[float] | np.ndarray | float = 54000.0,
        task_types: Sequence[str] | str = "chat",
        params: Params | None = None,
        name: str = "custom",
        provenance: Mapping[str, Any] | None = None,
    ) -> "Instance":
        """Build a one-slot instance from arrays (shapes (M, E) for ``gain_db``,
        (M,) per device, (E,) per server; scalars broadcast). Validated."""
        gain = np.asarray(gain_db, dtype=float)
        if gain.ndim != 2:
            raise InstanceError("gain_db", f"expected a 2-D (M, E) array, got shape {gain.shape}")
        m, e = gain.shape

        def per(x: Any, n: int, what: str) -> np.ndarray:
            arr = np.broadcast_to(np.asarray(x, dtype=float), (n,)) if np.ndim(x) == 0 else np.asarray(x, dtype=float)
            if arr.shape != (n,):
                raise InstanceError(what, f"expected shape ({n},), got {arr.shape}")
            return arr

        fd, fs = per(device_flops, m, "device_flops"), per(server_flops, e, "server_flops")
        p = per(tx_power_dbm, m, "tx_power_dbm")
        cap = per(battery_capacity_j, m, "battery_capacity_j")
        types = [task_types] * m if isinstance(task_types, str) else list(task_types)
        if len(types) != m:
            raise InstanceError("task_types", f"expected {m} entries, got {len(types)}")
        tasks = [
            Task(types[i], float(b), float(f1), float(f2))
            for i, (b, f1, f2) in enumerate(
                zip(per(bits, m, "bits"), per(flops_device, m, "flops_device"), per(flops_server, m, "flops_server"))
            )
        ]
        slot = Slot(
            gain_db=gain.copy(),
            battery=per(battery, m, "battery").copy(),
            queue_s=per(queue_s, e, "queue_s").copy(),
            tasks=tasks,
        )
        devices = [Device(f"d{i}", "custom", float(fd[i]), float(p[i]), float(cap[i])) for i in range(m)]
        servers = [Server(f"s{j}", "custom", float(fs[j])) for j in range(e)]
        inst = cls(name, params or Params(), devices, servers, [slot], dict(provenance or {"source": "from_arrays"}))
        return inst.validate()

    def with_params(self, **changes: Any) -> "Instance":
        """A copy with some parameters changed (e.g. ``energy_weight=100``; ``lambda`` or ``lambda_``)."""
        if "lambda_" in changes:
            changes["lambda"] = changes.pop("lambda_")
        return replace(self, params=self.params.with_changes(changes), slots=list(self.slots))

    def slot_subset(self, slot_indices: Sequence[int]) -> "Instance":
        """A copy holding only the given slots."""
        return replace(self, slots=[self.slots[t] for t in slot_indices])


# ---------------------------------------------------------------------- parsing
_PARAM_KEYS = {f.name if f.name != "lambda_" else "lambda" for f in fields(Params)}
_TOP_KEYS = {"format", "name", "params", "devices", "servers", "slots", "provenance"}
_DEVICE_KEYS = {"name", "kind", "flops", "tx_power_dbm", "battery_capacity_j"}
_SERVER_KEYS = {"name", "kind", "flops", "position"}
_TASK_KEYS = {"type", "bits", "flops_device", "flops_server", "psd"}
_SLOT_KEYS = {"gain_db", "battery", "queue_s", "tasks", "device_positions"}
#: Plausible ranges of the physical fields, (low, high) inclusive, with units: a value outside is a
#: typo or a unit slip (and would make P1's terms overflow or vanish), refused naming the field.
RANGES = {
    "flops_per_s": (1e6, 1e19, "FLOP/s"),
    "battery_capacity_j": (1.0, 1e8, "J"),
    "bits": (1.0, 1e13, "bit"),
    "task_flops": (1.0, 1e18, "FLOP"),
    "battery": (1e-6, 1.0, "fraction of capacity"),
    "bandwidth_hz": (1e3, 1e11, "Hz"),
    "queue_s": (0.0, 1e6, "s"),
}


def _in_range(value: float, kind: str, path: str) -> None:
    lo, hi, unit = RANGES[kind]
    if not np.isfinite(value) or not lo <= value <= hi:
        raise InstanceError(path, f"{value!r} is outside the plausible range [{lo:g}, {hi:g}] {unit}")


def _params_from_dict(raw: Any) -> Params:
    return Params().with_changes(raw)


def _device_from_dict(raw: Any, path: str) -> Device:
    if not isinstance(raw, dict):
        raise InstanceError(path, "must be a JSON object")
    check_keys(raw, _DEVICE_KEYS, path)
    for key in ("flops", "tx_power_dbm"):
        if key not in raw:
            raise InstanceError(f"{path}.{key}", "missing")
    return Device(
        name=check_string(raw.get("name", path), f"{path}.name"),
        kind=check_string(raw.get("kind", "custom"), f"{path}.kind"),
        flops=check_number(raw["flops"], f"{path}.flops"),
        tx_power_dbm=check_number(raw["tx_power_dbm"], f"{path}.tx_power_dbm"),
        battery_capacity_j=check_number(raw.get("battery_capacity_j", 54000.0), f"{path}.battery_capacity_j"),
    )


def _server_from_dict(raw: Any, path: str) -> Server:
    if not isinstance(raw, dict):
        raise InstanceError(path, "must be a JSON object")
    check_keys(raw, _SERVER_KEYS, path)
    if "flops" not in raw:
        raise InstanceError(f"{path}.flops", "missing")
    pos = raw.get("position")
    position = None
    if pos is not None:
        arr = check_array(pos, f"{path}.position", shape=(3,))
        position = tuple(float(v) for v in arr)
    return Server(
        name=check_string(raw.get("name", path), f"{path}.name"),
        kind=check_string(raw.get("kind", "custom"), f"{path}.kind"),
        flops=check_number(raw["flops"], f"{path}.flops"),
        position=position,  # type: ignore[arg-type]
    )


def _task_from_dict(raw: Any, path: str) -> Task:
    if not isinstance(raw, dict):
        raise InstanceError(path, "must be a JSON object")
    check_keys(raw, _TASK_KEYS, path)
    for key in ("bits", "flops_device", "flops_server"):
        if key not in raw:
            raise InstanceError(f"{path}.{key}", "missing")
    psd = raw.get("psd")
    if psd is not None and not isinstance(psd, dict):
        raise InstanceError(f"{path}.psd", "must be a JSON object or absent")
    return Task(
        type=check_string(raw.get("type", "chat"), f"{path}.type"),
        bits=check_number(raw["bits"], f"{path}.bits"),
        flops_device=check_number(raw["flops_device"], f"{path}.flops_device"),
        flops_server=check_number(raw["flops_server"], f"{path}.flops_server"),
        psd=psd,
    )


def _slot_from_dict(raw: Any, path: str, m: int, e: int) -> Slot:
    if not isinstance(raw, dict):
        raise InstanceError(path, "must be a JSON object")
    check_keys(raw, _SLOT_KEYS, path)
    for key in ("gain_db", "battery", "queue_s", "tasks"):
        if key not in raw:
            raise InstanceError(f"{path}.{key}", "missing")
    gain = check_array(raw["gain_db"], f"{path}.gain_db", shape=(m, e))
    battery = check_array(raw["battery"], f"{path}.battery", shape=(m,))
    queue = check_array(raw["queue_s"], f"{path}.queue_s", shape=(e,))
    pos = raw.get("device_positions")
    positions = None if pos is None else check_array(pos, f"{path}.device_positions", shape=(m, 3))
    tasks_raw = check_list(raw["tasks"], f"{path}.tasks", length=m)
    tasks = [_task_from_dict(tk, f"{path}.tasks[{i}]") for i, tk in enumerate(tasks_raw)]
    return Slot(gain_db=gain, battery=battery, queue_s=queue, tasks=tasks, device_positions=positions)


# ---------------------------------------------------------------------- ranges
def _positive(value: float, path: str, unit: str = "") -> None:
    if not np.isfinite(value) or value <= 0:
        raise InstanceError(path, f"must be a positive finite number{unit}, got {value!r}")


def _check_params(p: Params, where: str = "params") -> None:
    _in_range(p.bandwidth_hz, "bandwidth_hz", f"{where}.bandwidth_hz")
    _positive(p.lambda_, f"{where}.lambda", " (the sync penalty is the only place uplink time enters P1)")
    _positive(p.slot_s, f"{where}.slot_s", " (s)")
    for key in ("energy_weight", "delta_cp_j_per_flop", "delta_cm"):
        v = getattr(p, key)
        if not np.isfinite(v) or v < 0:
            raise InstanceError(f"{where}.{key}", f"must be a finite number >= 0, got {v!r}")
    for key in ("noise_dbm_per_hz", "gain_floor_db", "min_snr_db"):
        v = getattr(p, key)
        if not np.isfinite(v):
            raise InstanceError(f"{where}.{key}", f"must be finite, got {v!r}")
    if not 0.0 <= p.noise_figure_db <= 30.0:
        raise InstanceError(f"{where}.noise_figure_db", f"must be in [0, 30] dB, got {p.noise_figure_db!r}")
    if not 0.0 < p.shannon_attenuation <= 1.0:
        raise InstanceError(f"{where}.shannon_attenuation", f"must be in (0, 1], got {p.shannon_attenuation!r}")
    if not 0.0 <= p.max_spectral_efficiency <= 30.0:
        raise InstanceError(f"{where}.max_spectral_efficiency",
                            f"must be in [0, 30] b/s/Hz (0 = no cap), got {p.max_spectral_efficiency!r}")


def _check_device(d: Device, path: str) -> None:
    _in_range(d.flops, "flops_per_s", f"{path}.flops")
    _in_range(d.battery_capacity_j, "battery_capacity_j", f"{path}.battery_capacity_j")
    if not np.isfinite(d.tx_power_dbm):
        raise InstanceError(f"{path}.tx_power_dbm", f"must be finite, got {d.tx_power_dbm!r}")
    if d.tx_power_dbm < 0:
        raise InstanceError(
            f"{path}.tx_power_dbm",
            f"{d.tx_power_dbm} dBm is negative (below 1 mW); give the transmit power in dBm, phones use 16-24",
        )
    if d.tx_power_dbm > 40:
        raise InstanceError(f"{path}.tx_power_dbm", f"{d.tx_power_dbm} dBm is above 40 dBm (10 W); is it in dBm?")


def _check_server(s: Server, path: str) -> None:
    _in_range(s.flops, "flops_per_s", f"{path}.flops")
    if s.position is not None and not np.all(np.isfinite(s.position)):
        raise InstanceError(f"{path}.position", "must be finite")


def _first_bad(mask: np.ndarray) -> tuple[int, ...]:
    return tuple(int(v) for v in np.argwhere(mask)[0])


def _index(path: str, idx: tuple[int, ...]) -> str:
    return path + "".join(f"[{k}]" for k in idx)


def _check_slot(slot: Slot, path: str, m: int, e: int, floor_db: float, devices: Sequence[Device]) -> None:
    gain = np.asarray(slot.gain_db, dtype=float)
    if gain.shape != (m, e):
        raise InstanceError(f"{path}.gain_db", f"expected shape ({m}, {e}) (devices x servers), got {gain.shape}")
    bad = ~np.isfinite(gain)
    if bad.any():
        idx = _first_bad(bad)
        raise InstanceError(_index(f"{path}.gain_db", idx), f"{gain[idx]} is not a finite gain in dB (no path = the floor {floor_db} dB)")
    above = gain > 0
    if above.any():
        idx = _first_bad(above)
        raise InstanceError(_index(f"{path}.gain_db", idx), f"{gain[idx]} dB is a path gain above 0 dB (a gain, not a loss, is expected: e.g. -100)")
    dead = np.all(gain <= floor_db, axis=1)
    if dead.any():
        i = int(np.argmax(dead))
        raise InstanceError(
            f"{path}.gain_db[{i}]",
            f"device {devices[i].name!r} has no usable channel (every gain at the floor {floor_db} dB); move or drop it",
        )
    battery = np.asarray(slot.battery, dtype=float)
    if battery.shape != (m,):
        raise InstanceError(f"{path}.battery", f"expected shape ({m},), got {battery.shape}")
    lo_b = RANGES["battery"][0]
    bad = ~np.isfinite(battery) | (battery < lo_b) | (battery > 1)
    if bad.any():
        i = _first_bad(bad)[0]
        raise InstanceError(
            f"{path}.battery[{i}]",
            f"{battery[i]} is outside [{lo_b:g}, 1]; the battery level is a fraction of capacity and P1 divides by it",
        )
    queue = np.asarray(slot.queue_s, dtype=float)
    if queue.shape != (e,):
        raise InstanceError(f"{path}.queue_s", f"expected shape ({e},), got {queue.shape}")
    bad = ~np.isfinite(queue) | (queue < 0) | (queue > RANGES["queue_s"][1])
    if bad.any():
        j = _first_bad(bad)[0]
        raise InstanceError(f"{path}.queue_s[{j}]", f"{queue[j]} must be a finite delay in [0, {RANGES['queue_s'][1]:g}] s")
    if slot.device_positions is not None:
        pos = np.asarray(slot.device_positions, dtype=float)
        if pos.shape != (m, 3):
            raise InstanceError(f"{path}.device_positions", f"expected shape ({m}, 3), got {pos.shape}")
        if not np.all(np.isfinite(pos)):
            idx = _first_bad(~np.isfinite(pos))
            raise InstanceError(_index(f"{path}.device_positions", idx), "must be finite (metres)")
    if len(slot.tasks) != m:
        raise InstanceError(f"{path}.tasks", f"expected {m} tasks (one per device), got {len(slot.tasks)}")
    for i, task in enumerate(slot.tasks):
        for key, kind in (("bits", "bits"), ("flops_device", "task_flops"), ("flops_server", "task_flops")):
            _in_range(getattr(task, key), kind, f"{path}.tasks[{i}].{key}")


def dumps_instance(instance: Instance) -> str:
    """The instance as a JSON string (compact)."""
    return dumps_json(instance.to_dict(), indent=None)
