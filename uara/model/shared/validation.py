"""Small checkers that turn raw JSON values into typed values or raise
:class:`uara.errors.InstanceError` naming the field path."""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping

import numpy as np

from uara.errors import InstanceError
from uara.io import read_json


def check_number(value: Any, path: str) -> float:
    """A JSON number (not bool, not string), returned as float; NaN/inf rejected."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        if value is None:
            raise InstanceError(path, "is null; expected a number (NaN and infinity are not allowed)")
        raise InstanceError(path, f"expected a number, got {type(value).__name__} {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise InstanceError(path, f"{value} is not finite")
    return value


def check_in_range(value: float, path: str, low: float, high: float, unit: str) -> float:
    """``value`` finite and within [low, high] (a plausible physical range): a value outside is a typo or a
    unit slip, refused naming its field."""
    if not math.isfinite(value) or not low <= value <= high:
        raise InstanceError(path, f"{value!r} is outside the plausible range [{low:g}, {high:g}] {unit}")
    return value


def check_string(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value:
        raise InstanceError(path, f"expected a non-empty string, got {value!r}")
    return value


def check_list(value: Any, path: str, *, min_len: int = 0, length: int | None = None) -> list:
    if not isinstance(value, list):
        if value is None:
            raise InstanceError(path, "missing")
        raise InstanceError(path, f"expected a list, got {type(value).__name__}")
    if length is not None and len(value) != length:
        raise InstanceError(path, f"expected {length} entries, got {len(value)}")
    if len(value) < min_len:
        raise InstanceError(path, f"expected at least {min_len} entr{'y' if min_len == 1 else 'ies'}, got {len(value)}")
    return value


def check_keys(raw: dict, allowed: Iterable[str], path: str) -> None:
    allowed = set(allowed)
    unknown = sorted(set(raw) - allowed)
    if unknown:
        where = f"{path}.{unknown[0]}" if path else unknown[0]
        raise InstanceError(where, f"unknown field; known fields: {', '.join(sorted(allowed))}")


def check_object(raw: Any, path: str, allowed: Iterable[str], required: Iterable[str] = (),
                 what: str = "an object") -> Mapping:
    """A JSON object with no unknown field and every ``required`` one; the first fault names its path."""
    if not isinstance(raw, Mapping):
        raise InstanceError(path, f"expected {what}")
    check_keys(raw, allowed, path)
    for key in required:
        if key not in raw:
            raise InstanceError(f"{path}.{key}" if path else key, "missing")
    return raw


def _shape_error(value: Any, path: str, shape: tuple[int, ...]) -> InstanceError:
    """Find where a nested list departs from ``shape`` and name that place."""
    def walk(v: Any, p: str, dims: tuple[int, ...]) -> InstanceError | None:
        if not dims:
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                if v is None:
                    return InstanceError(p, "is null; expected a number (NaN is not allowed)")
                return InstanceError(p, f"expected a number, got {type(v).__name__} {v!r}")
            return None
        if not isinstance(v, list):
            return InstanceError(p, f"expected a list of {dims[0]}, got {type(v).__name__}")
        if len(v) != dims[0]:
            return InstanceError(p, f"expected {dims[0]} entries, got {len(v)} (expected shape {shape})")
        for k, item in enumerate(v):
            err = walk(item, f"{p}[{k}]", dims[1:])
            if err is not None:
                return err
        return None

    return walk(value, path, shape) or InstanceError(path, f"expected shape {shape}")


def check_array(value: Any, path: str, *, shape: tuple[int, ...]) -> np.ndarray:
    """A nested JSON list of numbers with exactly ``shape``; NaN and inf rejected with their index."""
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise _shape_error(value, path, shape) from None
    if arr.shape != shape:
        raise _shape_error(value, path, shape)
    if arr.dtype == object:
        raise _shape_error(value, path, shape)
    # A JSON null inside a list becomes NaN through dtype=float; report it by position.
    bad = ~np.isfinite(arr)
    if bad.any():
        idx = tuple(int(v) for v in np.argwhere(bad)[0])
        raw = value
        for k in idx:
            raw = raw[k] if isinstance(raw, (list, tuple)) else None
        where = path + "".join(f"[{k}]" for k in idx)
        if raw is None:
            raise InstanceError(where, "is null; expected a number (NaN and infinity are not allowed)")
        raise InstanceError(where, f"{arr[idx]} is not finite")
    if isinstance(value, list):
        # bools and numeric strings ("-100") would slip through np.asarray: reject them like check_number does
        flat = value
        for _ in range(len(shape) - 1):
            flat = [x for row in flat for x in row]
        if any(isinstance(x, bool) or not isinstance(x, (int, float)) for x in flat):
            raise _shape_error(value, path, shape)
    return arr




def parse_with_path(data: Any, parse: Any, path: Any) -> Any:
    """``parse(data)``, with the file named in the one-line error of a bad value (``... (in FILE)``)."""
    try:
        return parse(data)
    except InstanceError as exc:
        raise InstanceError(exc.field, f"{exc.message} (in {path})") from None


def load_instance_file(path: Any, parse: Any) -> Any:
    """Read a JSON instance file and validate it with ``parse`` (a ``from_dict``)."""
    return parse_with_path(read_json(path, what="instance file"), parse, path)
