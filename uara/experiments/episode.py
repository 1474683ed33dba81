"""Episodes: solve slot after slot while the state rolls forward with the solver's own decisions.

A static solve scores every slot of an instance on its *recorded* state. An
episode (docs/model.md, "Dynamics across slots") starts from slot 0's state
and, after each slot, rolls battery and server backlog forward with the
decisions just taken (:mod:`uara.model.dynamics`); the channel, positions and tasks
of the next slot are exogenous and come from the instance. The solver sees
each rolled state as a one-slot P1 (:func:`uara.model.dynamics.state_instance`).

The record (format ``EPISODE_FORMAT``) keeps, per slot, the state the solver
saw (battery, queue_s) and its decisions, so that :func:`rescore_episode` can
re-roll and re-score the whole episode independently of the solver.

Each method carries its own backlog: under the ``reserved`` server the Lindley recursion on its own
decisions' server work, under ``batched`` what its own slot's batched simulation left unfinished at the
slot end (:func:`uara.model.dynamics.roll_forward`). The slot's latency (and that simulation) uses the
slot's seed :func:`slot_seed`, so slots draw different acceptance traces and background arrivals.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from uara.model.dynamics import BATTERY_FLOOR, next_state, roll_forward, state_instance
from uara.errors import SolutionError
from uara.model.formulation import slot_data
from uara.model.instance import Instance
from uara.model.solution import Solution, Status, aggregate_status, decision_from_dict
from uara.psd.latency import latency_or_reason
from uara.model.verify import OBJECTIVE_RTOL, check_fingerprint, check_total_objective, verify_slot

from uara.model.shared.formats import EPISODE_FORMAT  # noqa: E402


def slot_seed(seed: int, t: int) -> int:
    """The seed the solver gets at slot ``t`` of an episode started with ``seed`` (no collisions across (seed, t))."""
    return int(np.random.SeedSequence([int(seed), int(t)]).generate_state(1)[0])


@dataclass
class EpisodeSlot:
    """One slot of an episode: the state the solver saw, its decisions and their value."""

    t: int
    battery: np.ndarray  # (M,) in (0, 1], as scored (depleted devices at BATTERY_FLOOR)
    queue_s: np.ndarray  # (E,) s, backlog at the start of the slot
    solution: Solution  # one-slot solution on the rolled state
    energy_j: np.ndarray  # (M,) J spent in the slot
    depleted: list[int] = field(default_factory=list)  # devices at 0 after the slot
    latency: dict[str, Any] | None = None


@dataclass
class Episode:
    """A whole episode: per-slot records and totals."""

    instance: str
    instance_fingerprint: str
    solver: str
    seed: int
    slots: list[EpisodeSlot]
    wall_time_s: float
    options: dict[str, Any] = field(default_factory=dict)
    server_model: str = "reserved"

    @property
    def objective(self) -> float:
        """sum over slots of I(t) on the rolled states."""
        return float(sum(s.solution.objective for s in self.slots))

    @property
    def constant(self) -> float:
        return float(sum(s.solution.constant for s in self.slots))

    @property
    def status(self) -> Status:
        return aggregate_status([s.solution.status for s in self.slots])

    def as_solution(self, instance: Instance) -> Solution:
        """The episode's decisions as one multi-slot :class:`Solution` on the rolled states (for the PSD simulator)."""
        rolled = rolled_instance(instance, [s.battery for s in self.slots], [s.queue_s for s in self.slots])
        decs = [s.solution.slots[0] for s in self.slots]
        evals = [s.solution.evaluations[0] for s in self.slots]
        return Solution(
            instance=self.instance, solver=self.solver, status=self.status, slots=decs, evaluations=evals,
            wall_time_s=self.wall_time_s, options=dict(self.options), seed=self.seed,
            instance_fingerprint=rolled.fingerprint(), info={"mode": "episode"},
        )

    def to_dict(self) -> dict[str, Any]:
        """The ``EPISODE_FORMAT`` JSON object."""
        slots = []
        for s in self.slots:
            d = s.solution.to_dict()["slots"][0]
            d.update(
                t=s.t,
                state={"battery": s.battery.tolist(), "queue_s": s.queue_s.tolist()},
                energy_j=s.energy_j.tolist(),
                depleted=list(s.depleted),
                latency=s.latency,
                status=s.solution.status.value,
            )
            slots.append(d)
        return {
            "format": EPISODE_FORMAT,
            "instance": self.instance,
            "instance_fingerprint": self.instance_fingerprint,
            "solver": self.solver,
            "options": dict(self.options),
            "seed": self.seed,
            "server_model": self.server_model,
            "status": self.status.value,
            "objective": self.objective,
            "constant": self.constant,
            "controllable": self.objective - self.constant,
            "wall_time_s": self.wall_time_s,
            "slots": slots,
        }


def rolled_instance(instance: Instance, batteries: list[np.ndarray], queues: list[np.ndarray]) -> Instance:
    """The instance with each slot's battery and backlog replaced by the rolled ones."""
    from dataclasses import replace

    slots = [replace(instance.slots[t], battery=np.asarray(b, float), queue_s=np.asarray(q, float))
             for t, (b, q) in enumerate(zip(batteries, queues))]
    return replace(instance, slots=slots)


def run_episode(
    instance: Instance,
    solver: str,
    *,
    options: dict[str, Any] | None = None,
    seed: int = 0,
    time_limit: float | None = None,
    threads: int = 1,
    num_slots: int | None = None,
    latency: bool = True,
    on_slot: Callable[[EpisodeSlot], None] | None = None,
) -> Episode:
    """Roll ``instance`` forward slot by slot with the decisions of ``solver``.

    Args:
        instance: its slot 0 gives the initial battery and backlog; later slots give the exogenous
            channel, positions and tasks.
        solver: registry name (``tma``, ``max-sinr+exact``, ...).
        options: solver options.
        seed: episode seed; slot t's solve gets :func:`slot_seed` (seed, t).
        time_limit: seconds for the whole episode, split evenly over the slots.
        num_slots: stop after this many slots (default: all of the instance's).
        latency: attach the PSD end-to-end latency per slot when :mod:`uara.psd.latency` is installed.
        on_slot: called after each slot (progress printing).
    """
    from uara.solvers import get_solver
    from uara.solvers.base import check_seed

    options = dict(options or {})
    check_seed(seed)
    slv = get_solver(solver, **options)
    total = instance.num_slots if num_slots is None else min(int(num_slots), instance.num_slots)
    if total < 1:
        raise SolutionError("slots", "an episode needs at least one slot")
    per_slot = None if time_limit is None else float(time_limit) / total
    model = episode_server_model(instance)
    state = instance.slots[0]
    out: list[EpisodeSlot] = []
    start = time.perf_counter()
    for t in range(total):
        inst_t = state_instance(instance, state, t)
        sol = slv.solve(inst_t, time_limit=per_slot, seed=slot_seed(seed, t), threads=threads)
        dec = sol.slots[0]
        lat = None
        if latency or model == "batched":
            found, note = latency_or_reason(inst_t, sol, seed=slot_seed(seed, t))
            lat = found if found is not None else {"mean_s": None, "p95_s": None, "note": note}
        outcome = roll_forward(instance, state, dec.association, dec.bandwidth_share,
                               busy_until_s=_busy_until(lat, model, t))
        lat = lat if latency else None
        rec = EpisodeSlot(t, np.asarray(state.battery, float).copy(), np.asarray(state.queue_s, float).copy(),
                          sol, outcome.energy_j, outcome.depleted, lat)
        out.append(rec)
        if on_slot is not None:
            on_slot(rec)
        if t + 1 < total:
            state = next_state(instance, t + 1, outcome)
    return Episode(
        instance=instance.name, instance_fingerprint=instance.fingerprint(), solver=slv.display_name,
        seed=seed, slots=out, wall_time_s=time.perf_counter() - start, options=options, server_model=model,
    )


def episode_server_model(instance: Instance) -> str:
    """The server model whose backlog rule an episode on ``instance`` follows (``params.server_model``)."""
    return str(getattr(instance.params, "server_model", None) or "reserved")


def _busy_until(lat: dict[str, Any] | None, model: str, t: int) -> np.ndarray | None:
    """b_j(t) of the batched server from a slot's latency record (None under reserved)."""
    if model != "batched":
        return None
    per_slot = (lat or {}).get("per_slot") or [{}]
    busy = per_slot[0].get("server_busy_until_s")
    if busy is None:
        raise SolutionError(f"slots[{t}]", "the batched server's backlog needs the slot's batched simulation, "
                            f"which failed: {(lat or {}).get('note')}")
    return np.asarray(busy, dtype=float)


def rescore_episode(data: dict[str, Any], instance: Instance, rtol: float = OBJECTIVE_RTOL) -> float:
    """Re-roll an episode record from its decisions alone and re-score every slot.

    The checks of :mod:`uara.model.verify`, slot by slot on the rolled states
    (fingerprint, feasibility, per-slot and total objectives, bounds), plus:
    the state stored for each slot is the state the dynamics give from the
    previous decisions. Returns the recomputed total objective; raises
    :class:`SolutionError` on any mismatch.
    """
    if not isinstance(data, dict) or data.get("format") != EPISODE_FORMAT:
        raise SolutionError("format", f"expected '{EPISODE_FORMAT}'")
    check_fingerprint(data, instance)
    slots = data.get("slots")
    if not isinstance(slots, list) or not slots or len(slots) > instance.num_slots:
        raise SolutionError("slots", f"expected 1..{instance.num_slots} slots")
    model = str(data.get("server_model", "reserved"))
    seed = int(data.get("seed", 0))
    state = instance.slots[0]
    total = 0.0
    for t, rs in enumerate(slots):
        _check_state(t, rs, state)
        dec = decision_from_dict(rs, t, instance.num_devices, instance.num_servers)
        ev = dec.evaluate(slot_data(instance, slot=state))
        verify_slot(t, rs, dec, ev, rtol)
        total += ev.objective
        busy = None
        if model == "batched" and t + 1 < len(slots):
            found, note = latency_or_reason(state_instance(instance, state, t), {"slots": [rs]}, seed=slot_seed(seed, t))
            busy = _busy_until(found if found is not None else {"note": note}, model, t)
        outcome = roll_forward(instance, state, dec.association, dec.bandwidth_share, busy_until_s=busy)
        if t + 1 < len(slots):
            state = next_state(instance, t + 1, outcome)
    check_total_objective(data.get("objective"), total, rtol)
    return total


def _check_state(t: int, raw: Any, state: Any) -> None:
    """The stored state of slot ``t`` equals the rolled one."""
    try:
        stored_b = np.asarray(raw["state"]["battery"], float)
        stored_q = np.asarray(raw["state"]["queue_s"], float)
    except (KeyError, TypeError, ValueError):
        raise SolutionError(f"slots[{t}].state", "expected {battery: [...], queue_s: [...]}") from None
    if not (stored_b.shape == np.shape(state.battery) and stored_q.shape == np.shape(state.queue_s)
            and np.allclose(stored_b, state.battery, rtol=1e-9, atol=1e-12)
            and np.allclose(stored_q, state.queue_s, rtol=1e-9, atol=1e-12)):
        raise SolutionError(f"slots[{t}].state", "does not follow from the previous decisions")


def format_slot(rec: EpisodeSlot) -> str:
    """One line per slot for ``uara simulate``."""
    sol = rec.solution
    b = rec.battery
    lat = rec.latency or {}
    lat_s = f"{lat['mean_s']:.3f}" if isinstance(lat.get("mean_s"), (int, float)) else "n/a"
    return (
        f"{rec.t:>4d}  {sol.objective:>14.6g}  {sol.objective - sol.constant:>12.6g}  "
        f"{b.mean():>8.4f}  {b.min():>8.4f}  {len(rec.depleted):>4d}  "
        f"{rec.queue_s.sum():>9.4g}  {rec.queue_s.max():>9.4g}  {lat_s:>8s}  {sol.status.value}"
    )


SLOT_HEADER = (
    f"{'slot':>4s}  {'objective I':>14s}  {'I - C':>12s}  {'B mean':>8s}  {'B min':>8s}  {'dep':>4s}  "
    f"{'backlog s':>9s}  {'max q s':>9s}  {'lat s':>8s}  status"
)

__all__ = ["BATTERY_FLOOR", "EPISODE_FORMAT", "Episode", "EpisodeSlot", "episode_server_model", "format_slot",
           "rescore_episode", "run_episode", "slot_seed"]
