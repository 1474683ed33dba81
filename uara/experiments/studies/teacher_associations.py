"""Teacher associations for imitation: a strong back-end's association on many random slots, resumable.

The learned-preference solver (``pref``, :mod:`uara.rl.preference`) is trained to reproduce the association a
slow, strong back-end finds (``relax`` by default: the certified relaxation, rounding and the exact move/swap
search) from what the slot shows. One *job* is one slot of one seeded random instance
(:func:`uara.scenario.random_instance.random_instance`, the credible preset), named
``random_<M>x<E>_seed<S>`` and its slot index; one *row* is the teacher's association on it, its value I - C,
its certified gap and the seconds it took. The file is rewritten atomically after each row and finished rows
are skipped on a rerun, so an interrupted run resumes where it stopped; the teacher runs single-threaded with
seed 0, so the same command gives the same associations wherever the deadline does not cut the search.
"""

from __future__ import annotations

import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from uara.errors import UaraError
from uara.io import atomic_write_json, package_versions
from uara.model.evaluator import evaluate
from uara.model.formulation import SlotData, slot_data
from uara.model.instance import Instance
from uara.model.shared.formats import TEACHER_FORMAT



@dataclass(frozen=True)
class TeacherJob:
    """Slot ``slot`` of ``random_instance(num_devices, num_servers, slots=slots, seed=seed)``."""

    num_devices: int
    num_servers: int
    seed: int
    slot: int
    slots: int = 2

    @property
    def key(self) -> str:
        return f"random_{self.num_devices}x{self.num_servers}_seed{self.seed}/slot{self.slot}"

    def instance(self) -> Instance:
        from uara.scenario.random_instance import random_instance

        return random_instance(self.num_devices, self.num_servers, slots=self.slots, seed=self.seed)


def training_jobs(sizes: Iterable[tuple[int, int]], seeds: Sequence[int], slots: int = 2) -> list[TeacherJob]:
    """Every slot of every (size, seed): the instances get seed ``seeds[k] + 1000 * index of the size`` so that
    two sizes never share a seed."""
    jobs = []
    for n, (m, e) in enumerate(sizes):
        for s in seeds:
            jobs += [TeacherJob(int(m), int(e), int(s) + 1000 * n, t, slots) for t in range(slots)]
    return jobs


def teach_slot(inst: Instance, sd: SlotData, slot: int, teacher: str, limit_s: float) -> dict:
    """One row: the teacher's association on the slot within ``limit_s`` seconds, its I - C and certified gap."""
    from uara.solvers import get_solver
    from uara.solvers.base import SolveContext

    t0 = time.perf_counter()
    ctx = SolveContext(seed=0, slot=slot, rng=np.random.default_rng([0, slot]), deadline=t0 + limit_s, threads=1,
                       instance=inst)
    dec = get_solver(teacher).solve_slot(sd, ctx)
    ev = evaluate(sd, dec.association, dec.bandwidth_share, dec.compute_share)
    if ev.violations:
        raise UaraError(f"teacher {teacher!r} returned an infeasible decision on {inst.name} slot {slot}")
    c = sd.constant
    bound = float(dec.lower_bound) if dec.lower_bound is not None else float("nan")
    return {"association": [int(v) for v in dec.association], "value": ev.objective - c,
            "gap": (ev.objective - bound) / max(ev.objective - c, 1e-12), "time_s": time.perf_counter() - t0}


def build_teacher_file(jobs: Sequence[TeacherJob], out: str | Path, *, teacher: str = "relax", limit_s: float = 10.0,
                       log=print) -> dict:
    """Run the teacher on every job not yet in ``out`` (resumable) and return the whole document."""
    out = Path(out)
    doc = load_teacher_file(out) if out.exists() else None
    if doc is not None and (doc["teacher"], doc["limit_s"]) != (teacher, limit_s):
        raise UaraError(f"{out}: holds teacher {doc['teacher']!r} at {doc['limit_s']} s; pass the same --teacher and "
                        f"--teacher-limit or another file")
    if doc is None:
        doc = {"format": TEACHER_FORMAT, "teacher": teacher, "limit_s": limit_s, "rows": {},
               "provenance": {"machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
                              "python": platform.python_version(), "versions": package_versions()}}
    todo = [j for j in jobs if j.key not in doc["rows"]]
    cache: dict[tuple, Instance] = {}
    for n, job in enumerate(todo):
        spec = (job.num_devices, job.num_servers, job.seed, job.slots)
        inst = cache.setdefault(spec, job.instance())
        row = teach_slot(inst, slot_data(inst, job.slot), job.slot, teacher, limit_s)
        doc["rows"][job.key] = {"job": [job.num_devices, job.num_servers, job.seed, job.slot, job.slots], **row}
        atomic_write_json(out, doc)
        log(f"[{n + 1}/{len(todo)}] {job.key}: I-C {row['value']:.4g}, gap {row['gap']:.2%}, {row['time_s']:.1f} s")
        if len(cache) > 4:
            cache.pop(next(iter(cache)))
    return doc


def load_teacher_file(path: str | Path) -> dict:
    """The document at ``path``, checked for its format tag."""
    import json

    doc = json.loads(Path(path).read_text())
    if doc.get("format") != TEACHER_FORMAT:
        raise UaraError(f"{path}: format must be {TEACHER_FORMAT!r}, got {doc.get('format')!r}")
    return doc


def teacher_examples(doc: dict) -> list[tuple[SlotData, np.ndarray]]:
    """(slot data, teacher association) of every row, instances rebuilt from their seeds."""
    out, cache = [], {}
    for row in doc["rows"].values():
        m, e, seed, slot, slots = row["job"]
        job = TeacherJob(m, e, seed, slot, slots)
        inst = cache.setdefault((m, e, seed, slots), job.instance())
        out.append((slot_data(inst, slot), np.asarray(row["association"], dtype=np.intp)))
    return out
