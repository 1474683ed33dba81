"""Best known lower bounds per instance and slot, cached on disk.

A comparison scores every solver against the same bound: for slot t,
LB(t) = max over the methods run so far of their proven lower bound on I(t).
The methods are the registered back-ends that prove bounds
(``Solver.PROVIDES_BOUND``: relax's Lagrangian certificate, exact's SCIP dual
bound, price's column-generation bound, brute force's optimum); each cached
entry carries the back-end's ``Solver.VERSION`` and entries of another version
are recomputed. Any solution's own bound can be added with :func:`record_bound`.
This is the one bound cache, shared by ``uara solve --bound`` and ``uara compare``: it lives in the
user's cache folder (:func:`user_cache_root`: ``$UARA_CACHE_DIR`` if set, else platformdirs' user cache
folder for ``uara``, e.g. ``~/.cache/uara`` on Linux), never in the working folder unasked. Bounds are
stored in ``<root>/bounds/<fingerprint>.json`` (format ``BOUNDS_FORMAT``), written atomically.
Each (slot, method) bound is a :class:`BoundTask`, a pure function of the instance's data, so a
campaign can compute them on its executor (a process pool, a dask cluster: :func:`run_bound_task`).
Two processes updating one file at once can lose one update (never corrupt
the file); the lost bound is recomputed on the next call.

    gap(solution, t) = (I(t) - LB(t)) / (I(t) - C(t))        (docs/model.md)
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from uara.errors import SolverError, UaraError
from uara.model.instance import Instance
from uara.io import atomic_write_json, read_json
from uara.model.solution import Solution, relative_gap

from uara.model.shared.formats import BOUNDS_FORMAT  # noqa: E402


def bound_methods() -> tuple[str, ...]:
    """The registered back-ends that prove lower bounds (``PROVIDES_BOUND``), in registry order."""
    from uara.solvers import get_solver_class, solver_names

    out = []
    for name in solver_names():
        try:
            if get_solver_class(name).PROVIDES_BOUND:
                out.append(name)
        except SolverError:  # registered but not part of this installation
            continue
    return tuple(out)


def method_version(method: str) -> int:
    """The code version of a bound method: its back-end's ``Solver.VERSION`` (1 for names outside the registry,
    e.g. bounds recorded by hand)."""
    from uara.solvers import get_solver_class, solver_names

    if method not in solver_names():
        return 1
    return int(getattr(get_solver_class(method), "VERSION", 1))


def check_methods(methods: Iterable[str]) -> tuple[str, ...]:
    """``methods`` as a tuple, or a one-line error naming the first that proves no bound."""
    known = bound_methods()
    methods = tuple(methods)
    for mth in methods:
        if mth not in known:
            raise SolverError(f"unknown bound method {mth!r}; choose from: {', '.join(known)}")
    return methods


def user_cache_root() -> Path:
    """uara's user-level cache folder: ``$UARA_CACHE_DIR`` when set, else platformdirs' user cache folder
    for ``uara`` (``$XDG_CACHE_HOME/uara`` or ``~/.cache/uara`` where platformdirs is not installed)."""
    env = os.environ.get("UARA_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    try:
        from platformdirs import user_cache_dir
    except ImportError:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        return Path(base) / "uara"
    return Path(user_cache_dir("uara", appauthor=False))


def cache_dir(root: str | os.PathLike | None = None) -> Path:
    """The bounds folder: ``<root or user_cache_root()>/bounds``."""
    return (Path(root) if root is not None else user_cache_root()) / "bounds"


def _path(instance: Instance, root: str | os.PathLike | None) -> Path:
    return cache_dir(root) / f"{instance.fingerprint()}.json"


def load_bounds(instance: Instance, *, root: str | os.PathLike | None = None) -> list[dict[str, Any]]:
    """The cached entries per slot: ``[{method: {"bound": float, "time_s": float}}]`` (empty dicts if none)."""
    path = _path(instance, root)
    slots: list[dict[str, Any]] = [{} for _ in range(instance.num_slots)]
    if not path.exists():
        return slots
    try:
        data = read_json(path, "bounds cache")
    except UaraError:
        return slots  # unreadable cache: recompute, it is overwritten on the next write
    if data.get("format") != BOUNDS_FORMAT or data.get("fingerprint") != instance.fingerprint():
        return slots
    for t, entry in enumerate(data.get("slots", [])[: instance.num_slots]):
        if isinstance(entry, dict):
            slots[t] = {
                k: v for k, v in entry.items()
                if isinstance(v, dict) and _finite(v.get("bound"))
                and v.get("version", 1) == method_version(k)
            }
    return slots


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v)


def _save(instance: Instance, slots: list[dict[str, Any]], root: str | os.PathLike | None) -> None:
    atomic_write_json(
        _path(instance, root),
        {"format": BOUNDS_FORMAT, "fingerprint": instance.fingerprint(), "instance": instance.name, "slots": slots},
    )


def record_bound(
    instance: Instance, slot: int, method: str, bound: float, *, time_s: float | None = None, root: str | os.PathLike | None = None
) -> None:
    """Add a proven lower bound on I(slot) to the cache (kept only if better than the method's cached one)."""
    if not _finite(bound):
        return
    slots = load_bounds(instance, root=root)
    old = slots[slot].get(method)
    if old is None or bound > old["bound"]:
        slots[slot][method] = {"bound": float(bound), "time_s": time_s, "version": method_version(method)}
        _save(instance, slots, root)


@dataclass(frozen=True)
class BoundTask:
    """One bound to compute: ``method`` on slot ``slot`` of an instance, carried as its JSON text so that a
    worker on another machine needs no file (picklable; :func:`run_bound_task` is a pure function of it)."""

    instance_json: str
    fingerprint: str
    instance_name: str
    slot: int
    method: str
    time_limit: float | None
    threads: int = 1

    @property
    def key(self) -> str:
        return f"{self.fingerprint}:{self.slot}:{self.method}"


@dataclass
class BoundResult:
    """What :func:`run_bound_task` sends back: the proven bound on I(slot) (None if the method gave none)."""

    task: BoundTask
    bound: float | None
    time_s: float
    error: str | None = None

    @property
    def spec(self) -> BoundTask:  # the campaign loop's name for what a result answers
        return self.task


def run_bound_task(task: BoundTask, instance: Instance | None = None) -> BoundResult:
    """Run ``task.method`` on one slot (``task.time_limit`` seconds) and return its proven bound; a failure
    comes back as ``error``, never raised (one failure policy with the runs). ``instance``: the task's
    instance when the caller holds it (in process: not parsed again from the task's JSON)."""
    import json

    from uara.solvers import get_solver

    t0 = time.perf_counter()
    try:
        inst = instance if instance is not None else Instance.from_dict(json.loads(task.instance_json))
        sol = get_solver(task.method).solve(inst, time_limit=task.time_limit, threads=task.threads, slots=[task.slot])
        bound = sol.slots[0].lower_bound
        return BoundResult(task, float(bound) if _finite(bound) else None, time.perf_counter() - t0)
    except Exception as exc:  # noqa: BLE001 - reported by the caller, the other bounds go on
        return BoundResult(task, None, time.perf_counter() - t0, f"{type(exc).__name__}: {exc}")


def missing_pairs(instance: Instance, methods: Iterable[str], *, slots: Iterable[int] | None = None,
                  root: str | os.PathLike | None = None, use_cache: bool = True) -> list[tuple[int, str]]:
    """The (slot, method) bounds of ``instance`` not yet in the cache, slot by slot."""
    methods = check_methods(methods)
    cached = load_bounds(instance, root=root) if use_cache else [{} for _ in range(instance.num_slots)]
    todo = range(instance.num_slots) if slots is None else list(slots)
    return [(t, m) for t in todo for m in methods if m not in cached[t]]


def missing_tasks(instance: Instance, methods: Iterable[str], *, time_limit: float | None, threads: int = 1,
                  slots: Iterable[int] | None = None, root: str | os.PathLike | None = None,
                  use_cache: bool = True) -> list[BoundTask]:
    """:func:`missing_pairs` as tasks carrying the instance's JSON text."""
    from uara.model.instance import dumps_instance

    need = missing_pairs(instance, methods, slots=slots, root=root, use_cache=use_cache)
    if not need:
        return []
    text, fp = dumps_instance(instance), instance.fingerprint()
    return [BoundTask(text, fp, instance.name, t, m, time_limit, threads) for t, m in need]


def store_result(instance: Instance, result: BoundResult, *, root: str | os.PathLike | None = None) -> None:
    """Add a finished task's bound to the cache (merged with what another process wrote meanwhile)."""
    if result.bound is not None:
        record_bound(instance, result.task.slot, result.task.method, result.bound, time_s=result.time_s, root=root)


def result_line(result: BoundResult) -> str:
    """The progress line of a finished bound (after the k/N counter)."""
    t = result.task
    what = f"{t.method} bound {t.instance_name} slot {t.slot}"
    if result.error is not None:
        return f"{what}: failed ({result.error})"
    value = f"{result.bound:.10g}" if result.bound is not None else "none"
    return f"{what}: {value} ({result.time_s:.1f} s)"


def best_lower_bound(
    instance: Instance,
    *,
    time_limit: float | None = 60.0,
    methods: Iterable[str] = ("relax",),
    threads: int = 1,
    slots: Iterable[int] | None = None,
    root: str | os.PathLike | None = None,
    use_cache: bool = True,
    log: Callable[[str], None] | None = None,
) -> list[float | None]:
    """Best known lower bound on I(t) for every slot t (None where no method gave one).

    Runs each method in ``methods`` once per slot (``time_limit`` seconds per slot and method) unless its
    bound is cached, then returns the maximum over all cached methods, including bounds added by
    :func:`record_bound`. Slots not in ``slots`` are only read from the cache. ``log`` gets one line per
    finished bound with the k/N counter and the ETA (:class:`uara.experiments.progress.Progress`).
    """
    from uara.experiments.progress import Progress

    tasks = missing_tasks(instance, methods, time_limit=time_limit, threads=threads, slots=slots, root=root,
                          use_cache=use_cache)
    fresh: list[dict[str, Any]] = [{} for _ in range(instance.num_slots)]
    progress = Progress(len(tasks), log)
    for task in tasks:
        res = run_bound_task(task, instance)
        if res.error is not None:
            raise SolverError(f"{task.method} bound of {task.instance_name} slot {task.slot}: {res.error}")
        if res.bound is not None:
            fresh[task.slot][task.method] = {"bound": res.bound, "time_s": res.time_s,
                                             "version": method_version(task.method)}
            if use_cache:
                store_result(instance, res, root=root)
        progress.step(result_line(res))
    cached = load_bounds(instance, root=root) if use_cache else fresh
    return [max((v["bound"] for v in entry.values()), default=None) for entry in cached]


def bound_sources(instance: Instance, *, root: str | os.PathLike | None = None) -> list[str | None]:
    """Per slot, the method whose cached bound is the best (None where none is cached)."""
    return [max(entry, key=lambda k: entry[k]["bound"]) if entry else None for entry in load_bounds(instance, root=root)]


def total_bound(instance: Instance, *, root: str | os.PathLike | None = None) -> tuple[float | None, str]:
    """The cached bound on sum_t I(t) (None unless every slot has one) and its sources, e.g. ``bounds:relax``."""
    slots = load_bounds(instance, root=root)
    if not slots or any(not entry for entry in slots):
        return None, "none"
    best = [max(entry.items(), key=lambda kv: kv[1]["bound"]) for entry in slots]
    methods = sorted({k for k, _ in best})
    return float(sum(v["bound"] for _, v in best)), "bounds:" + "+".join(methods)


def score(solution: Solution, bounds: list[float | None]) -> list[float | None]:
    """Per-slot gap (I - LB) / (I - C) of ``solution`` against ``bounds`` (the better of
    the given bound and the solution's own bound; None without either)."""
    out: list[float | None] = []
    for dec, ev, lb in zip(solution.slots, solution.evaluations, bounds):
        cands = [b for b in (lb, dec.lower_bound) if b is not None]
        out.append(relative_gap(ev.objective, max(cands), ev.constant) if cands else None)
    return out
