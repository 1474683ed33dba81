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
naming the JSON path of the first bad value (``slots[3].gain_db[12][4]: NaN``): the records and
their parsers are in :mod:`uara.model.records`, the range checks in :mod:`uara.model.instance_checks`,
the generic field checks in :mod:`uara.model.shared.validation`.
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
from uara.model.instance_checks import check_device, check_params, check_server, check_slot, check_unique_names
from uara.model.records import (LATENCY_PARAMS, OPTIONAL_PARAMS, PARAMETER_SETS, STRING_PARAMS, TOP_KEYS, Device, Params, Server, Slot,
                                Task, device_from_dict, param_json, params_from_dict, server_from_dict, slot_from_dict)
from uara.model.shared.formats import INSTANCE_FORMAT
from uara.model.shared.validation import check_keys, check_list, check_string, load_instance_file

__all__ = ["PARAMETER_SETS", "STRING_PARAMS", "Device", "Instance", "Params", "Server", "Slot", "Task", "dumps_instance"]


def _params_label(params: Params) -> str:
    """The nearest named parameter set and what differs from it, e.g. ``credible + background_load=0.3``."""
    from dataclasses import fields as _fields

    def diff(ref: Params) -> list[str]:
        return [f"{f.name.rstrip('_')}={getattr(params, f.name)!r}" for f in _fields(Params)
                if getattr(params, f.name) != getattr(ref, f.name)]

    name, ref = min(((k, v) for k, v in PARAMETER_SETS.items() if k != "default"), key=lambda kv: len(diff(kv[1])))
    extra = diff(ref)
    return name if not extra else f"{name} + {', '.join(extra[:3])}{', ...' if len(extra) > 3 else ''}"


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

    def __repr__(self) -> str:
        """One line: name, sizes, the parameter set it matches (or "custom") and the fingerprint."""
        return (f"Instance({self.name!r}: {self.num_devices} devices, {self.num_servers} servers, "
                f"{self.num_slots} slots, params {_params_label(self.params)}, fingerprint {self.fingerprint()})")

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
    def device_flop_rate(self) -> np.ndarray:
        """F_i^MD, shape (M,), FLOP/s (a device's speed; a task's work is ``Task.flops_device``, FLOP)."""
        return np.array([d.flops for d in self.devices], dtype=float)

    @property
    def server_flop_rate(self) -> np.ndarray:
        """F_j^ES, shape (E,), FLOP/s (a server's speed)."""
        return np.array([s.flops for s in self.servers], dtype=float)

    @property
    def device_flops(self) -> np.ndarray:
        """Deprecated alias of :attr:`device_flop_rate` (FLOP/s)."""
        return self.device_flop_rate

    @property
    def server_flops(self) -> np.ndarray:
        """Deprecated alias of :attr:`server_flop_rate` (FLOP/s)."""
        return self.server_flop_rate

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
        d["params"] = {f.name: param_json(getattr(self.params, f.name)) for f in fields(self.params)  # defaults too,
                       if f.name not in LATENCY_PARAMS and (
                           f.name in ("min_snr_db",) or f.name not in OPTIONAL_PARAMS  # except the newer ones
                           or getattr(self.params, f.name) != getattr(Params, f.name))}
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
        check_keys(data, TOP_KEYS, "")
        name = check_string(data.get("name", "instance"), "name")

        params = params_from_dict(data.get("params", {}))
        devices_raw = check_list(data.get("devices"), "devices", min_len=1)
        devices = [device_from_dict(d, f"devices[{i}]") for i, d in enumerate(devices_raw)]
        servers_raw = check_list(data.get("servers"), "servers", min_len=1)
        servers = [server_from_dict(s, f"servers[{j}]") for j, s in enumerate(servers_raw)]
        m, e = len(devices), len(servers)
        slots_raw = check_list(data.get("slots"), "slots", min_len=1)
        slots = [slot_from_dict(s, f"slots[{t}]", m, e) for t, s in enumerate(slots_raw)]
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
        check_params(self.params)
        m, e = self.num_devices, self.num_servers
        if m < 1:
            raise InstanceError("devices", "needs at least one device (M >= 1)")
        if e < 1:
            raise InstanceError("servers", "needs at least one server (E >= 1)")
        if not self.slots:
            raise InstanceError("slots", "needs at least one slot")
        check_unique_names(self.devices, "devices")
        check_unique_names(self.servers, "servers")
        for i, d in enumerate(self.devices):
            check_device(d, f"devices[{i}]")
        for j, s in enumerate(self.servers):
            check_server(s, f"servers[{j}]")
        for t, slot in enumerate(self.slots):
            check_slot(slot, f"slots[{t}]", m, e, self.params.gain_floor_db, self.devices)
        return self

    # ------------------------------------------------------------------ builders
    @classmethod
    def from_arrays(
        cls,
        *,
        gain_db: np.ndarray,
        device_flop_rate: Sequence[float] | np.ndarray | float | None = None,
        server_flop_rate: Sequence[float] | np.ndarray | float | None = None,
        tx_power_dbm: Sequence[float] | np.ndarray | float,
        bits: Sequence[float] | np.ndarray | float,
        device_work_flop: Sequence[float] | np.ndarray | float | None = None,
        server_work_flop: Sequence[float] | np.ndarray | float | None = None,
        battery: Sequence[float] | np.ndarray | float = 1.0,
        queue_s: Sequence[float] | np.ndarray | float = 0.0,
        battery_capacity_j: Sequence[float] | np.ndarray | float = 54000.0,
        task_types: Sequence[str] | str = "chat",
        preset: str = "credible",
        params: Params | str | None = None,
        name: str = "custom",
        provenance: Mapping[str, Any] | None = None,
        **deprecated: Any,
    ) -> "Instance":
        """Build a one-slot instance from arrays (shapes (M, E) for ``gain_db``,
        (M,) per device, (E,) per server; scalars broadcast). Validated.

        Speeds and work have distinct names: ``device_flop_rate`` F_i^MD and ``server_flop_rate`` F_j^ES
        in FLOP/s; ``device_work_flop`` f_i^MD (the draft's work on the device) and ``server_work_flop``
        f_i^ES (the verification's work on the server) in FLOP per task. The old names ``device_flops``,
        ``server_flops``, ``flops_device`` and ``flops_server`` still work (DeprecationWarning).

        ``preset``: the parameter set (one of :data:`PARAMETER_SETS`); the default ``"credible"`` is what
        ``uara build`` uses (docs/model.md), ``"paper-literal"`` the paper's Table I as printed (delta_CP
        1e-9 J/FLOP, tau 1 s, pure Shannon, no noise figure, eq. 8 energy). ``params`` (a :class:`Params`
        or a set's name) overrides ``preset``. ``repr`` names the set the parameters match."""
        rates = _renamed(deprecated, device_flop_rate=device_flop_rate, server_flop_rate=server_flop_rate,
                         device_work_flop=device_work_flop, server_work_flop=server_work_flop)
        device_flops, server_flops = rates["device_flop_rate"], rates["server_flop_rate"]
        flops_device, flops_server = rates["device_work_flop"], rates["server_work_flop"]
        chosen = preset if params is None else params
        if isinstance(chosen, str):
            if chosen not in PARAMETER_SETS:
                what = "preset" if params is None else "params"
                raise InstanceError(what, f"unknown parameter set {chosen!r}; known: {', '.join(PARAMETER_SETS)}")
            chosen = PARAMETER_SETS[chosen]
        params = chosen
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
        inst = cls(name, params, devices, servers, [slot], dict(provenance or {"source": "from_arrays"}))
        return inst.validate()

    def with_params(self, **changes: Any) -> "Instance":
        """A copy with some parameters changed (e.g. ``energy_weight=100``; ``lambda`` or ``lambda_``)."""
        if "lambda_" in changes:
            changes["lambda"] = changes.pop("lambda_")
        return replace(self, params=self.params.with_changes(changes), slots=list(self.slots))

    def slot_subset(self, slot_indices: Sequence[int]) -> "Instance":
        """A copy holding only the given slots."""
        return replace(self, slots=[self.slots[t] for t in slot_indices])


#: from_arrays' old argument names -> the new ones (speed in FLOP/s vs work in FLOP)
_OLD_NAMES = {"device_flops": "device_flop_rate", "server_flops": "server_flop_rate",
              "flops_device": "device_work_flop", "flops_server": "server_work_flop"}


def _renamed(old: dict[str, Any], **new: Any) -> dict[str, Any]:
    """The four speed/work arguments of :meth:`Instance.from_arrays`, taking the deprecated names too."""
    import warnings

    for key, value in old.items():
        if key not in _OLD_NAMES:
            raise TypeError(f"from_arrays() got an unexpected keyword argument {key!r}")
        if new[_OLD_NAMES[key]] is not None:
            raise InstanceError(key, f"given together with its new name {_OLD_NAMES[key]}")
        warnings.warn(f"from_arrays({key}=...) is deprecated; use {_OLD_NAMES[key]}", DeprecationWarning, stacklevel=3)
        new[_OLD_NAMES[key]] = value
    for key, value in new.items():
        if value is None:
            raise InstanceError(key, "required (FLOP/s for the *_flop_rate arguments, FLOP per task for *_work_flop)")
    return new


def dumps_instance(instance: Instance) -> str:
    """The instance as a JSON string (compact)."""
    return dumps_json(instance.to_dict(), indent=None)
