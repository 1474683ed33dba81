"""BuildSpec: everything an instance build depends on, stated once.

:func:`uara.scenario.builder.build_instance` takes it, ``provenance["build"]``
records it (resolved: every channel option and parameter written out, so a
rebuild does not depend on a later version's defaults), and ``uara build``
generates its flags from the fields' metadata (:func:`add_arguments`,
:func:`from_arguments`). A field added here is recorded, rebuilt and offered on
the command line with no other change.

The defaults are the *credible* scenario (docs/model.md, "Parameter sets"):
parameter set ``credible``, the coverage rule at -6 dB, token-id payloads with a
40-byte header per round and draft length 4, Lindley queues with 30 % background
load. :data:`PRESETS` names whole specs: ``credible`` (the defaults) and
``paper-literal`` (Table I as printed, pure Shannon, eq. 8, the Fig. 2 payload,
uniform queues); ``uara build --preset NAME`` and :meth:`BuildSpec.preset`.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import MISSING, dataclass, field, fields, replace
from typing import Any, Mapping

import numpy as np

from uara.model.shared.formats import CATALOG_FORMAT
from uara.errors import UaraError
from uara.io import parse_key_values
from uara.model.instance import PARAMETER_SETS, Params


def _cli(*flags: str, kind: str = "value", help: str, metavar: str | None = None) -> dict[str, Any]:
    """Field metadata: how ``uara build`` offers the field (kind: value, pair, list, kv, params)."""
    return {"flags": flags, "kind": kind, "help": help, "metavar": metavar}


#: The largest sizes a build accepts (a recorded provenance is data, not a promise: a record claiming
#: 10^8 devices is refused, not run); seeds are numpy SeedSequence entropy below 2^63.
SIZE_LIMITS = {"devices": 100_000, "servers": 1_000, "slots": 10_000, "max_resample": 1_000, "seed": 2**63 - 1}
#: The most channel gains (devices x servers x slots) one build computes.
MAX_GAINS = 100_000_000


@dataclass(frozen=True)
class BuildSpec:
    """The inputs of one build (module docstring); units in the field names or help texts."""

    devices: int = field(default=60, metadata=_cli("--devices", "-m", help="M, number of devices (default 60)"))
    servers: int = field(default=8, metadata=_cli("--servers", "-e", help="E, number of edge servers (default 8)"))
    slots: int = field(default=10, metadata=_cli("--slots", "-t", help="T, number of time slots (default 10)"))
    channel: str = field(default="sionna-rt", metadata=_cli(
        "--channel", help="sionna-rt (default), sionna-umi, sionna-uma or free-space"))
    scene: str | None = field(default=None, metadata=_cli(
        "--scene", help="Sionna RT scene: built-in name (etoile, munich, florence, simple_street_canyon, ...) or "
                        "XML file (default etoile)"))
    seed: int = field(default=0, metadata=_cli("--seed", help="seed of every random draw (default 0)"))
    channel_options: Mapping[str, Any] = field(default_factory=dict, metadata=_cli(
        "--channel-option", "-c", kind="kv", metavar="KEY=VALUE",
        help="channel option, repeatable (e.g. samples_per_src=300000, diffraction=false, threads=0)"))
    catalog: str | None = field(default=None, metadata=_cli(
        "--catalog", metavar="FILE", help=f"hardware catalog ({CATALOG_FORMAT}); default built-in"))
    device_kinds: tuple[str, ...] | None = field(default=None, metadata=_cli(
        "--device-kinds", kind="list", metavar="K1,K2", help="restrict device kinds (catalog names)"))
    server_kinds: tuple[str, ...] | None = field(default=None, metadata=_cli(
        "--server-kinds", kind="list", metavar="K1,K2", help="restrict server kinds (catalog names)"))
    tasks: str = field(default="psd", metadata=_cli(
        "--tasks", help="task sampler: psd (default; PSD profiles of uara.psd) or parametric "
                        "(uara/scenario/task_sources.py)"))
    task_options: Mapping[str, Any] = field(default_factory=lambda: dict(PSD_TASK_DEFAULTS), metadata=_cli(
        "--task-option", kind="kv", metavar="KEY=VALUE",
        help="task sampler option, repeatable (psd: profiles=gpt2, protocol=topk:64, draft_length=8, ...; "
             "default for psd: protocol=ids+h320, draft_length=4)"))
    params: Any = field(default=None, metadata=_cli(
        "--params", kind="params", metavar="SET",
        help="named parameter set (credible [default], paper-literal, default = the paper's Table I with "
             "delta_CP = 1e-9); --param KEY=VALUE overrides one parameter "
             "(bandwidth_hz, lambda, energy_weight, slot_s, energy_model, ...), repeatable"))
    speed_mps: tuple[float, float] = field(default=(0.5, 1.5), metadata=_cli(
        "--speed", kind="pair", metavar="LOW,HIGH", help="device speed range in m/s (default 0.5,1.5; 0 keeps devices still)"))
    waypoint_radius_m: float = field(default=100.0, metadata=_cli(
        "--waypoint-radius", metavar="M", help="random-waypoint radius in m (default 100)"))
    battery_range: tuple[float, float] = field(default=(0.2, 1.0), metadata=_cli(
        "--battery-range", kind="pair", metavar="LOW,HIGH", help="slot-0 battery level range in (0, 1] (default 0.2,1)"))
    queue_max_s: float = field(default=0.05, metadata=_cli(
        "--queue-max", metavar="S", help="queue_model uniform: upper bound of the per-slot queueing delay in s "
                                         "(default 0.05)"))
    queue_model: str = field(default="background", metadata=_cli(
        "--queue-model", help="background (default: each server's backlog follows the Lindley recursion of other "
                              "tenants' work alone, the same whatever method runs), lindley (the Max-SINR-induced "
                              "backlog: the load under the Max-SINR association plus background work) or uniform "
                              "(U[0, queue_max_s])"))
    background_load: float = field(default=0.3, metadata=_cli(
        "--background-load", metavar="RHO", help="queue_model background or lindley: other tenants' work per slot, "
                                                 "exponential with mean RHO tau (default 0.3); also written as "
                                                 "params.background_load, the batched server's background stream"))
    max_resample: int = field(default=10, metadata=_cli(
        "--max-resample", help="rounds of new slot-0 positions for devices that reach no server before dropping them"))
    name: str | None = field(default=None, metadata=_cli("--name", help="instance name (default m{M}_e{E})"))
    min_coverage_snr_db: float | None = field(default=-6.0, metadata=_cli(
        "--min-coverage-snr", metavar="DB",
        help="coverage rule: a device is in coverage when its best server's SNR (with the parameters' noise "
             "figure) is at least DB (NR decodes down to about -6 dB); slot-0 positions outside are resampled and "
             "moves that would leave coverage are held (default -6; 'none' turns the rule off: only a "
             "propagation path is required)"))

    def __post_init__(self) -> None:
        # the psd sampler's default options mean nothing to another sampler
        if self.tasks != "psd" and dict(self.task_options) == PSD_TASK_DEFAULTS:
            object.__setattr__(self, "task_options", {})

    @classmethod
    def preset(cls, preset: str, /, **changes: Any) -> "BuildSpec":
        """The named spec of :data:`PRESETS` with some fields changed (``BuildSpec.preset('paper-literal', devices=30)``)."""
        if preset not in PRESETS:
            raise UaraError(f"preset: unknown preset {preset!r}; known: {', '.join(PRESETS)}")
        return cls(**{**PRESETS[preset], **changes})

    # ------------------------------------------------------------ checks
    def validate(self) -> "BuildSpec":
        """Raise a one-line :class:`UaraError` naming the first bad field; return self."""
        for key, lo in (("devices", 1), ("servers", 1), ("slots", 1), ("max_resample", 0), ("seed", 0)):
            val = getattr(self, key)
            if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < lo:
                raise UaraError(f"{key}: expected an integer >= {lo}, got {val!r}")
            if val > SIZE_LIMITS[key]:
                raise UaraError(f"{key}: {val} is more than {SIZE_LIMITS[key]:,} (the largest build uara accepts)")
        gains = self.devices * self.servers * self.slots
        if gains > MAX_GAINS:
            raise UaraError(f"devices x servers x slots: {gains:,} channel gains to compute is more than {MAX_GAINS:,}")
        lo_b, hi_b = _pair_of(self.battery_range, "battery_range")
        if not 0 < lo_b <= hi_b <= 1:
            raise UaraError(f"battery_range: expected 0 < low <= high <= 1, got {tuple(self.battery_range)!r}")
        lo_v, hi_v = _pair_of(self.speed_mps, "speed_mps")
        if not 0 <= lo_v <= hi_v:
            raise UaraError(f"speed_mps: expected 0 <= low <= high in m/s, got {tuple(self.speed_mps)!r}")
        if self.queue_model not in QUEUE_MODELS:
            raise UaraError(f"queue_model: expected one of {', '.join(QUEUE_MODELS)}, got {self.queue_model!r}")
        for key in ("queue_max_s", "waypoint_radius_m", "background_load"):
            val = getattr(self, key)
            if isinstance(val, bool) or not isinstance(val, (int, float)) or not math.isfinite(val) or val < 0:
                raise UaraError(f"{key}: expected a finite number >= 0, got {val!r}")
        cov = self.min_coverage_snr_db
        if cov is not None and (isinstance(cov, bool) or not isinstance(cov, (int, float)) or not math.isfinite(cov)):
            raise UaraError(f"min_coverage_snr_db: expected a number of dB or None, got {cov!r}")
        if self.scene is not None and self.channel != "sionna-rt":
            raise UaraError(f"scene: only the sionna-rt channel uses a scene (channel is {self.channel!r})")
        for key in ("channel_options", "task_options"):
            if not isinstance(getattr(self, key), Mapping):
                raise UaraError(f"{key}: expected a mapping of options, got {getattr(self, key)!r}")
        params_from(self.params)
        return self

    # ------------------------------------------------------------ records
    def to_dict(self) -> dict[str, Any]:
        """The JSON form, in field order (``provenance["build"]`` records the resolved spec)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            val = getattr(self, f.name)
            if f.name in ("device_kinds", "server_kinds"):
                val = list(val) if val else None
            elif f.name in ("speed_mps", "battery_range"):
                val = [float(v) for v in val]
            elif f.name in ("channel_options", "task_options"):
                val = dict(val)
            elif f.name in ("waypoint_radius_m", "queue_max_s", "background_load"):
                if f.name == "background_load" and self.queue_model == "uniform":
                    continue  # recorded only with Lindley queues: specs from before they existed stay identical
                val = float(val)
            elif f.name == "queue_model" and val == "uniform":
                continue
            elif f.name == "params" and isinstance(val, Params):
                val = val.to_dict()
            elif f.name == "min_coverage_snr_db":
                if val is None:
                    continue  # off: not recorded, so specs written before the rule existed stay identical
                val = float(val)
            out[f.name] = val
        return out

    @classmethod
    def from_record(cls, data: Mapping[str, Any], where: str = "provenance.build") -> "BuildSpec":
        """A spec from a recorded ``provenance["build"]``: a key the record lacks takes the value it had before
        the key existed (:data:`RECORD_DEFAULTS`), not today's default, so old files rebuild as they were built."""
        spec = cls.from_dict({**RECORD_DEFAULTS, **data}, where=where)
        if isinstance(spec.params, Mapping):  # a record writes Params.to_dict(): values relative to Params()
            spec = replace(spec, params=Params().with_changes(spec.params, where=f"{where}.params"))
        return spec

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "build") -> "BuildSpec":
        """A spec from its JSON form; an unknown key is a one-line error naming it."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise UaraError(f"{where}.{unknown[0]}: unknown build option (known: {', '.join(sorted(names))})")
        vals = dict(data)
        for key in ("channel_options", "task_options"):
            if vals.get(key) is None:
                vals.pop(key, None)  # None: no options
        for key in ("device_kinds", "server_kinds"):
            if vals.get(key):
                vals[key] = tuple(vals[key])
        for key in ("speed_mps", "battery_range"):
            if key in vals:
                vals[key] = tuple(vals[key])
        return cls(**vals)

    def resolved(self, *, scene: str | None, channel_options: Mapping[str, Any], params: Params) -> "BuildSpec":
        """The spec as recorded: the provider's resolved options and the full parameter set written out."""
        return replace(self, scene=scene, channel_options=dict(channel_options), params=params.to_dict())


#: The psd task sampler's options in the credible default: token ids plus a 320-bit (40-byte: IPv4 + UDP + RTP-like)
#: header per message, draft length 4 (docs/model.md, "Parameter sets": the PSD simulator's best gamma at the
#: credible speeds, PEARL's rule gamma ~ round time / draft time per token).
PSD_TASK_DEFAULTS: dict[str, Any] = {"protocol": "ids+h320", "draft_length": 4}

QUEUE_MODELS = ("background", "lindley", "uniform")

#: The parameter set of a spec that names none (and the base of a dict of overrides).
DEFAULT_PARAMETER_SET = "credible"

#: Values of keys a recorded build spec may lack: what they were before the key existed.
RECORD_DEFAULTS: dict[str, Any] = {"min_coverage_snr_db": None, "queue_model": "uniform"}

#: Named build specs (field -> value); ``credible`` is the defaults.
PRESETS: dict[str, dict[str, Any]] = {
    "credible": {},
    "paper-literal": {"params": "paper-literal", "task_options": {}, "min_coverage_snr_db": None,
                      "queue_model": "uniform"},
}


def params_from(value: Any) -> Params:
    """:class:`Params` from a Params, a parameter-set name, a dict of overrides of the default set
    (``credible``), or None (the default set)."""
    if value is None:
        return PARAMETER_SETS[DEFAULT_PARAMETER_SET]
    if isinstance(value, Params):
        return value
    if isinstance(value, str):
        if value not in PARAMETER_SETS:
            raise UaraError(f"params: unknown parameter set {value!r}; known: {', '.join(PARAMETER_SETS)}")
        return PARAMETER_SETS[value]
    if isinstance(value, Mapping):
        return PARAMETER_SETS[DEFAULT_PARAMETER_SET].with_changes(value)
    raise UaraError(f"params: expected a Params, a parameter-set name or a dict, got {type(value).__name__}")


def _pair_of(value: Any, key: str) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise UaraError(f"{key}: expected (low, high), got {value!r}") from None
    return lo, hi


# ---------------------------------------------------------------- command line
def _pair_arg(text: str) -> tuple[float, float]:
    parts = text.split(",")
    try:
        vals = tuple(float(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LOW,HIGH numbers, got {text!r}") from None
    if len(vals) == 1:
        vals = (vals[0], vals[0])
    if len(vals) != 2:
        raise argparse.ArgumentTypeError(f"expected LOW,HIGH, got {text!r}")
    return vals  # type: ignore[return-value]


def _float_or_none(text: str) -> float | str:
    if text.strip().lower() in ("none", "off"):
        return "none"
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of dB or 'none', got {text!r}") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One flag per :class:`BuildSpec` field (from its metadata), plus ``--preset``; defaults are left to the spec."""
    parser.add_argument("--preset", dest="spec_preset", default=None, choices=list(PRESETS),
                        help="named build spec: credible (the defaults) or paper-literal (Table I as printed, "
                             "pure Shannon, eq. 8, Fig. 2 payload, uniform queues); other flags change it")
    for f in fields(BuildSpec):
        meta = f.metadata
        kind = meta["kind"]
        kw: dict[str, Any] = {"dest": f"spec_{f.name}", "help": meta["help"], "default": None,
                              "metavar": meta.get("metavar") or f.name.upper()}
        if f.name == "min_coverage_snr_db":
            kw["type"] = _float_or_none
        elif kind == "value":
            kw["type"] = {"int": int, "float": float}.get(str(f.type).split(" ")[0], str)
        elif kind == "pair":
            kw["type"] = _pair_arg
        elif kind == "kv":
            kw["action"] = "append"
        parser.add_argument(*meta["flags"], **kw)
        if kind == "params":
            parser.add_argument("--param", action="append", metavar="KEY=VALUE", dest="spec_param_overrides",
                                help="override one parameter of --params, repeatable")


def from_arguments(args: argparse.Namespace) -> BuildSpec:
    """The spec the flags of :func:`add_arguments` describe (unset flags keep the preset's values)."""
    values: dict[str, Any] = dict(PRESETS[getattr(args, "spec_preset", None) or "credible"])
    for f in fields(BuildSpec):
        raw = getattr(args, f"spec_{f.name}", None)
        kind = f.metadata["kind"]
        if kind == "kv":
            raw = parse_key_values(raw, f.metadata["flags"][0]) if raw else None
        elif kind == "list" and raw is not None:
            raw = tuple(k.strip() for k in raw.split(",") if k.strip())
        if raw is not None:
            values[f.name] = None if raw == "none" and f.name == "min_coverage_snr_db" else raw
    overrides = parse_key_values(getattr(args, "spec_param_overrides", None), "--param")
    if overrides:
        values["params"] = params_from(values.get("params", spec_default("params"))).with_changes(overrides)
    return BuildSpec(**values)


def spec_default(name: str) -> Any:
    """The default of a field (for documentation and tests)."""
    f = next(f for f in fields(BuildSpec) if f.name == name)
    return f.default_factory() if f.default is MISSING else f.default  # type: ignore[misc]


__all__ = ["BuildSpec", "add_arguments", "from_arguments", "params_from", "spec_default"]
