"""P1's slot model for one's own solver: the MISOCP as a Pyomo model, a cvxpy problem, or a file.

The model (:mod:`uara.solvers.core.misocp`, docs/solvers.md) lives on the P usable pairs (i, j)
of slot t: x_p = 1 when device i offloads to server j, y_p its bandwidth share, t_p its uplink
time, e_p / r_p the sync-penalty epigraph, v_j / U_j the compute cost of server j. Its objective
is the controllable part I(t) - C(t) of eq. (9); add :attr:`ExportInfo.constant` for I(t).
With binary x its optimum is P1's optimum over the usable links, the value ``exact`` proves.

    to_pyomo(instance, t)             -> pyomo ConcreteModel (the one ``exact`` hands to SCIP)
    to_cvxpy(instance, t, relax=...)  -> cvxpy Problem (x boolean, or x in [0, 1]: relax's relaxation)
    write_model(instance, t, path, fmt) -> lp | mps | nl (Pyomo's writers) | cvxpy-json (conic data)
    export_info(instance, t)          -> which pair each x_p is, and C(t)
    association_from_x(info, x)       -> the association (M,) a solved x encodes
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from uara.errors import SolverError, UaraError
from uara.io import atomic_write_json
from uara.model.formulation import slot_data
from uara.model.instance import Instance
from uara.model.shared.formats import CONIC_FORMAT
from uara.solvers.core.misocp import Pairs, usable_pairs

#: file formats of :func:`write_model`
FORMATS = ("lp", "mps", "nl", "cvxpy-json")


@dataclass(frozen=True)
class ExportInfo:
    """What an exported model's variables mean: pair p is (``device[p]``, ``server[p]``); the objective
    is I(t) - ``constant``."""

    instance: str
    fingerprint: str
    slot: int
    device: np.ndarray
    server: np.ndarray
    num_devices: int
    num_servers: int
    constant: float

    def to_dict(self) -> dict[str, Any]:
        return {"instance": self.instance, "fingerprint": self.fingerprint, "slot": self.slot,
                "pairs": {"device": self.device.tolist(), "server": self.server.tolist()},
                "num_devices": self.num_devices, "num_servers": self.num_servers, "constant_C": self.constant,
                "objective": "I(t) - C(t); add constant_C for I(t)"}


def _pairs(instance: Instance, slot: int) -> tuple[Pairs, float]:
    if not isinstance(instance, Instance):
        raise UaraError(f"instance: expected a P1 Instance, got {type(instance).__name__}")
    if not isinstance(slot, (int, np.integer)) or isinstance(slot, bool) or not 0 <= slot < instance.num_slots:
        raise UaraError(f"slot: expected an integer in [0, {instance.num_slots - 1}], got {slot!r}")
    sd = slot_data(instance, int(slot))
    pairs = usable_pairs(sd)
    if np.any(np.bincount(pairs.device, minlength=sd.num_devices) == 0):
        raise SolverError(f"slot {slot}: a device has no usable server (no path above the gain floor)")
    return pairs, float(sd.constant)


def export_info(instance: Instance, slot: int) -> ExportInfo:
    """The pair index and the constant C(t) of slot ``slot``'s exported model."""
    pairs, const = _pairs(instance, slot)
    return ExportInfo(instance.name, instance.fingerprint(), int(slot), pairs.device.copy(), pairs.server.copy(),
                      pairs.num_devices, pairs.num_servers, const)


def association_from_x(info: ExportInfo, x: Any) -> np.ndarray:
    """The association (M,) encoded by solved pair values ``x`` (P,): each device's pair with the largest x."""
    x = np.asarray(x, dtype=float).reshape(-1)
    if x.shape != info.device.shape:
        raise UaraError(f"x: expected {info.device.size} pair values, got {x.size}")
    mat = np.full((info.num_devices, info.num_servers), -np.inf)
    mat[info.device, info.server] = x
    return mat.argmax(axis=1).astype(np.intp)


def to_pyomo(instance: Instance, slot: int, *, perspective: bool = True) -> Any:
    """The Pyomo ``ConcreteModel`` of slot ``slot`` (variables x, u = y / b, t, e, r, v, U: see
    :func:`uara.solvers.p1.exact.build_model`); objective I(t) - C(t)."""
    try:
        from uara.solvers.p1.exact import build_model
        import pyomo.environ  # noqa: F401
    except ImportError as exc:
        from uara.errors import MissingDependencyError

        raise MissingDependencyError(exc.name or "pyomo", "exact", feature="the Pyomo export") from None
    pairs, _ = _pairs(instance, slot)
    return build_model(pairs, perspective=perspective)


def to_cvxpy(instance: Instance, slot: int, *, relax: bool = False) -> Any:
    """The ``cvxpy.Problem`` of slot ``slot``: x boolean (a MISOCP; e.g. ``solve(solver="SCIP")``), or with
    ``relax=True`` its continuous relaxation (an SOCP; Clarabel), relax's model. Objective I(t) - C(t)."""
    from uara.solvers.core.conic_model import conic_model

    pairs, _ = _pairs(instance, slot)
    return conic_model(pairs, boolean=not relax).problem


def write_model(instance: Instance, slot: int, path: str | os.PathLike, fmt: str, *, relax: bool = False) -> Path:
    """Write slot ``slot``'s model to ``path`` in ``fmt`` (:data:`FORMATS`); the file appears whole or not at
    all. lp / mps / nl come from Pyomo's writers (the MISOCP; lp and nl keep the quadratic cone
    constraints as quadratic rows); cvxpy-json is cvxpy's conic data ``min c'x + d, A x + s = b, s in K``
    with the cones, the integer columns and :class:`ExportInfo` (for a solver of one's own)."""
    if fmt not in FORMATS:
        raise UaraError(f"--format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
    path = Path(path)
    if fmt == "cvxpy-json":
        return atomic_write_json(path, conic_data(instance, slot, relax=relax), indent=None)
    if relax:
        raise UaraError("--relax: only the cvxpy-json export has the continuous relaxation")
    model = to_pyomo(instance, slot)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        model.write(str(tmp), format=fmt, io_options={"symbolic_solver_labels": True})
        os.replace(tmp, path)
    except Exception as exc:  # noqa: BLE001 - a writer's refusal (e.g. quadratic rows in MPS) is the user's answer
        tmp.unlink(missing_ok=True)
        raise UaraError(f"--format {fmt}: Pyomo's writer failed ({type(exc).__name__}: {exc})") from None
    return path


def conic_data(instance: Instance, slot: int, *, relax: bool = False) -> dict[str, Any]:
    """cvxpy's conic form of the slot's problem as JSON-ready data (format :data:`CONIC_FORMAT`): the
    objective c, offset d, constraint matrix A (COO, 0-based), b, the cone sizes in cvxpy's order
    (zero, nonneg, then each second-order cone), the boolean columns, and the pair index."""
    import cvxpy as cp

    prob = to_cvxpy(instance, slot, relax=relax)
    solver = cp.CLARABEL if relax else cp.SCIP
    if solver not in cp.installed_solvers():
        raise SolverError(f"cvxpy-json: cvxpy has no {solver} interface here (installed: {', '.join(cp.installed_solvers())})")
    data, _, _ = prob.get_problem_data(solver)
    a = data["A"].tocoo()
    dims = data["dims"]
    info = export_info(instance, slot)
    return {
        "format": CONIC_FORMAT, "problem": "min c'x + d s.t. A x + s = b, s in K (cvxpy's conic form)",
        "info": info.to_dict(), "relaxed": bool(relax),
        "c": np.asarray(data["c"], dtype=float).tolist(), "d": float(data.get("offset", 0.0)),
        "A": {"shape": list(a.shape), "row": a.row.tolist(), "col": a.col.tolist(), "data": a.data.tolist()},
        "b": np.asarray(data["b"], dtype=float).tolist(),
        "cones": {"zero": int(dims.zero), "nonneg": int(dims.nonneg), "soc": [int(k) for k in dims.soc]},
        "boolean_columns": [int(k) for k in data.get("bool_vars_idx", [])],
    }
