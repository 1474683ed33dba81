"""`uara compare`: instances x solvers x seeds (x --param values) -> a tidy results table, resumable."""

from __future__ import annotations

import argparse
import shlex
import sys
from typing import Any

from uara.cli._common import add_server_model_argument
from uara.errors import UaraError
from uara.io import parse_key_value, parse_value


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compare",
        help="compare solvers on instances: one table row per run (resumable)",
        description=(
            "Run every solver on every instance for every seed (and every --param value), validate each solution "
            "(constraints, objective re-scored from the decisions), attach the gap to the best known lower bound, "
            "the PSD latency, energy by battery level and wall time, and write OUTPUT/results.parquet. "
            "Rerunning into the same OUTPUT does only the missing runs. See docs/compare.md."
        ),
    )
    p.add_argument("instances", nargs="+", help="instance files, folders (their *.json) or globs")
    p.add_argument("--solvers", "-s", default=None,
                   help="comma-separated back-ends, e.g. random,max-sinr,max-compute,tma,masac,relax,exact (default for "
                        "P1 instances random,max-sinr,max-compute,tma; for pipeline instances the pipeline-* set)")
    p.add_argument("--seeds", default="0", help="comma-separated seeds (default 0)")
    p.add_argument("--param", action="append", metavar="NAME=V1,V2,...",
                   help="sweep an instance parameter, one run per value (e.g. energy_weight=20,40,60,80,100); repeatable: cartesian product")
    add_server_model_argument(p)
    p.add_argument("--option", "-o", action="append", metavar="SOLVER:KEY=VALUE",
                   help="option for one solver, e.g. tma:max_swaps=50 or relax:samples=8 (`uara solvers NAME` lists a "
                        "solver's options); repeatable")
    p.add_argument("--mode", choices=["static", "episode"], default="static",
                   help="static: score each slot's recorded state; episode: roll battery/backlog forward with each solver's decisions")
    p.add_argument("--time-limit", type=float, default=None, metavar="S", help="wall-clock limit per run in seconds")
    p.add_argument("--threads", type=int, default=1, help="threads per run (default 1)")
    p.add_argument("--output", "-O", required=True, metavar="DIR", help="output folder (table, runs/, manifest)")
    p.add_argument("--executor", choices=["process", "serial", "dask"], default="process",
                   help="process: local process pool (default); serial: in this process; dask: a distributed cluster")
    p.add_argument("--workers", type=int, default=None, help="processes for --executor process (default: CPU count)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS", help="dask scheduler address for --executor dask")
    p.add_argument("--no-latency", action="store_true", help="skip the PSD end-to-end latency simulation")
    p.add_argument("--no-bounds", action="store_true", help="do not compute lower bounds with uara.experiments.bounds")
    p.add_argument("--bound-time-limit", type=float, default=None, metavar="S",
                   help="seconds per slot for each relax lower bound (default 60); bounds are cached in the user cache "
                        "($UARA_CACHE_DIR or e.g. ~/.cache/uara), shared with `uara solve --bound`")
    p.add_argument("--bound-cache", default=None, metavar="DIR",
                   help="keep the lower bounds in DIR/bounds instead of the user cache")
    p.add_argument("--keep-errors", action="store_true",
                   help="on resume, keep runs stored as errors instead of running them again")
    p.add_argument("--quiet", "-q", action="store_true", help="print only the summary")
    p.set_defaults(func=run)


def parse_list(text: str, what: str, conv=str) -> list:
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise UaraError(f"{what} is empty")
    try:
        return [conv(t) for t in items]
    except ValueError:
        raise UaraError(f"{what} must be a comma-separated list, got {text!r}") from None


#: the P1 solvers a compare runs when --solvers is left out
DEFAULT_P1 = ("random", "max-sinr", "max-compute", "tma")


def parse_solver_options(items: list[str] | None) -> dict[str, dict[str, Any]]:
    """``["relax:samples=8", ...]`` -> {"relax": {"samples": 8}} (values as :func:`uara.io.parse_value`)."""
    out: dict[str, dict[str, Any]] = {}
    for item in items or []:
        solver, sep, kv = item.partition(":")
        if not sep or not solver.strip():
            raise UaraError(f"--option expects SOLVER:KEY=VALUE, got {item!r}")
        key, value = parse_key_value(kv, f"--option {solver.strip()}:")
        out.setdefault(solver.strip(), {})[key] = parse_value(value)
    return out


def run(args: argparse.Namespace) -> int:
    from uara.experiments.comparison import compare
    from uara.experiments.grid import expand_instances, parse_param_grid
    from uara.model.shared.family import family_of_file

    seeds = parse_list(args.seeds, "--seeds", int)
    if args.server_model:  # the instances' params.server_model, for every run (the table has both models' latency)
        args.param = [*(args.param or []), f"server_model={args.server_model}"]
    if args.solvers is not None and not [n for n in args.solvers.split(",") if n.strip()]:
        raise UaraError("--solvers: no solver named (give e.g. --solvers tma,max-sinr, or leave the flag out for the defaults)")
    options = parse_solver_options(args.option)
    _check_option_targets(args.solvers, options)
    files = expand_instances(args.instances)
    pipeline_files = [f for f in files if family_of_file(f).name == "pipeline"]
    p1_files = [f for f in files if f not in pipeline_files]
    errors = 0
    if args.executor == "dask" and not args.scheduler:
        raise UaraError("--executor dask needs --scheduler ADDRESS (e.g. tcp://127.0.0.1:8786)")
    if pipeline_files:
        errors += _compare_pipeline(args, pipeline_files, seeds, options)
    if not p1_files:
        return 1 if errors else 0
    solvers = parse_list(args.solvers, "--solvers") if args.solvers else list(DEFAULT_P1)
    log = (lambda m: None) if args.quiet else (lambda m: print(m, flush=True))
    res = compare(
        [str(f) for f in p1_files], solvers, seeds, args.output,
        params=parse_param_grid(args.param), options=options, mode=args.mode,
        time_limit=args.time_limit, threads=args.threads, executor=args.executor, workers=args.workers,
        scheduler=args.scheduler, latency=not args.no_latency, bounds=not args.no_bounds,
        bound_time_limit=args.bound_time_limit, bound_cache=args.bound_cache, keep_errors=args.keep_errors, log=log, warn=lambda m: print(f"uara: {m}", file=sys.stderr, flush=True),
        command=_command_line(),
    )
    print(f"{len(res.rows)} runs ({res.ran} run now, {res.reused} reused), {res.errors} error row(s); table {res.table_path}")
    for name, why in res.skipped_solvers.items():
        print(f"skipped {name}: {why}")
    return 1 if res.errors or errors else 0


def _command_line() -> str | None:
    """The command as typed (recorded in manifest.json), when this process is ``uara compare``."""
    return "uara compare " + " ".join(shlex.quote(a) for a in sys.argv[2:]) if sys.argv[1:2] == ["compare"] else None


def _check_option_targets(solvers: str | None, options: dict[str, dict[str, Any]]) -> None:
    """An ``--option SOLVER:KEY=VALUE`` for a solver the command does not run would be dropped silently."""
    from uara.solvers import PIPELINE_DEFAULT

    named = set(parse_list(solvers, "--solvers")) if solvers else set(DEFAULT_P1) | set(PIPELINE_DEFAULT)
    for solver in options:
        if solver not in named:
            raise UaraError(f"--option {solver}:...: solver '{solver}' is not among the solvers run "
                            f"({', '.join(sorted(named))})")


def _compare_pipeline(args: argparse.Namespace, files: list, seeds: list[int],
                      opts: dict[str, dict[str, Any]]) -> int:
    """The pipeline instances of the command: pipeline-* solvers, OUTPUT/pipeline_results.csv."""
    from uara.experiments.pipeline_comparison import compare_pipeline
    from uara.solvers import PIPELINE_DEFAULT, get_solver, problem_of

    names = parse_list(args.solvers, "--solvers") if args.solvers else list(PIPELINE_DEFAULT)
    names = [n for n in names if problem_of(n) == "pipeline"]
    if not names:
        raise UaraError("pipeline instances need pipeline-* solvers in --solvers (e.g. pipeline-dp,pipeline-uniform)")
    log = (lambda m: None) if args.quiet else (lambda m: print(m, flush=True))
    for name in names:  # option errors before the first run, not as error rows
        get_solver(name, **opts.get(name, {}))
    path, rows = compare_pipeline(files, names, seeds, args.output, options=opts,
                                  command=_command_line(),
                                  time_limit=args.time_limit, executor=args.executor, workers=args.workers,
                                  scheduler=args.scheduler, log=log)
    errors = sum(r["status"] == "error" for r in rows)
    print(f"{len(rows)} pipeline runs, {errors} error row(s); table {path}")
    return errors
