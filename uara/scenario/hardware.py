"""Hardware catalog: device and server kinds with effective FLOP/s, transmit power, battery.

The built-in catalog is ``uara/scenario/data/hardware.json`` (format
``CATALOG_FORMAT``): Galaxy S23, iPhone 14, Mate 60 and RTX 2080/3090/4090,
each with the derivation of its effective FLOP/s and its sources. A user
catalog is any file in the same format::

    {"format": CATALOG_FORMAT,   # the tag of uara.model.shared.formats
     "devices": {"my_phone": {"flops": 3e10, "tx_power_dbm": [16, 23],
                              "battery_capacity_j": 50000, "weight": 1}},
     "servers": {"my_gpu": {"flops": 2e13, "weight": 1, "memory_bytes": 2.4e10,
                            "memory_bandwidth_bytes_per_s": 1e12, "pass_overhead_s": 0.004}}}

Units: ``flops`` FLOP/s, ``tx_power_dbm`` dBm (a [low, high] range),
``battery_capacity_j`` J; ``memory_bytes`` B, ``memory_bandwidth_bytes_per_s`` B/s and
``pass_overhead_s`` s (optional: the batched server model, docs/server.md); ``weight`` is the relative frequency of a kind
when kinds are drawn at random (:meth:`Catalog.draw_devices`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from uara.errors import UaraError
from uara.model.instance import Device, Server

from uara.model.shared.formats import CATALOG_FORMAT  # noqa: E402
BUILTIN_CATALOG = Path(__file__).resolve().parent / "data" / "hardware.json"


@dataclass(frozen=True)
class DeviceKind:
    """A phone model: effective draft FLOP/s, transmit power range (dBm), battery (J)."""

    name: str
    flops: float
    tx_power_dbm: tuple[float, float]
    battery_capacity_j: float
    weight: float = 1.0
    label: str = ""


@dataclass(frozen=True)
class ServerKind:
    """An edge GPU: effective verification FLOP/s."""

    name: str
    flops: float
    weight: float = 1.0
    label: str = ""


@dataclass(frozen=True)
class Catalog:
    """Device and server kinds, plus where they came from (path and SHA-256 of the file)."""

    devices: Mapping[str, DeviceKind]
    servers: Mapping[str, ServerKind]
    source: str
    sha256: str
    raw: Mapping[str, Any]

    def draw_devices(self, n: int, rng: np.random.Generator, kinds: list[str] | None = None) -> list[Device]:
        """``n`` devices ``d0..d{n-1}``: kinds drawn by weight, tx power uniform in the kind's range (0.1 dB)."""
        names = self._pick(self.devices, n, rng, kinds, "device")
        out = []
        for i, name in enumerate(names):
            kind = self.devices[name]
            lo, hi = kind.tx_power_dbm
            power = round(float(rng.uniform(lo, hi)), 1)
            out.append(Device(f"d{i}", name, kind.flops, power, kind.battery_capacity_j))
        return out

    def draw_servers(self, n: int, rng: np.random.Generator, positions: np.ndarray | None = None,
                     kinds: list[str] | None = None) -> list[Server]:
        """``n`` servers ``s0..s{n-1}`` with kinds drawn by weight; ``positions`` (n, 3) metres if given."""
        names = self._pick(self.servers, n, rng, kinds, "server")
        out = []
        for j, name in enumerate(names):
            pos = None if positions is None else tuple(float(v) for v in positions[j])
            out.append(Server(f"s{j}", name, self.servers[name].flops, pos))
        return out

    @staticmethod
    def _pick(table: Mapping[str, Any], n: int, rng: np.random.Generator, kinds: list[str] | None,
              what: str) -> list[str]:
        names = list(kinds) if kinds else list(table)
        for name in names:
            if name not in table:
                raise UaraError(f"{what} kind {name!r} is not in the catalog; known: {', '.join(table)}")
        weights = np.array([table[k].weight for k in names], dtype=float)
        if weights.sum() <= 0:
            raise UaraError(f"catalog: the {what} kinds {names} all have weight 0")
        idx = rng.choice(len(names), size=n, p=weights / weights.sum())
        return [names[k] for k in idx]


def _number(raw: Mapping[str, Any], key: str, path: str, positive: bool = True) -> float:
    if key not in raw:
        raise UaraError(f"catalog {path}.{key}: missing")
    val = raw[key]
    if isinstance(val, bool) or not isinstance(val, (int, float)) or not np.isfinite(val):
        raise UaraError(f"catalog {path}.{key}: expected a finite number, got {val!r}")
    if positive and val <= 0:
        raise UaraError(f"catalog {path}.{key}: must be > 0, got {val!r}")
    return float(val)


def parse_catalog(data: Any, source: str = "<dict>", sha256: str = "") -> Catalog:
    """Validate a ``CATALOG_FORMAT`` object; errors name the field (``catalog devices.x.flops: ...``)."""
    if not isinstance(data, dict):
        raise UaraError(f"catalog {source}: expected a JSON object")
    if data.get("format") != CATALOG_FORMAT:
        raise UaraError(f"catalog format: expected '{CATALOG_FORMAT}', got {data.get('format')!r} ({source})")
    devices: dict[str, DeviceKind] = {}
    servers: dict[str, ServerKind] = {}
    for section in ("devices", "servers"):
        table = data.get(section)
        if not isinstance(table, dict) or not table:
            raise UaraError(f"catalog {section}: expected a non-empty object of kinds ({source})")
    for name, raw in data["devices"].items():
        path = f"devices.{name}"
        if not isinstance(raw, dict):
            raise UaraError(f"catalog {path}: expected an object")
        power = raw.get("tx_power_dbm")
        if isinstance(power, (int, float)) and not isinstance(power, bool):
            power = [power, power]
        if (not isinstance(power, list) or len(power) != 2
                or not all(isinstance(v, (int, float)) and np.isfinite(v) for v in power) or power[0] > power[1]):
            raise UaraError(f"catalog {path}.tx_power_dbm: expected [low, high] in dBm, got {power!r}")
        if power[0] < 0 or power[1] > 40:
            raise UaraError(f"catalog {path}.tx_power_dbm: {power} is outside 0-40 dBm; is it in dBm?")
        devices[name] = DeviceKind(name, _number(raw, "flops", path), (float(power[0]), float(power[1])),
                                   _number(raw, "battery_capacity_j", path),
                                   _number(raw, "weight", path, positive=False) if "weight" in raw else 1.0,
                                   str(raw.get("label", "")))
    for name, raw in data["servers"].items():
        path = f"servers.{name}"
        if not isinstance(raw, dict):
            raise UaraError(f"catalog {path}: expected an object")
        for key in ("memory_bytes", "memory_bandwidth_bytes_per_s"):  # optional: the batched server model's
            if key in raw:
                _number(raw, key, path)
        if "pass_overhead_s" in raw:
            _number(raw, "pass_overhead_s", path, positive=False)
        servers[name] = ServerKind(name, _number(raw, "flops", path),
                                   _number(raw, "weight", path, positive=False) if "weight" in raw else 1.0,
                                   str(raw.get("label", "")))
    return Catalog(devices, servers, source, sha256, data)


def load_catalog(path: str | Path | None = None) -> Catalog:
    """The built-in catalog (``path=None``) or a user's ``CATALOG_FORMAT`` file."""
    p = BUILTIN_CATALOG if path is None else Path(path)
    if not p.is_file():
        raise UaraError(f"catalog file not found: {p}")
    data = p.read_bytes()
    try:
        obj = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UaraError(f"catalog {p}: malformed JSON ({exc})") from None
    source = "builtin" if path is None else str(p)
    return parse_catalog(obj, source, hashlib.sha256(data).hexdigest())
