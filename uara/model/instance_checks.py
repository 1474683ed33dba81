"""Checks of a built P1 instance's values: physical ranges, shapes, finiteness, usable channels.

Each check raises :class:`uara.errors.InstanceError` naming the JSON path of the first bad value
(``slots[3].gain_db[12][4]: NaN``). They read the records' attributes only (duck-typed), so the
records (:mod:`uara.model.records`) and the instance (:mod:`uara.model.instance`) both call them.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from uara.errors import InstanceError
from uara.model.shared.validation import check_in_range as shared_check_in_range

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


def check_in_range(value: float, kind: str, path: str) -> None:
    """``value`` within :data:`RANGES` ``[kind]`` (finite, inclusive bounds)."""
    lo, hi, unit = RANGES[kind]
    shared_check_in_range(value, path, lo, hi, unit)


def check_positive(value: float, path: str, unit: str = "") -> None:
    """``value`` finite and > 0."""
    if not np.isfinite(value) or value <= 0:
        raise InstanceError(path, f"must be a positive finite number{unit}, got {value!r}")


def check_params(p: Any, where: str = "params") -> None:
    """The ranges of the system parameters (:class:`uara.model.records.Params`)."""
    check_in_range(p.bandwidth_hz, "bandwidth_hz", f"{where}.bandwidth_hz")
    check_positive(p.lambda_, f"{where}.lambda", " (the sync penalty is the only place uplink time enters P1)")
    check_positive(p.slot_s, f"{where}.slot_s", " (s)")
    for key in ("energy_weight", "delta_cp_j_per_flop", "delta_cm"):
        v = getattr(p, key)
        if not np.isfinite(v) or v < 0:
            raise InstanceError(f"{where}.{key}", f"must be a finite number >= 0, got {v!r}")
    for key in ("noise_dbm_per_hz", "gain_floor_db", "min_snr_db"):
        v = getattr(p, key)
        if not np.isfinite(v):
            raise InstanceError(f"{where}.{key}", f"must be finite, got {v!r}")
    if not -220.0 <= p.noise_dbm_per_hz <= -100.0:
        raise InstanceError(f"{where}.noise_dbm_per_hz", f"{p.noise_dbm_per_hz!r} dBm/Hz is outside [-220, -100] "
                                                        "(thermal noise is -174 dBm/Hz)")
    if not 0.0 <= p.noise_figure_db <= 30.0:
        raise InstanceError(f"{where}.noise_figure_db", f"must be in [0, 30] dB, got {p.noise_figure_db!r}")
    if not 0.0 < p.shannon_attenuation <= 1.0:
        raise InstanceError(f"{where}.shannon_attenuation", f"must be in (0, 1], got {p.shannon_attenuation!r}")
    if not 0.0 <= p.background_load < 0.95:
        raise InstanceError(f"{where}.background_load", f"must be in [0, 0.95) (a share of server time), got {p.background_load!r}")
    if not 0.0 <= p.max_spectral_efficiency <= 30.0:
        raise InstanceError(f"{where}.max_spectral_efficiency",
                            f"must be in [0, 30] b/s/Hz (0 = no cap), got {p.max_spectral_efficiency!r}")


def check_device(d: Any, path: str) -> None:
    """A device's compute speed, battery capacity and transmit power (dBm, in [0, 40])."""
    check_in_range(d.flops, "flops_per_s", f"{path}.flops")
    check_in_range(d.battery_capacity_j, "battery_capacity_j", f"{path}.battery_capacity_j")
    if not np.isfinite(d.tx_power_dbm):
        raise InstanceError(f"{path}.tx_power_dbm", f"must be finite, got {d.tx_power_dbm!r}")
    if d.tx_power_dbm < 0:
        raise InstanceError(
            f"{path}.tx_power_dbm",
            f"{d.tx_power_dbm} dBm is negative (below 1 mW); give the transmit power in dBm, phones use 16-24",
        )
    if d.tx_power_dbm > 40:
        raise InstanceError(f"{path}.tx_power_dbm", f"{d.tx_power_dbm} dBm is above 40 dBm (10 W); is it in dBm?")


def check_server(s: Any, path: str) -> None:
    """A server's compute speed and position."""
    check_in_range(s.flops, "flops_per_s", f"{path}.flops")
    if s.position is not None and not np.all(np.isfinite(s.position)):
        raise InstanceError(f"{path}.position", "must be finite")


def _check_vector(values: Any, n: int, path: str, low: float, high: float, why: Any) -> None:
    """``values`` of shape (n,), each finite in [low, high]; else a one-line error naming ``path`` (or its
    first bad entry, with the message ``why(value)``)."""
    arr = np.asarray(values, dtype=float)
    if arr.shape != (n,):
        raise InstanceError(path, f"expected shape ({n},), got {arr.shape}")
    bad = ~np.isfinite(arr) | (arr < low) | (arr > high)
    if bad.any():
        k = _first_bad(bad)[0]
        raise InstanceError(f"{path}[{k}]", why(arr[k]))


def _first_bad(mask: np.ndarray) -> tuple[int, ...]:
    return tuple(int(v) for v in np.argwhere(mask)[0])


def _index(path: str, idx: tuple[int, ...]) -> str:
    return path + "".join(f"[{k}]" for k in idx)


def check_slot(slot: Any, path: str, m: int, e: int, floor_db: float, devices: Sequence[Any]) -> None:
    """A slot's shapes (M, E), gains (finite, <= 0 dB, one usable link per device), batteries in
    (0, 1], queues, positions, and each task's payload and FLOP within their ranges."""
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
    lo_b, hi_q = RANGES["battery"][0], RANGES["queue_s"][1]
    _check_vector(slot.battery, m, f"{path}.battery", lo_b, 1.0,
                  lambda v: f"{v} is outside [{lo_b:g}, 1]; the battery level is a fraction of capacity and P1 divides by it")
    _check_vector(slot.queue_s, e, f"{path}.queue_s", 0.0, hi_q, lambda v: f"{v} must be a finite delay in [0, {hi_q:g}] s")
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
            check_in_range(getattr(task, key), kind, f"{path}.tasks[{i}].{key}")



def check_unique_names(items: Sequence[Any], path: str) -> None:
    """No two devices (servers) share a name: solutions, reports and the per-device tables name them."""
    seen: dict[str, int] = {}
    for k, item in enumerate(items):
        if item.name in seen:
            raise InstanceError(f"{path}[{k}].name", f"{item.name!r} is also the name of {path}[{seen[item.name]}]")
        seen[item.name] = k
