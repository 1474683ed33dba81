"""Comparison runner: instances x solvers x seeds x parameter values -> one tidy table.

benchopt's split: this module *runs* and stores (one row per run, plus each
run's solution JSON); :mod:`uara.experiments.report_builder` reads the stored table and plots.

Layout of an output folder::

    results.parquet     the table (results.csv when pyarrow is missing), rewritten atomically
    runs/<key>.json     one file per finished run: {"row": {...}, "solution": {...}}
    bounds.json         best lower bound per effective instance fingerprint (uara.experiments.bounds)
    manifest.json       the command, the grid, what was skipped and why

A run's ``key`` hashes (instance fingerprint, solver, options, time limit,
mode, seed, params, the back-end's code ``VERSION``): a rerun of the same grid into the same folder finds the
finished runs in ``runs/`` and does only the missing ones. Every run is
validated in the main process: its decisions are re-scored by
:func:`uara.model.evaluator.evaluate` from the stored JSON and compared with the
objective the solver claimed; a mismatch or an infeasible decision turns the
row into ``status = "error"`` with the reason in ``error``.

Executors: ``serial`` (in process), ``process`` (concurrent.futures, the
default) and ``dask`` (a distributed.Client's concurrent.futures executor).
Runs are pure functions of their :class:`RunSpec`, so any of them gives the
same table up to the timing columns.
"""

from __future__ import annotations

import concurrent.futures as cf
import glob
import hashlib
import itertools
import json
import math
import os
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from uara.errors import MissingDependencyError, SolutionError, SolverError, UaraError
from uara.model.instance import Instance
from uara.model.solution import relative_gap
from uara.model.verify import OBJECTIVE_RTOL
from uara.io import parse_key_value
from uara.io import atomic_write_bytes, atomic_write_json, dumps_json, read_json

#: Battery level splitting "high" from "low" battery devices (Fig. 6).
HIGH_BATTERY = 0.5
#: The paper's three baselines (association only, uniform allocation).
BASELINES = ("random", "max-sinr", "max-compute")
#: Columns whose values depend on the machine, not on the seeds (ignored by "same seeds, same table").
TIMING_COLUMNS = ("wall_time_s", "finished_at")
TABLE_PARQUET = "results.parquet"
TABLE_CSV = "results.csv"

#: Columns of the table, in order (docs/compare.md documents each).
COLUMNS = (
    "instance", "instance_file", "fingerprint", "base_fingerprint", "M", "E", "slots",
    "solver", "options", "seed", "params", "energy_weight", "mode", "time_limit_s",
    "status", "error", "feasible", "objective", "claimed_objective", "constant", "controllable",
    "device_s", "server_s", "sync_penalty", "energy_term", "energy_comm", "uplink_mean_s", "p1_latency_s",
    "solver_lower_bound", "lower_bound", "lower_bound_source", "gap",
    "latency_mean_s", "latency_p95_s", "latency_high_s", "latency_low_s", "latency_note",
    "energy_j_mean", "energy_j_high", "energy_j_low", "n_high", "n_low", "battery_end_mean", "depleted",
    "wall_time_s", "key", "solution_file", "finished_at",
)


# ---------------------------------------------------------------------- specs
@dataclass(frozen=True)
class RunSpec:
    """Everything one run depends on. Picklable; :func:`execute_run` is a pure function of it."""

    instance_file: str
    base_fingerprint: str
    solver: str
    seed: int
    options: tuple[tuple[str, Any], ...] = ()
    params: tuple[tuple[str, float], ...] = ()
    mode: str = "static"
    time_limit: float | None = None
    threads: int = 1
    latency: bool = True

    @property
    def key(self) -> str:
        """Resume key: instance fingerprint + solver + options (+ time limit, mode) + seed + params,
        plus the back-end's code version (``Solver.VERSION``; 1 is left out, so keys of runs
        stored before versions existed still match)."""
        from uara.solvers import get_solver_class

        fields: list[Any] = [self.base_fingerprint, self.solver, list(self.options), self.time_limit, self.mode, self.seed,
                             list(self.params)]
        version = getattr(get_solver_class(self.solver), "VERSION", 1)
        if version != 1:
            fields.append({"solver_version": version})
        payload = json.dumps(fields, sort_keys=True, default=str)
        return hashlib.sha256(payload.encode()).hexdigest()[:20]

    def instance(self) -> Instance:
        """The instance with this run's parameter values applied."""
        inst = Instance.load(self.instance_file)
        return inst.with_params(**dict(self.params)) if self.params else inst


@dataclass
class RunResult:
    """What a worker sends back: the raw outcome, validated afterwards in the main process."""

    spec: RunSpec
    record: dict[str, Any] | None  # solution (or episode) JSON object
    wall_time_s: float
    error: str | None = None
    latency: dict[str, Any] | None = None
    latency_note: str | None = None


def parse_param_grid(items: Sequence[str] | None) -> list[dict[str, float]]:
    """``["energy_weight=20,40", "lambda=0.01"]`` -> the cartesian product as dicts (``[{}]`` when empty)."""
    axes: list[tuple[str, list[float]]] = []
    for item in items or []:
        name, values = parse_key_value(item, "--param")
        if not values:
            raise UaraError(f"--param expects NAME=V1,V2,..., got {item!r}")
        try:
            vals = [float(v) for v in values.split(",") if v.strip()]
        except ValueError:
            raise UaraError(f"--param {name}: values must be numbers, got {values!r}") from None
        axes.append((name, vals))
    if not axes:
        return [{}]
    names = [a[0] for a in axes]
    return [dict(zip(names, combo)) for combo in itertools.product(*[a[1] for a in axes])]


def expand_instances(paths: Sequence[str]) -> list[Path]:
    """Files, folders (their ``*.json``) and globs -> sorted unique instance files."""
    out: list[Path] = []
    for p in paths:
        hits = sorted(glob.glob(p)) if any(ch in p for ch in "*?[") else [p]
        if not hits:
            raise UaraError(f"no instance matches {p!r}")
        for h in hits:
            path = Path(h)
            if path.is_dir():
                files = sorted(path.glob("*.json"))
                if not files:
                    raise UaraError(f"instance folder has no *.json file: {path}")
                out.extend(files)
            elif path.exists():
                out.append(path)
            else:
                raise UaraError(f"instance not found: {path}")
    seen: dict[str, Path] = {}
    for f in out:
        seen.setdefault(str(f.resolve()), f)
    return sorted(seen.values(), key=lambda f: str(f))


def check_solvers(names: Sequence[str], options: dict[str, Any] | None = None) -> tuple[list[str], dict[str, str]]:
    """Split requested solvers into (runnable, {skipped: reason}).

    An unknown name or a bad option is a user error (raised); a registered
    back-end whose module or optional package is missing is skipped with its reason.
    """
    from uara.solvers import get_solver, get_solver_class, solver_names

    ok: list[str] = []
    skipped: dict[str, str] = {}
    for name in names:
        base = name.partition("+")[0]
        if base not in solver_names():
            raise SolverError(f"unknown solver '{name}'; available: {', '.join(solver_names())}")
        try:
            cls = get_solver_class(base)
        except SolverError as exc:
            skipped[name] = str(exc)
            continue
        missing = cls.missing()
        if missing:
            skipped[name] = f"optional package(s) {', '.join(missing)} not installed (pip install 'uara[{cls.extra}]')"
            continue
        get_solver(name, **(options or {}).get(name, {}))  # raises on bad options now, not in a worker
        ok.append(name)
    return ok, skipped


def build_specs(
    instance_files: Sequence[Path],
    solvers: Sequence[str],
    seeds: Sequence[int],
    *,
    params: Sequence[dict[str, float]] = ({},),
    options: dict[str, dict[str, Any]] | None = None,
    mode: str = "static",
    time_limit: float | None = None,
    threads: int = 1,
    latency: bool = True,
) -> list[RunSpec]:
    """The grid of runs, in a fixed order."""
    if mode not in ("static", "episode"):
        raise UaraError(f"--mode must be static or episode, got {mode!r}")
    specs = []
    for f in instance_files:
        inst = Instance.load(f)
        fp = inst.fingerprint()
        for pv in params:
            if pv:
                inst.with_params(**pv)  # validate names and values once, here
            for solver in solvers:
                opts = tuple(sorted((options or {}).get(solver, {}).items()))
                for seed in seeds:
                    specs.append(RunSpec(str(f), fp, solver, int(seed), opts, tuple(sorted(pv.items())), mode,
                                         time_limit, threads, latency))
    return specs


# ---------------------------------------------------------------------- one run (worker side)
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
            lat_inst = _rolled_from_record(inst, record)
        else:
            from uara.solvers import get_solver

            sol = get_solver(spec.solver, **dict(spec.options)).solve(
                inst, time_limit=spec.time_limit, seed=spec.seed, threads=spec.threads)
            record = sol.to_dict()
            lat_inst = inst
        wall = time.perf_counter() - start
        latency, note = (None, "latency not requested")
        if spec.latency:
            latency, note = _latency(lat_inst, sol)
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


def _rolled_from_record(inst: Instance, record: dict[str, Any]) -> Instance:
    from uara.experiments.episode import rolled_instance

    slots = record["slots"]
    sub = inst.slot_subset(range(len(slots)))
    return rolled_instance(sub, [s["state"]["battery"] for s in slots], [s["state"]["queue_s"] for s in slots])


def _latency(inst: Instance, sol: Any) -> tuple[dict[str, Any] | None, str | None]:
    """PSD end-to-end latency, or (None, why not)."""
    try:
        from uara.psd.latency import solution_latency
    except ImportError:
        return None, "uara.psd.latency not installed: latency columns are NaN"
    try:
        return solution_latency(inst, sol), None
    except Exception as exc:
        return None, f"PSD simulator failed: {type(exc).__name__}: {exc}"


# ---------------------------------------------------------------------- validation + row (main side)
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
    # energy per device, split by the battery level each device had in each slot
    batt = np.concatenate(_batteries(sol, inst, rec))
    energy = np.concatenate([ev.energy_j for ev in sol.evaluations])
    high = batt >= HIGH_BATTERY
    row.update(energy_j_mean=float(energy.mean()), n_high=int(high.sum()), n_low=int((~high).sum()),
               energy_j_high=float(energy[high].mean()) if high.any() else None,
               energy_j_low=float(energy[~high].mean()) if (~high).any() else None)
    if spec.mode == "episode":
        last = rec["slots"][-1]
        cap = inst.battery_capacity_j
        end = np.maximum(0.0, np.asarray(last["state"]["battery"], float) - np.asarray(last["energy_j"], float) / cap)
        ever = {int(i) for s in rec["slots"] for i in (s.get("depleted") or [])}
        row.update(battery_end_mean=float(end.mean()), depleted=len(ever))
    lat = res.latency
    if lat:
        row["latency_mean_s"] = _num(lat.get("mean_s"))
        row["latency_p95_s"] = _num(lat.get("p95_s"))
        per = np.asarray([np.nan if v is None else v for v in (lat.get("per_device_s") or [])], float).ravel()
        if per.size == batt.size:
            row["latency_high_s"] = float(np.nanmean(per[high])) if high.any() else None
            row["latency_low_s"] = float(np.nanmean(per[~high])) if (~high).any() else None
        elif per.size == inst.num_devices and len(sol.slots) > 0:
            b0 = np.asarray(_batteries(sol, inst, rec)[0], float) >= HIGH_BATTERY
            row["latency_high_s"] = float(np.nanmean(per[b0])) if b0.any() else None
            row["latency_low_s"] = float(np.nanmean(per[~b0])) if (~b0).any() else None
    return row


def _batteries(sol: Any, inst: Instance, rec: dict[str, Any]) -> list[np.ndarray]:
    if rec.get("format") == "uara-episode/1":
        return [np.asarray(s["state"]["battery"], float) for s in rec["slots"]]
    return [np.asarray(inst.slots[t].battery, float) for t in range(len(sol.slots))]


def _episode_solution(rec: dict[str, Any], inst: Instance) -> Any:
    from uara.model.solution import Solution

    rolled = _rolled_from_record(inst, rec)
    data = {**rec, "format": "uara-solution/1"}
    return Solution.from_dict(data, rolled)


def _num(x: Any) -> float | None:
    if x is None:
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


# ---------------------------------------------------------------------- bounds and gaps
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


def compute_bounds(specs: Sequence[RunSpec], out_dir: Path, time_limit: float | None, log: Callable[[str], None]) -> dict[str, dict[str, Any]]:
    """Best lower bound per effective instance from :mod:`uara.experiments.bounds` (cached in ``bounds.json``)."""
    path = out_dir / "bounds.json"
    cached: dict[str, dict[str, Any]] = read_json(path, what="bounds cache") if path.exists() else {}
    try:
        from uara.experiments.bounds import best_lower_bound
    except ImportError:
        return cached
    seen: set[tuple[str, Any]] = set()
    for spec in specs:
        if spec.mode != "static" or (spec.instance_file, spec.params) in seen:
            continue
        seen.add((spec.instance_file, spec.params))
        inst = spec.instance()
        fp = inst.fingerprint()
        if fp in cached:
            continue
        try:
            res = best_lower_bound(inst, time_limit=time_limit if time_limit is not None else 60.0)
        except Exception as exc:
            log(f"lower bound of {inst.name} {dict(spec.params)}: failed ({type(exc).__name__}: {exc})")
            continue
        value, source = _bound_value(res)
        cached[fp] = {"instance": inst.name, "params": dict(spec.params), "value": value, "source": source}
        atomic_write_json(path, cached)
    return cached


def _bound_value(res: Any) -> tuple[float | None, str]:
    """Accept a number, a dict or an object with ``value``/``lower_bound`` and ``source``/``method``."""
    if res is None:
        return None, "none"
    if isinstance(res, (list, tuple)):  # uara.experiments.bounds: one bound per slot; the total needs every slot
        if not res or any(v is None or not _finite(v) for v in res):
            return None, "none"
        return float(sum(res)), "uara.experiments.bounds"
    if isinstance(res, (int, float)):
        return _num(res), "uara.experiments.bounds"
    get = res.get if isinstance(res, dict) else (lambda k, d=None: getattr(res, k, d))
    for k in ("value", "lower_bound", "bound"):
        if get(k) is not None:
            src = get("source") or get("method") or "uara.experiments.bounds"
            return _num(get(k)), f"uara.experiments.bounds:{src}" if not str(src).startswith("uara.experiments.bounds") else str(src)
    return None, "none"


# ---------------------------------------------------------------------- executors
#: Environment variables that size the BLAS / OpenMP thread pools of libraries loaded later.
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def limit_blas_threads(threads: int) -> None:
    """Cap this process's BLAS / OpenMP thread pools at ``threads`` (process-pool initializer).

    Without it, every worker's OpenBLAS (numpy's and scipy's) starts one thread per
    core; with W workers on W cores their busy-waiting threads fight, and small BLAS
    calls (L-BFGS-B in the Lagrangian bound) ran 10-50x slower than in one process
    (measured: 0.16 s -> 3-15 s per slot). Sets the environment for libraries loaded
    later and calls ``openblas_set_num_threads`` on the OpenBLAS copies already loaded
    (found in /proc/self/maps; elsewhere only the environment is set).
    """
    import ctypes

    for key in THREAD_ENV:
        os.environ[key] = str(int(threads))
    try:
        with open("/proc/self/maps") as fh:
            paths = {line.split()[-1] for line in fh if "openblas" in line.lower() and line.rstrip().split()[-1].startswith("/")}
    except OSError:
        return
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for name in ("openblas_set_num_threads", "openblas_set_num_threads64_",
                     "scipy_openblas_set_num_threads", "scipy_openblas_set_num_threads64_"):
            fn = getattr(lib, name, None)
            if fn is not None:
                fn(ctypes.c_int(int(threads)))


def make_executor(kind: str = "process", workers: int | None = None, scheduler: Any = None,
                  threads: int = 1) -> tuple[cf.Executor | None, Callable[[], None]]:
    """(executor, close) for ``serial`` (None: run in process), ``process`` or ``dask``.

    Process workers run with ``threads`` BLAS threads each (:func:`limit_blas_threads`).
    ``scheduler`` for dask: an address (``tcp://host:8786``), a ``distributed.Client``
    or a ``LocalCluster``. No scheduling logic of our own: dask's executor does it.
    """
    if kind == "serial":
        return None, lambda: None
    if kind == "process":
        import multiprocessing as mp

        n = max(1, int(workers or os.cpu_count() or 1))
        ctx = mp.get_context("forkserver") if "forkserver" in mp.get_all_start_methods() else None
        ex = cf.ProcessPoolExecutor(max_workers=n, mp_context=ctx, initializer=limit_blas_threads,
                                    initargs=(max(1, int(threads)),))
        return ex, lambda: ex.shutdown(wait=False, cancel_futures=True)
    if kind == "dask":
        try:
            from distributed import Client
        except ImportError:
            raise MissingDependencyError("distributed", "report", "--executor dask") from None
        if scheduler is None:
            raise UaraError("--executor dask needs --scheduler ADDRESS (e.g. tcp://127.0.0.1:8786)")
        if isinstance(scheduler, Client):
            client, own = scheduler, False
        else:
            try:
                client, own = Client(scheduler, timeout="15s"), True
            except (OSError, TimeoutError) as exc:
                raise UaraError(f"cannot reach the dask scheduler at {scheduler}: {exc}") from None
        ex = client.get_executor(pure=False)

        def close() -> None:
            if own:
                client.close()

        return ex, close
    raise UaraError(f"--executor must be serial, process or dask, got {kind!r}")


# ---------------------------------------------------------------------- the comparison
@dataclass
class CompareResult:
    """What :func:`compare` did."""

    output: Path
    table_path: Path
    rows: list[dict[str, Any]]
    ran: int
    reused: int
    skipped_solvers: dict[str, str] = field(default_factory=dict)
    errors: int = 0


def compare(
    instances: Sequence[str | Path],
    solvers: Sequence[str],
    seeds: Sequence[int] = (0,),
    output: str | Path = "results/run",
    *,
    params: Sequence[dict[str, float]] = ({},),
    options: dict[str, dict[str, Any]] | None = None,
    mode: str = "static",
    time_limit: float | None = None,
    threads: int = 1,
    executor: str = "process",
    workers: int | None = None,
    scheduler: Any = None,
    latency: bool = True,
    bounds: bool = True,
    bound_time_limit: float | None = None,
    on_result: Callable[[dict[str, Any]], None] | None = None,
    log: Callable[[str], None] | None = None,
    command: str | None = None,
) -> CompareResult:
    """Run the grid, resuming from ``output``; write the table atomically after every finished run.

    ``on_result(row)`` is called in the main process after each run is stored
    (progress; tests raise KeyboardInterrupt there to simulate a kill).
    """
    log = log or (lambda msg: None)
    out = Path(output)
    files = expand_instances([str(p) for p in instances])
    if not solvers:
        raise UaraError("no solver given (--solvers)")
    runnable, skipped = check_solvers(solvers, options)
    for name, why in skipped.items():
        log(f"skipping solver {name}: {why}")
    if not runnable:
        raise UaraError("none of the requested solvers is installed: " + "; ".join(f"{k}: {v}" for k, v in skipped.items()))
    specs = build_specs(files, runnable, list(seeds), params=params, options=options, mode=mode,
                        time_limit=time_limit, threads=threads, latency=latency)
    runs_dir = out / "runs"
    runs_dir.mkdir(parents=True, exist_ok=True)
    invocation = {
        "command": command, "instances": [str(f) for f in files],
        "solvers": list(runnable), "skipped_solvers": skipped, "seeds": list(seeds), "params": list(params),
        "options": options or {}, "mode": mode, "time_limit_s": time_limit, "threads": threads,
        "executor": executor, "runs": len(specs), "started_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    mpath = out / "manifest.json"
    try:
        manifest = read_json(mpath, what="manifest") if mpath.exists() else {}
    except UaraError:
        manifest = {}
    invocations = [i for i in manifest.get("invocations", []) if i.get("command") != command or command is None]
    manifest = {"format": "uara-compare/1", "high_battery_threshold": HIGH_BATTERY,
                "invocations": invocations + [invocation], **invocation}
    atomic_write_json(mpath, manifest)
    # every run stored in the folder (this grid's and earlier grids'): the table holds them all
    done: dict[str, dict[str, Any]] = {}
    for f in sorted(runs_dir.glob("*.json")):
        try:
            done[f.stem] = read_json(f, what="run file")["row"]
        except (UaraError, KeyError, TypeError):
            log(f"ignoring unreadable run file {f}; the run is redone")
    todo = [s for s in specs if s.key not in done]
    reused = len(specs) - len(todo)
    log(f"{len(specs)} runs: {reused} already done, {len(todo)} to run ({executor})")
    bound_info = compute_bounds(specs, out, bound_time_limit, log) if bounds else {}
    cache: dict[Any, Instance] = {}
    last_write = [0.0]

    def store(res: RunResult) -> None:
        row = validate_and_row(res, cache)
        row["solution_file"] = f"runs/{res.spec.key}.json"
        atomic_write_json(runs_dir / f"{res.spec.key}.json", {"row": row, "solution": res.record})
        done[res.spec.key] = row
        if time.monotonic() - last_write[0] > 2.0:
            _write_table(out, list(done.values()), bound_info)
            last_write[0] = time.monotonic()
        if row["status"] == "error":
            log(f"ERROR {row['instance']} {row['solver']} seed {row['seed']} {row['params']}: {row['error']}")
        else:
            log(f"done  {row['instance']} {row['solver']} seed {row['seed']} {row['params']}: I = {row['objective']:.6g} ({row['status']}, {row['wall_time_s']:.2f} s)")
        if on_result is not None:
            on_result(row)

    try:
        if todo:
            ex, close = make_executor(executor, workers, scheduler, threads=threads)
            try:
                if ex is None:
                    for spec in todo:
                        store(execute_run(spec))
                else:
                    futures = [ex.submit(execute_run, spec) for spec in todo]
                    for fut in cf.as_completed(futures):
                        store(fut.result())
            finally:
                close()
    finally:
        rows = list(done.values())
        table_path = _write_table(out, rows, bound_info)
    keys = {s.key for s in specs}
    errors = sum(1 for r in rows if r["status"] == "error" and r["key"] in keys)
    return CompareResult(out, table_path, rows, len(todo), reused, skipped, errors)


def _write_table(out: Path, rows: list[dict[str, Any]], bound_info: dict[str, dict[str, Any]]) -> Path:
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
                "latency_mean_s", "latency_p95_s", "latency_high_s", "latency_low_s", "energy_j_mean", "energy_j_high",
                "energy_j_low", "wall_time_s", "time_limit_s", "battery_end_mean", "device_s", "server_s", "sync_penalty",
                "energy_term", "energy_comm", "uplink_mean_s", "p1_latency_s", "energy_weight"):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype(float)
    for col in ("M", "E", "slots", "seed"):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("Int64")
    for col in ("n_high", "n_low", "depleted"):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("Int64")
    df["feasible"] = df["feasible"].astype("boolean")
    for col in ("instance", "instance_file", "fingerprint", "base_fingerprint", "solver", "options", "params", "mode",
                "status", "error", "lower_bound_source", "latency_note", "key", "solution_file", "finished_at"):
        df[col] = df[col].astype("string")
    return df.sort_values(["instance", "M", "E", "mode", "params", "solver", "options", "seed"], kind="mergesort").reset_index(drop=True)


def load_table(path: str | Path) -> Any:
    """Read a results table: a folder (results.parquet / results.csv inside) or the file itself."""
    try:
        import pandas as pd
    except ImportError:
        raise MissingDependencyError("pandas", "report", "reading results") from None
    p = Path(path)
    if p.is_dir():
        cands = [p / TABLE_PARQUET, p / TABLE_CSV]
        p = next((c for c in cands if c.exists()), cands[0])
        if not p.exists():
            raise UaraError(f"no results table in {path} (expected {TABLE_PARQUET} or {TABLE_CSV}; run `uara compare` first)")
    if not p.exists():
        raise UaraError(f"results table not found: {p}")
    try:
        if p.suffix == ".parquet":
            return pd.read_parquet(p)
        return pd.read_csv(p)
    except Exception as exc:
        raise UaraError(f"unreadable results table {p}: {type(exc).__name__}: {exc}") from None


__all__ = [
    "BASELINES", "COLUMNS", "CompareResult", "HIGH_BATTERY", "RunResult", "RunSpec", "TIMING_COLUMNS", "attach_gaps",
    "build_specs", "check_solvers", "compare", "execute_run", "expand_instances", "load_table", "make_executor",
    "parse_param_grid", "rows_to_frame", "validate_and_row",
]
