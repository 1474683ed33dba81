"""Back-end options: one dataclass per back-end (Pyomo's one CONFIG per solver), filled from
keyword values or ``--option key=value`` strings, each value converted and checked against the
field's declared type with a one-line error naming the solver and the option."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from uara.errors import SolverError


@dataclass
class NoOptions:
    """A solver without options."""


def parse_options(options_cls: type, raw: dict[str, Any], solver_name: str) -> Any:
    """Build the options dataclass from keyword values, converting and checking each value
    against the field's declared type (strings from ``--option key=value`` are converted)."""
    known = {f.name: f for f in dataclasses.fields(options_cls)}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        key_n = key.replace("-", "_")
        if key_n not in known:
            names = ", ".join(sorted(known)) or "none"
            raise SolverError(f"solver '{solver_name}' has no option '{key}' (options: {names})")
        values[key_n] = _convert(value, known[key_n], solver_name)
    return options_cls(**values)


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _convert(value: Any, f: dataclasses.Field, solver_name: str) -> Any:
    """``value`` as the field's declared type (bool, int, float or str, optionally ``| None``)."""
    typ = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    base = typ.split("|")[0].strip()
    if "None" in typ and (value is None or (isinstance(value, str) and value.lower() in ("none", "null"))):
        return None
    bad = SolverError(f"solver '{solver_name}': option '{f.name}' expects {typ}, got {value!r}")
    if base == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in _TRUE + _FALSE:
            return value.lower() in _TRUE
        raise bad
    if base in ("int", "float"):
        if isinstance(value, bool):
            raise bad
        if isinstance(value, str):
            try:
                value = int(value) if base == "int" else float(value)
            except ValueError:
                raise bad from None
        if base == "int" and not isinstance(value, (int, np.integer)):
            raise bad
        if not isinstance(value, (int, float, np.integer, np.floating)) or not math.isfinite(value):
            raise bad
        return int(value) if base == "int" else float(value)
    if base == "str" and isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return str(value)  # "--option lengths=4": the command line read 4 as a number
    if base == "str" and not isinstance(value, str):
        raise bad
    return value
