"""`uara compare` and `uara report` for the pipelined serving problem (docs/pipeline.md).

Every solver runs on every pipeline instance for every seed; each solution is stored under
``OUTPUT/pipeline_runs/`` (resumable: a run whose file exists for the same instance fingerprint,
solver and options is reused), verified with :func:`verify_serving_solution` (the `uara validate`
check), replayed by the event-driven simulation, and becomes one row of ``OUTPUT/pipeline_results.csv``
(written atomically after every run). :mod:`uara.experiments.report.pipeline_section` adds the table and the
paper's comparisons to a report.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from uara.errors import UaraError
from uara.experiments.executors import run_all
from uara.experiments.grid import resume_key
from uara.experiments.comparison import write_manifest
from uara.io import atomic_write_bytes, atomic_write_json, dumps_json, folder_lock, package_versions, read_json
from uara.model.pipeline.serving_instance import PipelineInstance
from uara.model.pipeline.serving_solution import verify_serving_solution

PIPELINE_TABLE = "pipeline_results.csv"
COLUMNS = ("instance", "instance_file", "fingerprint", "users", "objective_kind", "solver", "options", "seed", "status",
           "error", "objective_s", "mean_latency_s", "max_latency_s", "event_driven_objective_s", "batches",
           "speculation_lengths", "micro_batches", "lower_bound_s", "wall_time_s", "solution_file")


def run_key(fingerprint: str, solver: str, options: dict[str, Any], seed: int) -> str:
    """Resume key of a pipeline run: instance fingerprint, solver, options, seed, and the back-end's code
    version (:meth:`uara.solvers.base.Solver.code_version`; left out while it is 1, as for P1 runs), so a
    run stored under an older version of the solver is rerun."""
    return resume_key([fingerprint, solver, options, seed], solver, 16)


@dataclass(frozen=True)
class PipelineRunSpec:
    """Everything one pipeline run depends on (picklable; :func:`execute_pipeline_run` is a pure function of it)."""

    instance_file: str
    instance_name: str
    fingerprint: str
    solver: str
    options: tuple[tuple[str, Any], ...]
    seed: int
    time_limit: float | None = None
    #: the instance file's JSON text for workers that may not see the file (dask); not in the key
    instance_json: str | None = field(default=None, compare=False, repr=False)

    @property
    def key(self) -> str:
        return run_key(self.fingerprint, self.solver, dict(self.options), self.seed)

    @property
    def file_name(self) -> str:
        """Where the run's solution is stored under ``pipeline_runs/``."""
        return f"{self.instance_name}__{self.solver}__s{self.seed}__{self.key}.json"


@dataclass
class PipelineRunResult:
    """What a worker sends back: the solution record, or why there is none."""

    spec: PipelineRunSpec
    record: dict[str, Any] | None
    error: str | None = None


def execute_pipeline_run(spec: PipelineRunSpec) -> PipelineRunResult:
    """Solve one pipeline run. Never raises: any failure comes back as ``error`` (the failure policy of P1 runs)."""
    from uara.solvers import get_solver

    try:
        inst = (PipelineInstance.from_dict(json.loads(spec.instance_json)) if spec.instance_json
                else PipelineInstance.load(spec.instance_file))
        sol = get_solver(spec.solver, **dict(spec.options)).solve(inst, time_limit=spec.time_limit, seed=spec.seed)
        return PipelineRunResult(spec, json.loads(dumps_json(sol.to_dict())))
    except Exception as exc:  # noqa: BLE001 - one failure policy for both families: an error row
        return PipelineRunResult(spec, None, str(exc) if isinstance(exc, UaraError) else f"{type(exc).__name__}: {exc}")


def compare_pipeline(files: Sequence[Path], solvers: Sequence[str], seeds: Sequence[int], output: str | Path, *,
                     options: dict[str, dict[str, Any]] | None = None, time_limit: float | None = None,
                     executor: str = "serial", workers: int | None = None, scheduler: Any = None,
                     log: Callable[[str], None] | None = None,
                     command: str | None = None) -> tuple[Path, list[dict[str, Any]]]:
    """Run the grid through the campaign loop of P1 runs (:func:`uara.experiments.executors.run_all`) and
    write the table after every run; returns (path, rows). A run whose solution file exists is reused."""
    from uara.solvers import problem_of

    log = log or (lambda m: None)
    bad = [s for s in solvers if problem_of(s) != "pipeline"]
    if bad:
        raise UaraError(f"solver '{bad[0]}' solves P1 instances; pipeline instances need pipeline-* solvers")
    out = Path(output)
    insts = {str(f): PipelineInstance.load(f) for f in files}  # every instance checked before a folder is made
    texts = {f: Path(f).read_text() if executor == "dask" else None for f in insts}  # dask: the data travels
    specs = [PipelineRunSpec(str(f), inst.name, inst.fingerprint(), solver,
                             tuple(sorted((options or {}).get(solver, {}).items())), seed, time_limit, texts[f])
             for f, inst in insts.items() for solver in solvers for seed in seeds]
    runs = out / "pipeline_runs"
    runs.mkdir(parents=True, exist_ok=True)
    with folder_lock(out):  # a second compare into the folder is refused, never interleaved
        write_manifest(out, command, {
            "family": "pipeline", "command": command, "instances": [str(f) for f in files], "solvers": list(solvers),
            "seeds": list(seeds), "options": options or {}, "time_limit_s": time_limit, "executor": executor,
            "runs": len(specs), "started_at": time.strftime("%Y-%m-%dT%H:%M:%S"), "versions": package_versions()})
        rows = _pipeline_campaign(out, runs, specs, insts, log, executor=executor, workers=workers, scheduler=scheduler)
    return _write(out, rows), rows


def _pipeline_campaign(out: Path, runs: Path, specs: list[PipelineRunSpec], insts: dict[str, PipelineInstance],
                       log: Callable[[str], None], **executor: Any) -> list[dict[str, Any]]:
    """The runs of a locked folder: reuse the stored ones, run the others, verify and tabulate each."""
    rows: dict[str, dict[str, Any]] = {}
    def store(res: PipelineRunResult, reused: bool = False) -> None:
        spec, inst = res.spec, insts[res.spec.instance_file]
        opts = dict(spec.options)
        if res.record is None:
            rows[spec.key] = _error_row(inst, Path(spec.instance_file), spec.solver, opts, spec.seed, res.error or "")
            log(f"{inst.name} {spec.solver} seed {spec.seed}: error: {res.error}")
        else:
            if not reused:
                atomic_write_json(runs / spec.file_name, res.record)
            rows[spec.key] = r = pipeline_row(inst, Path(spec.instance_file), runs / spec.file_name, opts,
                                              None if reused else res.record)
            score = f"{r['objective_s']:.6g} s" if r.get("objective_s") is not None else r.get("error", "")[:120]
            log(f"{inst.name} {spec.solver} seed {spec.seed}: {r['status']} {score}"
                + (" (reused)" if reused else f" ({r['wall_time_s']:.2f} s)"))
        if not reused:  # the table after every new run (the reused ones are in it from the next write on)
            _write(out, [rows[s.key] for s in specs if s.key in rows])

    todo = []
    for spec in specs:
        if (runs / spec.file_name).exists():
            store(PipelineRunResult(spec, {}), reused=True)
        else:
            todo.append(spec)
    run_all(todo, execute_pipeline_run, store, lambda spec: PipelineRunResult(
        spec, None, "worker died while running this run (killed by a signal, e.g. out of memory)"), **executor)
    return [rows[s.key] for s in specs if s.key in rows]


def pipeline_row(inst: PipelineInstance, inst_file: Path, sol_file: Path, options: dict[str, Any],
                 rec: dict[str, Any] | None = None) -> dict[str, Any]:
    """Verify a stored solution (``rec``, the record just written there, or read from ``sol_file``), replay
    it event by event, and make its table row."""
    from uara.psd.simulation.serving_events import event_check_or_reason
    from uara.model.pipeline.schedule import ServingDecision

    rec = read_json(sol_file, what="solution file") if rec is None else rec
    row = {**_run_row(inst, inst_file, rec["solver"], options, rec["seed"]), "status": rec["status"], "error": "",
           "lower_bound_s": rec.get("lower_bound_s"), "wall_time_s": rec["wall_time_s"], "solution_file": str(sol_file)}
    from uara.model.pipeline.schedule import memory_violations

    found = memory_violations(inst, ServingDecision.from_dict(rec["decision"]))
    if found:  # a batch that does not fit the MBS memory: an infeasible decision, re-checked here, not an error
        return {**row, "status": "infeasible",
                "error": f"infeasible: {found[0]}" + (f" (+{len(found) - 1} more)" if len(found) > 1 else "")}
    try:
        ev = verify_serving_solution(rec, inst)
    except UaraError as exc:
        return {**row, "status": "error", "error": str(exc)}
    dec = ServingDecision.from_dict(rec["decision"])
    row.update(objective_s=ev.objective_s, mean_latency_s=float(ev.completion_s.mean()),
               max_latency_s=float(ev.completion_s.max()),
               event_driven_objective_s=event_check_or_reason(inst, dec)[0],
               batches=len(dec.batches), speculation_lengths=" ".join(map(str, dec.speculation_length)),
               micro_batches=" ".join(map(str, dec.micro_batches)))
    return row


def _run_row(inst: PipelineInstance, f: Path, solver: str, opts: dict, seed: int) -> dict[str, Any]:
    """The columns that say which run a row is."""
    return {"instance": inst.name, "instance_file": str(f), "fingerprint": inst.fingerprint(), "users": inst.num_users,
            "objective_kind": inst.objective, "solver": solver, "options": json.dumps(opts, sort_keys=True),
            "seed": seed}


def _error_row(inst: PipelineInstance, f: Path, solver: str, opts: dict, seed: int, why: str) -> dict[str, Any]:
    return {**_run_row(inst, f, solver, opts, seed), "status": "error", "error": why}


def _write(out: Path, rows: list[dict[str, Any]]) -> Path:
    import csv
    import io

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(COLUMNS), extrasaction="ignore")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in COLUMNS})
    return atomic_write_bytes(out / PIPELINE_TABLE, buf.getvalue().encode())
