"""Comparison runner: instances x solvers x seeds x parameter values -> one tidy table.

benchopt's split: this wing *runs* and stores (one row per run, plus each
run's solution JSON); :mod:`uara.experiments.report_builder` reads the stored table and plots.

Layout of an output folder::

    results.parquet     the table (results.csv when pyarrow is missing), rewritten atomically
    runs/<key>.json     one file per finished run: {"row": {...}, "solution": {...}}
    bounds/<fp>.json    best lower bounds per effective instance (uara.experiments.bounds, the one cache)
    manifest.json       the command, the grid, what was skipped and why

The grid and its resume keys: :mod:`uara.experiments.grid`; one run:
:mod:`uara.experiments.worker`; verification and rows: :mod:`uara.experiments.table`;
executors: :mod:`uara.experiments.executors`. Runs are pure functions of their
spec, so every executor gives the same table up to the timing columns.
"""

from __future__ import annotations

import concurrent.futures as cf
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from uara.errors import UaraError
from uara.experiments.executors import make_executor, run_isolated
from uara.experiments.grid import RunSpec, build_specs, check_solvers, expand_instances
from uara.experiments.table import HIGH_BATTERY, validate_and_row, write_table
from uara.experiments.worker import RunResult, execute_run
from uara.io import atomic_write_json, package_versions, read_json
from uara.model.shared.formats import COMPARE_FORMAT
from uara.model.instance import Instance




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


def compute_bounds(specs: Sequence[RunSpec], out_dir: Path, time_limit: float | None,
                   log: Callable[[str], None]) -> dict[str, dict[str, Any]]:
    """The best lower bound on sum_t I(t) per effective instance (fingerprint -> {value, source}), computed by
    relax where the folder's bound cache (:mod:`uara.experiments.bounds`, under ``out_dir``) lacks it."""
    from uara.experiments.bounds import best_lower_bound, total_bound

    out: dict[str, dict[str, Any]] = {}
    seen: set[tuple[str, Any]] = set()
    for spec in specs:
        if spec.mode != "static" or (spec.instance_file, spec.params) in seen:
            continue
        seen.add((spec.instance_file, spec.params))
        inst = spec.instance()
        try:
            best_lower_bound(inst, time_limit=time_limit if time_limit is not None else 60.0, root=out_dir)
        except Exception as exc:
            log(f"lower bound of {inst.name} {dict(spec.params)}: failed ({type(exc).__name__}: {exc})")
        value, source = total_bound(inst, root=out_dir)
        out[inst.fingerprint()] = {"instance": inst.name, "params": dict(spec.params), "value": value, "source": source}
    return out


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
    check_run_arguments(time_limit=time_limit, seeds=seeds, threads=threads, workers=workers,
                        bound_time_limit=bound_time_limit)
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
    _write_manifest(out, command, {
        "command": command, "instances": [str(f) for f in files],
        "solvers": list(runnable), "skipped_solvers": skipped, "seeds": list(seeds), "params": list(params),
        "options": options or {}, "mode": mode, "time_limit_s": time_limit, "threads": threads,
        "executor": executor, "runs": len(specs), "started_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "versions": package_versions(),
    })
    done = _stored_rows(runs_dir, log)  # this grid's and earlier grids': the table holds them all
    todo = [s for s in specs if s.key not in done]
    reused = len(specs) - len(todo)
    log(f"{len(specs)} runs: {reused} already done, {len(todo)} to run ({executor})")
    if bounds:
        log("computing lower bounds (relax, cached in the folder)")
    bound_info = compute_bounds(specs, out, bound_time_limit, log) if bounds else {}
    cache: dict[Any, Instance] = {}
    last_write = [0.0]

    def store(res: RunResult) -> None:
        row = validate_and_row(res, cache)
        row["solution_file"] = f"runs/{res.spec.key}.json"
        atomic_write_json(runs_dir / f"{res.spec.key}.json", {"row": row, "solution": res.record})
        done[res.spec.key] = row
        if time.monotonic() - last_write[0] > 2.0:
            write_table(out, list(done.values()), bound_info)
            last_write[0] = time.monotonic()
        log(_row_line(row))
        if on_result is not None:
            on_result(row)

    try:
        if todo:
            _run_all(todo, store, executor=executor, workers=workers, scheduler=scheduler, threads=threads)
    finally:
        rows = list(done.values())
        table_path = write_table(out, rows, bound_info)
    keys = {s.key for s in specs}
    errors = sum(1 for r in rows if r["status"] == "error" and r["key"] in keys)
    return CompareResult(out, table_path, rows, len(todo), reused, skipped, errors)


def check_run_arguments(*, time_limit: float | None, seeds: Sequence[int], threads: int, workers: int | None,
                        bound_time_limit: float | None) -> None:
    """One-line errors for arguments of the whole campaign, before any run (so none is stored as an error row)."""
    for flag, value in (("--time-limit", time_limit), ("--bound-time-limit", bound_time_limit)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                  or not math.isfinite(value) or value <= 0):
            raise UaraError(f"{flag} must be positive seconds, got {value!r}")
    for seed in seeds:
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise UaraError(f"--seeds must be non-negative integers, got {seed!r}")
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise UaraError(f"--threads must be a positive integer, got {threads!r}")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise UaraError(f"--workers must be a positive integer, got {workers!r}")


def _write_manifest(out: Path, command: str | None, invocation: dict[str, Any]) -> None:
    """manifest.json: this invocation, after the earlier ones (an identical command replaces its earlier entry)."""
    mpath = out / "manifest.json"
    try:
        manifest = read_json(mpath, what="manifest") if mpath.exists() else {}
    except UaraError:
        manifest = {}
    invocations = [i for i in manifest.get("invocations", []) if i.get("command") != command or command is None]
    atomic_write_json(mpath, {"format": COMPARE_FORMAT, "high_battery_threshold": HIGH_BATTERY,
                              "invocations": invocations + [invocation], **invocation})


def _stored_rows(runs_dir: Path, log: Callable[[str], None]) -> dict[str, dict[str, Any]]:
    """key -> row of every run stored in ``runs_dir`` (an unreadable file is redone)."""
    done: dict[str, dict[str, Any]] = {}
    for f in sorted(runs_dir.glob("*.json")):
        try:
            done[f.stem] = read_json(f, what="run file")["row"]
        except (UaraError, KeyError, TypeError):
            log(f"ignoring unreadable run file {f}; the run is redone")
    return done


def _row_line(row: dict[str, Any]) -> str:
    """The progress line of a stored run."""
    what = f"{row['instance']} {row['solver']} seed {row['seed']} {row['params']}"
    if row["status"] == "error":
        return f"ERROR {what}: {row['error']}"
    return f"done  {what}: I = {row['objective']:.6g} ({row['status']}, {row['wall_time_s']:.2f} s)"


def _run_all(todo: Sequence[RunSpec], store: Callable[[RunResult], None], *, executor: str, workers: int | None,
             scheduler: Any, threads: int) -> None:
    """Execute ``todo`` on the chosen executor, storing each result as it finishes. If a process worker
    dies (``BrokenProcessPool``: an out-of-memory kill, a crash in native code), the runs not yet stored
    are run again one per fresh process, and a run that kills its worker again is stored as an error row."""
    from concurrent.futures.process import BrokenProcessPool

    ex, close = make_executor(executor, workers, scheduler, threads=threads)
    pending = {spec.key: spec for spec in todo}
    broken = False
    try:
        if ex is None:
            for spec in todo:
                store(execute_run(spec))
        else:
            futures = [ex.submit(execute_run, spec) for spec in todo]
            try:
                for fut in cf.as_completed(futures):
                    res = fut.result()
                    store(res)
                    pending.pop(res.spec.key, None)
            except BrokenProcessPool:
                broken = True
    finally:
        close()
    if broken and pending:
        def died(spec: RunSpec) -> None:
            store(RunResult(spec, None, 0.0, "worker died while running this run (killed by a signal, e.g. out of "
                                             "memory); the other runs went on"))

        run_isolated(list(pending.values()), execute_run, store, died, threads=threads)
