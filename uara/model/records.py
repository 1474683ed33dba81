"""The records of a P1 instance (docs/model.md gives the symbols): system parameters :class:`Params`
(with the named :data:`PARAMETER_SETS`), :class:`Device`, :class:`Server`, :class:`Task` and the
per-slot state :class:`Slot`, each with its parser from the JSON mapping (``*_from_dict``: types,
keys and shapes; the ranges are checked by :mod:`uara.model.instance_checks`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, fields, replace
from typing import Any, Mapping

import numpy as np

from uara.errors import InstanceError
from uara.model.instance_checks import check_params
from uara.model.shared.server_model import SERVER_HARDWARE_KEYS, SERVER_MODELS
from uara.model.shared.validation import check_array, check_in_range, check_keys, check_list, check_number, check_string


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
        server_model: how the latency simulator's servers verify (docs/server.md): ``reserved`` (the
            paper's accounting: each device alone on its compute share z_ij F_j) or ``batched`` (a
            work-conserving server that batches every waiting request into each forward pass; the
            shares z are then not used). P1's objective does not depend on it.
        background_load: rho in [0, 0.95), the share of each server's time other tenants' requests
            would take served alone; under ``batched`` they arrive as a seeded Poisson stream and join
            passes (under ``reserved`` the builder's queues ``queue_s`` carry it as a start delay).
        The optional ones are written to JSON only when they differ from their defaults, so every file
        written before they existed keeps its bytes and fingerprint; ``server_model`` and
        ``background_load`` change only simulated latencies, never P1's value, and stay out of the
        fingerprint (a solution stays valid when either changes).
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
    server_model: str = "reserved"
    background_load: float = 0.0

    def with_changes(self, changes: Mapping[str, Any], where: str = "params") -> "Params":
        """A checked copy with some values changed (JSON keys: ``lambda`` names ``lambda_``).

        An unknown name, a value that is not a finite number or one out of its range is a
        one-line :class:`InstanceError` naming ``where.key``. The one way a mapping becomes
        parameters: the loader, ``Instance.with_params`` and the builder all use it.
        """
        if not isinstance(changes, Mapping):
            raise InstanceError(where, "must be a JSON object")
        check_keys(dict(changes), PARAM_KEYS, where)
        values = {("lambda_" if k == "lambda" else k): param_value(k, v, f"{where}.{k}") for k, v in changes.items()}
        new = replace(self, **values)
        check_params(new, where)
        return new

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: param_json(getattr(self, f.name)) for f in fields(self)}
        d["lambda"] = d.pop("lambda_")
        for key in OPTIONAL_PARAMS:  # files written before these existed stay byte-identical
            if d[key] == getattr(Params, key):
                del d[key]
        return d


#: Parameters written to JSON, and fingerprinted, only when they differ from their defaults.
OPTIONAL_PARAMS = ("min_snr_db", "noise_figure_db", "shannon_attenuation", "max_spectral_efficiency", "energy_model",
                   "server_model", "background_load")

#: Parameters that change simulated latencies only, not P1: left out of the instance fingerprint.
LATENCY_PARAMS = ("server_model", "background_load")

#: The values of ``Params.energy_model`` (docs/model.md, "Energy").
ENERGY_MODELS = ("paper", "physical")


#: Parameters whose values are names, not numbers, with the names each accepts.
STRING_PARAMS = {"energy_model": ("energy model", ENERGY_MODELS), "server_model": ("server model", SERVER_MODELS)}


def param_value(key: str, value: Any, path: str) -> Any:
    """A parameter's value from JSON: a name for :data:`STRING_PARAMS`, a finite number otherwise."""
    if key in STRING_PARAMS:
        what, names = STRING_PARAMS[key]
        text = check_string(value, path)
        if text not in names:
            raise InstanceError(path, f"unknown {what} {text!r}; choose one of: {', '.join(names)}")
        return text
    return check_number(value, path)


def param_json(value: Any) -> Any:
    return value if isinstance(value, str) else float(value)

#: Named parameter sets (docs/model.md, "Parameter sets", gives each value and its source).
#: ``paper-literal`` is the paper's Table I (delta_CP read as 1e-9 J/FLOP), pure Shannon, no noise
#: figure, eq. 8 as printed, tau = 1 s: the class defaults, also under its older name ``default``.
#: ``credible`` is what a wireless and LLM-serving reviewer would accept: a 5 dB base-station noise
#: figure, the attenuated and capped Shannon bound of 3GPP TR 36.942 Annex A (alpha 0.6, cap 7.4
#: b/s/Hz: NR's 256-QAM single-layer peak), links below -6 dB unusable, delta_CP = 1e-10 J/FLOP (a
#: phone drafting at 26-51 GFLOP/s draws 2.6-5.1 W), transmit energy P_i T_i, and a 10 s slot (one
#: request per device per 10 s; 95 % of tasks draft within it), and the batched work-conserving server for
#: simulated latencies (docs/server.md). ``paper-table1-literal`` keeps the printed
#: delta_CP = 1e9 for anyone who wants to see what it does (the compute-energy constant then dwarfs
#: everything; it changes no decision). ``latency-scale`` is ``credible`` with P1's terms on one scale
#: (docs/model.md, "P1 by its terms"): the sync penalty off (lambda = 1e-6 s^-2; it must stay positive,
#: the allocations complete a square with it) and energy priced at the phone's drafting power, w = 0.25 s/J
#: (1 / 4 W: a joule weighs the seconds a median catalog phone, 3.9 W, drafts on it).
_CREDIBLE = Params(noise_figure_db=5.0, shannon_attenuation=0.6, max_spectral_efficiency=7.4, min_snr_db=-6.0,
                   delta_cp_j_per_flop=1e-10, energy_model="physical", slot_s=10.0, server_model="batched")
#: lambda and w of the ``latency-scale`` set
LATENCY_SCALE_LAMBDA, LATENCY_SCALE_ENERGY_WEIGHT = 1e-6, 0.25
PARAMETER_SETS: dict[str, Params] = {
    "credible": _CREDIBLE,
    "latency-scale": replace(_CREDIBLE, lambda_=LATENCY_SCALE_LAMBDA, energy_weight=LATENCY_SCALE_ENERGY_WEIGHT),
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
    #: batched-server hardware (docs/server.md); None: the kind's entry in the hardware catalog
    memory_bytes: float | None = None
    memory_bandwidth_bytes_per_s: float | None = None
    pass_overhead_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "kind": self.kind, "flops": self.flops}
        if self.position is not None:
            d["position"] = [float(v) for v in self.position]
        for key in SERVER_HARDWARE_KEYS:
            if getattr(self, key) is not None:
                d[key] = float(getattr(self, key))
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


# ---------------------------------------------------------------------- parsing
PARAM_KEYS = {f.name if f.name != "lambda_" else "lambda" for f in fields(Params)}
TOP_KEYS = {"format", "name", "params", "devices", "servers", "slots", "provenance"}
DEVICE_KEYS = {"name", "kind", "flops", "tx_power_dbm", "battery_capacity_j"}
SERVER_KEYS = {"name", "kind", "flops", "position", *SERVER_HARDWARE_KEYS}
TASK_KEYS = {"type", "bits", "flops_device", "flops_server", "psd"}
#: what ``tasks[i].psd`` may hold (written by :mod:`uara.psd.workload.tasks`, read by :mod:`uara.psd.latency`)
PSD_KEYS = {"profile", "trace_seed", "trace_index", "output_tokens", "prompt_tokens", "mode", "draft_length",
            "pre_verify", "stream_uplink", "protocol", "vocab", "alpha", "draft_flops_per_token",
            "target_flops_per_token", "bits_per_draft_token", "drafted_tokens", "verified_positions", "rounds"}
SLOT_KEYS = {"gain_db", "battery", "queue_s", "tasks", "device_positions"}


def params_from_dict(raw: Any) -> Params:
    return Params().with_changes(raw)


def device_from_dict(raw: Any, path: str) -> Device:
    if not isinstance(raw, dict):
        raise InstanceError(path, "must be a JSON object")
    check_keys(raw, DEVICE_KEYS, path)
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


def server_from_dict(raw: Any, path: str) -> Server:
    if not isinstance(raw, dict):
        raise InstanceError(path, "must be a JSON object")
    check_keys(raw, SERVER_KEYS, path)
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
        **{key: check_in_range(check_number(raw[key], f"{path}.{key}"), f"{path}.{key}", *bounds)
           for key, bounds in SERVER_HARDWARE_KEYS.items() if key in raw},
    )


def task_from_dict(raw: Any, path: str) -> Task:
    if not isinstance(raw, dict):
        raise InstanceError(path, "must be a JSON object")
    check_keys(raw, TASK_KEYS, path)
    for key in ("bits", "flops_device", "flops_server"):
        if key not in raw:
            raise InstanceError(f"{path}.{key}", "missing")
    psd = raw.get("psd")
    if psd is not None and not isinstance(psd, dict):
        raise InstanceError(f"{path}.psd", "must be a JSON object or absent")
    if psd is not None:
        check_keys(psd, PSD_KEYS, f"{path}.psd")
    return Task(
        type=check_string(raw.get("type", "chat"), f"{path}.type"),
        bits=check_number(raw["bits"], f"{path}.bits"),
        flops_device=check_number(raw["flops_device"], f"{path}.flops_device"),
        flops_server=check_number(raw["flops_server"], f"{path}.flops_server"),
        psd=psd,
    )


def slot_from_dict(raw: Any, path: str, m: int, e: int) -> Slot:
    if not isinstance(raw, dict):
        raise InstanceError(path, "must be a JSON object")
    check_keys(raw, SLOT_KEYS, path)
    for key in ("gain_db", "battery", "queue_s", "tasks"):
        if key not in raw:
            raise InstanceError(f"{path}.{key}", "missing")
    gain = check_array(raw["gain_db"], f"{path}.gain_db", shape=(m, e))
    battery = check_array(raw["battery"], f"{path}.battery", shape=(m,))
    queue = check_array(raw["queue_s"], f"{path}.queue_s", shape=(e,))
    pos = raw.get("device_positions")
    positions = None if pos is None else check_array(pos, f"{path}.device_positions", shape=(m, 3))
    tasks_raw = check_list(raw["tasks"], f"{path}.tasks", length=m)
    tasks = [task_from_dict(tk, f"{path}.tasks[{i}]") for i, tk in enumerate(tasks_raw)]
    return Slot(gain_db=gain, battery=battery, queue_s=queue, tasks=tasks, device_positions=positions)


