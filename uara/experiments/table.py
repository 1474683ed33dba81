"""The results table: each run verified and turned into a row, gaps attached, stored atomically.

Every run is verified in the main process by :func:`uara.model.verify.verify_solution`
(static runs) or :func:`uara.experiments.episode.rescore_episode` (episodes): the
same check as ``uara validate``. A run that fails it becomes a row with
``status = "error"`` and the reason in ``error``. Columns are documented in docs/compare.md.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from uara.errors import MissingDependencyError, SolutionError, UaraError
from uara.experiments.worker import RunResult, rolled_from_record
from uara.io import atomic_write_bytes
from uara.model.shared.formats import EPISODE_FORMAT, SOLUTION_FORMAT
from uara.model.instance import Instance
from uara.model.solution import relative_gap
from uara.model.verify import OBJECTIVE_RTOL


#: Battery level splitting "high" from "low" battery devices (Fig. 6).
HIGH_BATTERY = 0.5


#: Columns whose values depend on the machine, not on the seeds (ignored by "same seeds, same table").
TIMING_COLUMNS = ("wall_time_s", "finished_at")


TABLE_PARQUET = "results.parquet"


TABLE_CSV = "results.csv"


#: Columns of the table, in order (docs/compare.md documents each).
COLUMNS = (
    "instance", "instance_file", "fingerprint", "base_fingerprint", "M", "E", "slots",
    "solver", "options", "seed", "params", "energy_weight", "energy_model", "mode", "time_limit_s",
    "status", "error", "feasible", "objective", "claimed_objective", "constant", "controllable",
    "device_s", "server_s", "sync_penalty", "energy_term", "energy_comm", "uplink_mean_s", "p1_latency_s",
    "solver_lower_bound", "lower_bound", "lower_bound_source", "gap",
    "latency_mean_s", "latency_p95_s", "latency_median_s", "latency_cov_mean_s", "latency_cov_median_s",
    "latency_cov_p95_s", "coverage_share", "latency_high_s", "latency_low_s", "latency_note",
    "server_model", "latency_reserved_mean_s", "latency_batched_mean_s", "latency_reserved_p95_s",
    "latency_batched_p95_s", "latency_floor_mean_s", "latency_gap_to_floor",
    "energy_j_mean", "energy_j_high", "energy_j_low", "energy_j_b80", "energy_j_b20", "latency_b80_s", "latency_b20_s", "n_high", "n_low", "battery_end_mean", "depleted",
    "wall_time_s", "key", "solution_file", "finished_at",
)


def validate_and_row(res: RunResult, instance_cache: dict[str, Instance] | None = None) -> dict[str, Any]:
    """Re-score the stored decisions independently and build the table row."""
    spec = res.spec
    cache = instance_cache if instance_cache is not None else {}
    ck = (spec.instance_file, spec.params)
    if ck not in cache:
        cache[ck] = spec.instance()  # type: ignore[index]
    inst: Instance = cache[ck]  # type: ignore[index]
    row: dict[str, Any] = {c: None for c in COLUMNS}
    row.update(
        instance=inst.name, instance_file=spec.instance_file, fingerprint=inst.fingerprint(),
        base_fingerprint=spec.base_fingerprint, M=inst.num_devices, E=inst.num_servers, slots=inst.num_slots,
        solver=spec.solver, options=json.dumps(dict(spec.options), sort_keys=True), seed=spec.seed,
        params=json.dumps(dict(spec.params), sort_keys=True), energy_weight=float(inst.params.energy_weight),
        energy_model=inst.params.energy_model,
        mode=spec.mode, time_limit_s=spec.time_limit, wall_time_s=res.wall_time_s, key=spec.key,
        latency_note=res.latency_note, finished_at=time.strftime("%Y-%m-%dT%H:%M:%S"),
    )
    if res.error is not None or res.record is None:
        row.update(status="error", error=res.error or "no result", feasible=False)
        return row
    rec = res.record
    row["claimed_objective"] = _num(rec.get("objective"))
    try:
        if spec.mode == "episode":
            from uara.experiments.episode import rescore_episode

            objective = rescore_episode(rec, inst, rtol=OBJECTIVE_RTOL)
            sol = _episode_solution(rec, inst)
        else:
            from uara.model.verify import verify_solution

            sol = verify_solution(rec, inst, rtol=OBJECTIVE_RTOL)
            objective = sol.objective
    except (SolutionError, KeyError, TypeError, ValueError) as exc:
        row.update(status="error", error=f"validation: {exc}", feasible=False)
        return row
    status = str(rec.get("status", "feasible"))
    row.update(status=status, feasible=True, objective=objective, constant=sol.constant,
               controllable=objective - sol.constant)
    if status == "error":
        row["error"] = next((s.info.get("error") for s in sol.slots if s.info.get("error")), "solver reported an error")
    b = sol.breakdown()
    n = inst.num_devices * len(sol.slots)
    row.update(
        device_s=b.get("device_s"), server_s=b.get("server_s"), sync_penalty=b.get("sync_penalty"),
        energy_term=b.get("energy"), energy_comm=b.get("energy_comm"),
        uplink_mean_s=(b.get("uplink_s", float("nan")) / n),
        p1_latency_s=((b.get("device_s", 0.0) + b.get("server_s", 0.0)) / n),
    )
    if spec.mode == "static":
        row["solver_lower_bound"] = _num(rec.get("lower_bound"))
    batteries = _batteries(sol, inst, rec)
    batt = np.concatenate(batteries)
    row.update(_energy_columns(sol, batt))
    if spec.mode == "episode":
        last = rec["slots"][-1]
        cap = inst.battery_capacity_j
        end = np.maximum(0.0, np.asarray(last["state"]["battery"], float) - np.asarray(last["energy_j"], float) / cap)
        ever = {int(i) for s in rec["slots"] for i in (s.get("depleted") or [])}
        row.update(battery_end_mean=float(end.mean()), depleted=len(ever))
    if res.latency:
        row.update(_latency_columns(res.latency, batteries, inst))
    return row


def _energy_columns(sol: Any, batt: np.ndarray) -> dict[str, Any]:
    """Energy per device and slot (J), split by the battery level each device had in its slot
    (high: B >= HIGH_BATTERY; the paper's Fig. 6 split: B >= 0.8 and B <= 0.2)."""
    energy = np.concatenate([ev.energy_j for ev in sol.evaluations])
    high = batt >= HIGH_BATTERY

    def mean(sel: np.ndarray) -> float | None:
        return float(energy[sel].mean()) if sel.any() else None

    return {"energy_j_mean": float(energy.mean()), "n_high": int(high.sum()), "n_low": int((~high).sum()),
            "energy_j_high": mean(high), "energy_j_low": mean(~high),
            "energy_j_b80": mean(batt >= 0.8), "energy_j_b20": mean(batt <= 0.2)}


def _latency_columns(lat: dict[str, Any], batteries: list[np.ndarray], inst: Instance) -> dict[str, Any]:
    """The PSD latency columns: mean / p95 / median, in coverage, and split by battery level (per
    device-slot, or per device by its starting battery for an episode's per-device latencies)."""
    out: dict[str, Any] = {"latency_mean_s": _num(lat.get("mean_s")), "latency_p95_s": _num(lat.get("p95_s")),
                           "latency_median_s": _num(lat.get("median_s")),
                           "server_model": lat.get("server_model", "reserved"),
                           "latency_floor_mean_s": _num(lat.get("floor_mean_s")),
                           "latency_gap_to_floor": _num(lat.get("gap_to_floor"))}
    for model, stats in (lat.get("by_server_model") or {}).items():
        out[f"latency_{model}_mean_s"] = _num(stats.get("mean_s"))
        out[f"latency_{model}_p95_s"] = _num(stats.get("p95_s"))
    cov = lat.get("in_coverage") or {}
    out.update(latency_cov_mean_s=_num(cov.get("mean_s")), latency_cov_median_s=_num(cov.get("median_s")),
               latency_cov_p95_s=_num(cov.get("p95_s")), coverage_share=_num(cov.get("share")))
    per = np.asarray([np.nan if v is None else v for v in (lat.get("per_device_s") or [])], float).ravel()
    batt = np.concatenate(batteries)
    if per.size == batt.size:
        high = batt >= HIGH_BATTERY
        out["latency_high_s"] = float(np.nanmean(per[high])) if high.any() else None
        out["latency_low_s"] = float(np.nanmean(per[~high])) if (~high).any() else None
    elif per.size == inst.num_devices and batteries:
        start = np.asarray(batteries[0], float)
        b0 = start >= HIGH_BATTERY
        out["latency_high_s"] = float(np.nanmean(per[b0])) if b0.any() else None
        out["latency_low_s"] = float(np.nanmean(per[~b0])) if (~b0).any() else None
        for key, sel in (("latency_b80_s", start >= 0.8), ("latency_b20_s", start <= 0.2)):
            out[key] = float(np.nanmean(per[sel])) if sel.any() else None
    return out


def _batteries(sol: Any, inst: Instance, rec: dict[str, Any]) -> list[np.ndarray]:
    if rec.get("format") == EPISODE_FORMAT:
        return [np.asarray(s["state"]["battery"], float) for s in rec["slots"]]
    return [np.asarray(inst.slots[t].battery, float) for t in range(len(sol.slots))]


def _episode_solution(rec: dict[str, Any], inst: Instance) -> Any:
    from uara.model.solution import Solution

    rolled = rolled_from_record(inst, rec)
    data = {k: v for k, v in rec.items() if k != "server_model"}  # the episode's backlog rule, not a solution field
    return Solution.from_dict({**data, "format": SOLUTION_FORMAT}, rolled)


def _num(x: Any) -> float | None:
    if x is None:
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def attach_gaps(rows: list[dict[str, Any]], bounds: dict[str, dict[str, Any]]) -> None:
    """Fill lower_bound / lower_bound_source / gap in place.

    The bound of an effective instance (fingerprint, i.e. after --param) is
    the best of ``bounds`` (from :mod:`uara.experiments.bounds`) and every proven bound a
    solver reported on it. Episode rows get no gap: their states differ per method.
    """
    best: dict[str, tuple[float, str]] = {}
    for fp, b in bounds.items():
        if b.get("value") is not None:
            best[fp] = (float(b["value"]), str(b.get("source", "uara.experiments.bounds")))
    for r in rows:
        v = r.get("solver_lower_bound")
        if r.get("mode") == "static" and r.get("feasible") and v is not None and _finite(v):
            cur = best.get(r["fingerprint"])
            if cur is None or v > cur[0]:
                best[r["fingerprint"]] = (float(v), f"solver:{r['solver']}")
    for r in rows:
        if r.get("mode") != "static" or not r.get("feasible"):
            continue
        b = best.get(r["fingerprint"])
        if b is None:
            continue
        r["lower_bound"], r["lower_bound_source"] = b
        r["gap"] = relative_gap(r["objective"], b[0], r["constant"])


def _finite(v: Any) -> bool:
    try:
        return math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def write_table(out: Path, rows: list[dict[str, Any]], bound_info: dict[str, dict[str, Any]]) -> Path:
    """Gaps from the best bound, deterministic order, atomic write (Parquet, else CSV)."""
    rows = [dict(r) for r in rows]
    attach_gaps(rows, bound_info)
    df = rows_to_frame(rows)
    try:
        import pyarrow  # noqa: F401

        import io

        buf = io.BytesIO()
        df.to_parquet(buf, index=False)
        return atomic_write_bytes(out / TABLE_PARQUET, buf.getvalue())
    except ImportError:
        return atomic_write_bytes(out / TABLE_CSV, df.to_csv(index=False).encode())


def rows_to_frame(rows: Iterable[dict[str, Any]]) -> Any:
    """A pandas DataFrame with the documented columns, sorted deterministically."""
    try:
        import pandas as pd
    except ImportError:
        raise MissingDependencyError("pandas", "report", "the results table") from None
    df = pd.DataFrame(list(rows), columns=list(COLUMNS))
    for col in ("objective", "claimed_objective", "constant", "controllable", "lower_bound", "gap", "solver_lower_bound",
                "latency_mean_s", "latency_p95_s", "latency_median_s", "latency_cov_mean_s", "latency_cov_median_s",
                "latency_cov_p95_s", "coverage_share", "latency_high_s", "latency_low_s", "energy_j_mean", "energy_j_high",
                "energy_j_b80", "energy_j_b20", "latency_b80_s", "latency_b20_s",
                "energy_j_low", "wall_time_s", "time_limit_s", "battery_end_mean", "device_s", "server_s", "sync_penalty",
                "energy_term", "energy_comm", "uplink_mean_s", "p1_latency_s", "energy_weight",
                "latency_reserved_mean_s", "latency_batched_mean_s", "latency_reserved_p95_s", "latency_batched_p95_s",
                "latency_floor_mean_s", "latency_gap_to_floor"):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype(float)
    for col in ("M", "E", "slots", "seed"):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("Int64")
    for col in ("n_high", "n_low", "depleted"):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("Int64")
    df["feasible"] = df["feasible"].astype("boolean")
    for col in ("instance", "instance_file", "fingerprint", "base_fingerprint", "solver", "options", "params", "energy_model",
                "mode",
                "status", "error", "lower_bound_source", "latency_note", "server_model", "key", "solution_file",
                "finished_at"):
        df[col] = df[col].astype("string")
    return df.sort_values(["instance", "M", "E", "mode", "params", "solver", "options", "seed"], kind="mergesort").reset_index(drop=True)


def find_results_table(folder: Path) -> Path | None:
    """The results table a comparison folder holds (results.parquet, else results.csv), if any."""
    return next((c for c in (folder / TABLE_PARQUET, folder / TABLE_CSV) if c.exists()), None)


def results_table_path(path: str | Path) -> Path:
    """The results table of ``path`` (a comparison folder, or the table file itself); one line if there is none."""
    p = Path(path)
    if p.is_dir():
        found = find_results_table(p)
        if found is None:
            raise UaraError(f"no results table in {path} (expected {TABLE_PARQUET} or {TABLE_CSV}; run `uara compare` first)")
        p = found
    if not p.exists():
        raise UaraError(f"results table not found: {p}")
    if p.suffix not in (".parquet", ".csv"):
        raise UaraError(f"{p}: not a results table (a .parquet or .csv file, or the folder `uara compare` wrote)")
    return p


def load_table(path: str | Path) -> Any:
    """Read a results table: a folder (results.parquet / results.csv inside) or the file itself."""
    try:
        import pandas as pd
    except ImportError:
        raise MissingDependencyError("pandas", "report", "reading results") from None
    p = results_table_path(path)
    try:
        if p.suffix == ".parquet":
            return pd.read_parquet(p)
        return pd.read_csv(p)
    except Exception as exc:
        raise UaraError(f"unreadable results table {p}: {type(exc).__name__}: {exc}") from None
