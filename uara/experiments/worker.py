"""One run, on the worker side: solve (or simulate an episode) and attach the PSD latency.

:func:`execute_run` is a pure function of its :class:`~uara.experiments.grid.RunSpec`
and never raises for a solver's failure: the failure comes back as ``error``, and
the main process verifies everything it gets (:mod:`uara.experiments.table`).
"""

from __future__ import annotations

import json
import time
import traceback
from dataclasses import dataclass
from typing import Any

from uara.errors import UaraError
from uara.experiments.grid import RunSpec
from uara.io import dumps_json
from uara.model.instance import Instance
from uara.psd.latency_floor import latency_with_floor


@dataclass
class RunResult:
    """What a worker sends back: the raw outcome, validated afterwards in the main process."""

    spec: RunSpec
    record: dict[str, Any] | None  # solution (or episode) JSON object
    wall_time_s: float
    error: str | None = None
    latency: dict[str, Any] | None = None
    latency_note: str | None = None


def execute_run(spec: RunSpec) -> RunResult:
    """Solve (or simulate) one run. Never raises for a solver failure: it comes back as ``error``."""
    start = time.perf_counter()
    try:
        inst = spec.instance()
        if spec.mode == "episode":
            from uara.experiments.episode import run_episode

            ep = run_episode(inst, spec.solver, options=dict(spec.options), seed=spec.seed,
                             time_limit=spec.time_limit, threads=spec.threads, latency=False)
            record = ep.to_dict()
            sol = ep.as_solution(inst)
            lat_inst = rolled_from_record(inst, record)
        else:
            from uara.solvers import get_solver

            sol = get_solver(spec.solver, **dict(spec.options)).solve(
                inst, time_limit=spec.time_limit, seed=spec.seed, threads=spec.threads)
            record = sol.to_dict()
            lat_inst = inst
        wall = time.perf_counter() - start
        latency, note = (None, "latency not requested")
        if spec.latency:
            latency, note = latency_with_floor(lat_inst, sol, both_models=True)
        record = json.loads(dumps_json(record))  # exactly what is stored
        record["wall_time_s"] = wall if spec.mode == "episode" else record.get("wall_time_s", wall)
        if latency is not None:
            record["latency"] = json.loads(dumps_json(latency))
        return RunResult(spec, record, wall, None, latency, note)
    except UaraError as exc:
        return RunResult(spec, None, time.perf_counter() - start, f"{type(exc).__name__}: {exc}")
    except Exception as exc:  # a back-end bug: keep the row, keep the traceback's last line
        tb = traceback.format_exc().strip().splitlines()
        return RunResult(spec, None, time.perf_counter() - start, f"{type(exc).__name__}: {exc} [{tb[-3].strip() if len(tb) > 2 else ''}]")


def rolled_from_record(inst: Instance, record: dict[str, Any]) -> Instance:
    from uara.experiments.episode import rolled_instance

    slots = record["slots"]
    sub = inst.slot_subset(range(len(slots)))
    return rolled_instance(sub, [s["state"]["battery"] for s in slots], [s["state"]["queue_s"] for s in slots])
