"""Best known lower bounds per instance and slot, cached on disk.

A comparison scores every solver against the same bound: for slot t,
LB(t) = max over the methods run so far of their proven lower bound on I(t).
The methods are the registered back-ends that prove bounds
(``Solver.PROVIDES_BOUND``: relax's Lagrangian certificate, exact's SCIP dual
bound, price's column-generation bound, brute force's optimum); each cached
entry carries the back-end's ``Solver.VERSION`` and entries of another version
are recomputed. Any solution's own bound can be added with :func:`record_bound`.
This is the one bound cache: ``uara solve --bound`` uses it under
``$UARA_CACHE_DIR`` (default ``./.uara-cache``), ``uara compare`` inside its
output folder. Bounds are stored in ``<root>/bounds/<fingerprint>.json``
(format ``BOUNDS_FORMAT``), written atomically.
Two processes updating one file at once can lose one update (never corrupt
the file); the lost bound is recomputed on the next call.

    gap(solution, t) = (I(t) - LB(t)) / (I(t) - C(t))        (docs/model.md)
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any, Iterable

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


def cache_dir(root: str | os.PathLike | None = None) -> Path:
    """The bounds folder: ``<root or $UARA_CACHE_DIR or ./.uara-cache>/bounds``."""
    base = Path(root) if root is not None else Path(os.environ.get("UARA_CACHE_DIR", ".uara-cache"))
    return base / "bounds"


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


def _compute(instance: Instance, slot: int, method: str, time_limit: float | None, threads: int) -> float | None:
    """Run the back-end ``method`` on one slot (``time_limit`` seconds) and return its proven bound."""
    from uara.solvers import get_solver

    sol = get_solver(method).solve(instance, time_limit=time_limit, threads=threads, slots=[slot])
    return sol.slots[0].lower_bound


def best_lower_bound(
    instance: Instance,
    *,
    time_limit: float | None = 60.0,
    methods: Iterable[str] = ("relax",),
    threads: int = 1,
    slots: Iterable[int] | None = None,
    root: str | os.PathLike | None = None,
    use_cache: bool = True,
) -> list[float | None]:
    """Best known lower bound on I(t) for every slot t (None where no method gave one).

    Runs each method in ``methods`` once per slot (``time_limit`` seconds per
    slot for ``exact``; ``relax`` takes no limit) unless its bound is cached,
    then returns the maximum over all cached methods, including bounds added by
    :func:`record_bound`. Slots not in ``slots`` are only read from the cache.
    """
    methods = check_methods(methods)
    cached = load_bounds(instance, root=root) if use_cache else [{} for _ in range(instance.num_slots)]
    todo = range(instance.num_slots) if slots is None else list(slots)
    changed = False
    for t in todo:
        for mth in methods:
            if mth in cached[t]:
                continue
            t0 = time.perf_counter()
            bound = _compute(instance, t, mth, time_limit, threads)
            if bound is not None and _finite(bound):
                cached[t][mth] = {"bound": float(bound), "time_s": time.perf_counter() - t0,
                                  "version": method_version(mth)}
                changed = True
    if changed and use_cache:
        # merge with whatever another process wrote meanwhile
        latest = load_bounds(instance, root=root)
        for t, entry in enumerate(cached):
            for mth, val in entry.items():
                old = latest[t].get(mth)
                if old is None or val["bound"] > old["bound"]:
                    latest[t][mth] = val
        _save(instance, latest, root)
        cached = latest
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
