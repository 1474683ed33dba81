"""Comparison runner: instances x solvers x seeds x parameter values -> one tidy table.

benchopt's split: this wing *runs* and stores (one row per run, plus each
run's solution JSON); :mod:`uara.experiments.report` reads the stored table and plots.

Layout of an output folder::

    results.parquet     the table (results.csv when pyarrow is missing), rewritten atomically
    runs/<key>.json     one file per finished run: {"row": {...}, "solution": {...}}
    manifest.json       the command, the grid, what was skipped and why

Lower bounds live in the user-level bound cache (:mod:`uara.experiments.bounds`), shared with
``uara solve --bound``; the table carries the value each row was scored against.
The grid and its resume keys: :mod:`uara.experiments.grid`; one run:
:mod:`uara.experiments.worker`; verification and rows: :mod:`uara.experiments.table`;
executors: :mod:`uara.experiments.executors`. Runs are pure functions of their
spec, so every executor gives the same table up to the timing columns.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from uara.errors import UaraError
from uara.experiments.executors import run_all
from uara.experiments.grid import RunSpec, build_specs, check_solvers, expand_instances
from uara.experiments.progress import Progress
from uara.experiments.table import HIGH_BATTERY, validate_and_row, write_table
from uara.experiments.worker import RunResult, execute_run
from uara.io import atomic_write_json, folder_lock, package_versions, read_json
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


def compute_bounds(specs: Sequence[RunSpec], root: Path | None, time_limit: float | None,
                   log: Callable[[str], None], *, executor: str = "serial", workers: int | None = None,
                   scheduler: Any = None, threads: int = 1) -> dict[str, dict[str, Any]]:
    """The best lower bound on sum_t I(t) per effective instance (fingerprint -> {value, source}), relax's
    bounds computed where the bound cache (:mod:`uara.experiments.bounds`, under ``root``; None: the
    user cache) lacks them, one (slot, method) task at a time on the campaign's executor, so that on a
    dask cluster the workers compute them. ``log`` gets the budget first, then one line per bound with
    k/N and the ETA; a failed bound is a line, not a stop."""
    from uara.experiments.bounds import BoundResult, missing_tasks, result_line, run_bound_task, store_result, total_bound

    limit = time_limit if time_limit is not None else 60.0
    scenarios: dict[tuple[str, Any], tuple[Instance, dict[str, Any]]] = {}  # (file, params) -> loaded once
    for spec in specs:
        if spec.mode == "static" and (spec.instance_file, spec.params) not in scenarios:
            scenarios[(spec.instance_file, spec.params)] = (spec.instance(), dict(spec.params))
    insts = {inst.fingerprint(): inst for inst, _ in scenarios.values()}
    tasks = [task for inst in insts.values()
             for task in missing_tasks(inst, ("relax",), time_limit=limit, threads=threads, root=root)]
    if tasks:
        log(f"lower bounds: {len(tasks)} relax bound(s) to compute over {len(insts)} instance(s), at most "
            f"{limit:g} s each (--bound-time-limit), on the {executor} executor")
    progress = Progress(len(tasks), log)

    def store(res: BoundResult) -> None:
        store_result(insts[res.task.fingerprint], res, root=root)
        progress.step(result_line(res))

    def died(task: Any) -> BoundResult:
        return BoundResult(task, None, 0.0, "worker died while computing this bound")

    if tasks:
        run_all(tasks, run_bound_task, store, died, executor=executor, workers=workers, scheduler=scheduler,
                threads=threads)
    out: dict[str, dict[str, Any]] = {}
    for inst, params in scenarios.values():
        if inst.fingerprint() not in out:
            value, source = total_bound(inst, root=root)
            out[inst.fingerprint()] = {"instance": inst.name, "params": params, "value": value, "source": source}
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
    bound_cache: str | Path | None = None,
    keep_errors: bool = False,
    on_result: Callable[[dict[str, Any]], None] | None = None,
    log: Callable[[str], None] | None = None,
    command: str | None = None,
    warn: Callable[[str], None] | None = None,
) -> CompareResult:
    """Run the grid, resuming from ``output``; write the table atomically after every finished run.

    ``on_result(row)`` is called in the main process after each run is stored
    (progress; tests raise KeyboardInterrupt there to simulate a kill). ``warn`` receives what must be
    seen even when ``log`` is quiet (a stored run file that is unreadable and redone); default ``log``.
    ``log`` gets every finished run with the k/N counter and the ETA (and so do the bounds).

    Resuming reruns the runs stored as errors unless ``keep_errors`` (a failure is often the
    environment's: a missing file on a worker, a killed process). Bounds go to the user-level bound
    cache (``bound_cache`` to use another folder), shared with ``uara solve --bound``. With
    ``executor="dask"`` each run carries its instance as data, so workers need neither the files nor
    the client's working folder, and the bounds are computed on the cluster too.
    """
    log = log or (lambda msg: None)
    warn = warn or log
    out = Path(output)
    check_campaign_arguments(time_limit=time_limit, seeds=seeds, threads=threads, workers=workers,
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
                        time_limit=time_limit, threads=threads, latency=latency, embed=executor == "dask")
    out.mkdir(parents=True, exist_ok=True)
    with folder_lock(out):  # a second compare into the folder is refused, never interleaved
        return _campaign(out, specs, files, runnable, skipped, dict(
            command=command, seeds=list(seeds), params=list(params), options=options or {}, mode=mode,
            time_limit_s=time_limit, threads=threads, executor=executor), bounds=bounds,
            bound_time_limit=bound_time_limit, bound_cache=None if bound_cache is None else Path(bound_cache),
            keep_errors=keep_errors, workers=workers, scheduler=scheduler, on_result=on_result, log=log,
            warn=warn)


def _campaign(out: Path, specs: list[RunSpec], files: Sequence[Path], runnable: Sequence[str], skipped: dict[str, str],
              grid: dict[str, Any], *, bounds: bool, bound_time_limit: float | None, bound_cache: Path | None,
              keep_errors: bool, workers: int | None,
              scheduler: Any, on_result: Callable[[dict[str, Any]], None] | None,
              log: Callable[[str], None], warn: Callable[[str], None]) -> CompareResult:
    """The campaign in a locked folder: the manifest, the stored runs, the bounds, the runs left, the table."""
    executor, threads = grid["executor"], grid["threads"]
    runs_dir = out / "runs"
    runs_dir.mkdir(parents=True, exist_ok=True)
    write_manifest(out, grid["command"], {
        "family": "p1", "command": grid["command"], "instances": [str(f) for f in files], "solvers": list(runnable),
        "skipped_solvers": skipped, "seeds": grid["seeds"], "params": grid["params"], "options": grid["options"],
        "mode": grid["mode"], "time_limit_s": grid["time_limit_s"], "threads": threads, "executor": executor,
        "runs": len(specs), "started_at": time.strftime("%Y-%m-%dT%H:%M:%S"), "versions": package_versions(),
    })
    done = _stored_rows(runs_dir, warn)  # this grid's and earlier grids': the table holds them all
    todo = [s for s in specs if s.key not in done or (done[s.key]["status"] == "error" and not keep_errors)]
    retried = sum(1 for s in todo if s.key in done)
    reused = len(specs) - len(todo)
    log(f"{len(specs)} runs: {reused} already done, {len(todo)} to run ({executor})"
        + (f", of which {retried} error row(s) retried (--keep-errors keeps them)" if retried else ""))
    bound_info = compute_bounds(specs, bound_cache, bound_time_limit, log, executor=executor, workers=workers,
                                scheduler=scheduler, threads=threads) if bounds else {}
    progress = Progress(len(todo), log)
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
        progress.step(_row_line(row))
        if on_result is not None:
            on_result(row)

    try:
        if todo:
            run_all(todo, execute_run, store, _died, executor=executor, workers=workers, scheduler=scheduler, threads=threads)
    finally:
        rows = list(done.values())
        table_path = write_table(out, rows, bound_info)
    keys = {s.key for s in specs}
    errors = sum(1 for r in rows if r["status"] == "error" and r["key"] in keys)
    return CompareResult(out, table_path, rows, len(todo), reused, skipped, errors)


def check_campaign_arguments(*, time_limit: float | None, seeds: Sequence[int], threads: int, workers: int | None,
                             bound_time_limit: float | None) -> None:
    """One-line errors for arguments of the whole campaign, before any run (so none is stored as an error
    row); the same checks as a single run's (:mod:`uara.solvers.driver`), naming the campaign's flags."""
    from uara.solvers.driver import check_count, check_seconds, check_seed

    check_seconds(time_limit, "--time-limit")
    check_seconds(bound_time_limit, "--bound-time-limit")
    for seed in seeds:
        check_seed(seed, "--seeds")
    check_count(threads, "--threads")
    if workers is not None:
        check_count(workers, "--workers")


def write_manifest(out: Path, command: str | None, invocation: dict[str, Any]) -> None:
    """manifest.json: this invocation (of either family's campaign), after the earlier ones (an identical
    command replaces its earlier entry)."""
    mpath = out / "manifest.json"
    try:
        manifest = read_json(mpath, what="manifest") if mpath.exists() else {}
    except UaraError:
        manifest = {}
    invocations = [i for i in manifest.get("invocations", []) if i.get("command") != command or command is None]
    atomic_write_json(mpath, {"format": COMPARE_FORMAT, "high_battery_threshold": HIGH_BATTERY,
                              "invocations": invocations + [invocation], **invocation})


#: what a stored row must hold to be reused (a file without them is reported and its run redone)
ROW_KEYS = ("key", "instance", "solver", "seed", "status")


def _stored_rows(runs_dir: Path, log: Callable[[str], None]) -> dict[str, dict[str, Any]]:
    """key -> row of every run stored in ``runs_dir``; a malformed, truncated or foreign file is reported by
    name (``log``) and left out, so its run is redone (and its file replaced)."""
    done: dict[str, dict[str, Any]] = {}
    for f in sorted(runs_dir.glob("*.json")):
        try:
            data = read_json(f, what="run file")
            row = data.get("row") if isinstance(data, dict) else None
            missing = "not a run file" if not isinstance(row, dict) else next(
                (f"its row has no '{k}'" for k in ROW_KEYS if k not in row), None)
            if missing is None and row["key"] != f.stem:
                missing = f"its row is run {row['key']!r}, not {f.stem!r}"
            if missing is None and (not isinstance(data.get("solution"), (dict, type(None)))
                                    or (row["status"] != "error" and not isinstance(data.get("solution"), dict))):
                missing = "it holds no solution"
        except UaraError as exc:
            missing = str(exc)
        if missing is not None:
            log(f"warning: ignoring run file {f} ({missing}); the run is redone")
            continue
        done[f.stem] = row
    return done


def _row_line(row: dict[str, Any]) -> str:
    """The progress line of a stored run."""
    what = f"{row['instance']} {row['solver']} seed {row['seed']} {row['params']}"
    if row["status"] == "error":
        return f"ERROR {what}: {row['error']}"
    return f"done  {what}: I = {row['objective']:.10g} ({row['status']}, {row['wall_time_s']:.2f} s)"


def _died(spec: RunSpec) -> RunResult:
    """The result of a run whose worker died twice (:func:`uara.experiments.executors.run_all`)."""
    return RunResult(spec, None, 0.0, "worker died while running this run (killed by a signal, e.g. out of memory); "
                                      "the other runs went on")
