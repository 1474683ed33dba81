"""The run grid: instances x solvers x seeds x parameter values -> a list of :class:`RunSpec`.

A run's ``key`` hashes everything its result depends on (instance fingerprint,
solver, options, time limit, mode, seed, params and the back-end's code
``VERSION``), so a rerun of a grid into the same folder finds its finished runs.
Everything a user can get wrong (an unknown solver, a bad option, a parameter
name, a time limit) is checked here, before any run starts.
"""

from __future__ import annotations

import glob
import hashlib
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from uara.model.shared.formats import PIPELINE_INSTANCE_FORMAT
from uara.errors import SolverError, UaraError
from uara.io import parse_key_value
from uara.model.instance import STRING_PARAMS, Instance


@dataclass(frozen=True)
class RunSpec:
    """Everything one run depends on. Picklable; :func:`execute_run` is a pure function of it."""

    instance_file: str
    base_fingerprint: str
    solver: str
    seed: int
    options: tuple[tuple[str, Any], ...] = ()
    params: tuple[tuple[str, float | str], ...] = ()
    mode: str = "static"
    time_limit: float | None = None
    threads: int = 1
    latency: bool = True
    #: the instance file's JSON text, carried to workers that may not see the file (dask); not in the key
    instance_json: str | None = field(default=None, compare=False, repr=False)

    @property
    def key(self) -> str:
        """Resume key: instance fingerprint + solver + options (+ time limit, mode) + seed + params,
        plus the back-end's code version (:meth:`Solver.code_version`: ``VERSION`` and the versions of the
        shared core helpers it uses; each 1 is left out, so keys of runs stored before versions existed
        still match)."""
        return resume_key([self.base_fingerprint, self.solver, list(self.options), self.time_limit, self.mode,
                           self.seed, list(self.params)], self.solver, 20)

    def instance(self) -> Instance:
        """The instance with this run's parameter values applied (from the carried JSON text when there is
        one, else from the file)."""
        inst = Instance.from_dict(json.loads(self.instance_json)) if self.instance_json else Instance.load(self.instance_file)
        return inst.with_params(**dict(self.params)) if self.params else inst


def resume_key(fields: list[Any], solver: str, length: int) -> str:
    """The resume key of a run of either family: SHA-256 of the JSON of ``fields`` and the back-end's code
    version (:meth:`uara.solvers.base.Solver.code_version`, left out while empty, so keys made before
    versions existed still match), first ``length`` hex digits."""
    from uara.solvers import get_solver_class

    version = get_solver_class(solver).code_version()
    payload = json.dumps([*fields, version] if version else list(fields), sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:length]


def parse_param_grid(items: Sequence[str] | None) -> list[dict[str, float | str]]:
    """``["energy_weight=20,40", "lambda=0.01"]`` -> the cartesian product as dicts (``[{}]`` when empty)."""
    axes: list[tuple[str, list[float]]] = []
    for item in items or []:
        name, values = parse_key_value(item, "--param")
        if not values:
            raise UaraError(f"--param expects NAME=V1,V2,..., got {item!r}")
        raw = [v.strip() for v in values.split(",") if v.strip()]
        if name in STRING_PARAMS:  # e.g. energy_model=paper,physical (checked by Params.with_changes)
            vals: list = raw
        else:
            try:
                vals = [float(v) for v in raw]
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
        if getattr(cls, "PROBLEM", "p1") != "p1":
            skipped[name] = f"solves pipeline instances ({PIPELINE_INSTANCE_FORMAT}), not P1 ones"
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
    embed: bool = False,
) -> list[RunSpec]:
    """The grid of runs, in a fixed order; ``embed``: each spec carries its instance's JSON text (for workers
    on other machines or in other folders)."""
    if mode not in ("static", "episode"):
        raise UaraError(f"--mode must be static or episode, got {mode!r}")
    specs = []
    for f in instance_files:
        inst = Instance.load(f)
        fp = inst.fingerprint()
        text = Path(f).read_text() if embed else None
        for pv in params:
            if pv:
                inst.with_params(**pv)  # validate names and values once, here
            for solver in solvers:
                opts = tuple(sorted((options or {}).get(solver, {}).items()))
                for seed in seeds:
                    specs.append(RunSpec(str(f), fp, solver, int(seed), opts, tuple(sorted(pv.items())), mode,
                                         time_limit, threads, latency, text))
    return specs
