"""Dynamics across slots: roll battery and server backlog forward with the decisions taken.

A static solve treats each slot's recorded state as given. An *episode*
instead starts from slot 0's state and, after each slot, rolls the
controllable state forward with the method's own decisions
(docs/model.md, "Dynamics across slots"):

    battery   B_i(t+1) = max(0, B_i(t) - (E_i^CP + E_i^CM) / capacity_i)     (J / J)
    backlog   q_j(t+1) = max(0, q_j(t) + sum_i x_ij f_i^ES / F_j^ES - tau)    (Lindley, s; reserved server)
              q_j(t+1) = max(0, b_j(t) - tau)                                 (batched server)

where b_j(t) is when server j ends its last pass serving slot t's tasks, from the slot start, in the
batched simulation of the slot (:attr:`uara.psd.latency.LatencyResult.server_busy_until_s`): a
work-conserving server that batches carries over what it has not finished, not the sum of every
task's whole-server work (which counts the weight read once per task).

with E_i^CP = delta_CP f_i^MD and E_i^CM = delta_CM (y_i W_j / 1e6) P_i
(eq. 8 as printed) or P_i T_i (``params.energy_model = "physical"``). Channel, positions and tasks of slot t+1 are exogenous and taken
from the instance. P1 divides by B_i, so a device whose battery reaches 0 is
scored with ``battery_floor`` and listed in ``depleted``; it is never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from uara.model.formulation import slot_data
from uara.model.instance import Instance, Slot

#: Battery level used for scoring a depleted device (P1 needs B_i > 0).
BATTERY_FLOOR = 1e-3


@dataclass
class StepOutcome:
    """The state after one slot and what happened during it."""

    next_battery: np.ndarray  # (M,) in [0, 1]
    next_queue_s: np.ndarray  # (E,) s
    energy_j: np.ndarray  # (M,) J spent in the slot
    depleted: list[int] = field(default_factory=list)  # devices at 0 after the slot


def roll_forward(
    instance: Instance,
    state: Slot,
    association: np.ndarray,
    bandwidth_share: np.ndarray,
    busy_until_s: np.ndarray | None = None,
) -> StepOutcome:
    """Battery and backlog after serving ``state`` with the given decisions (equations above): the
    backlog by Lindley on P1's server work, or, given ``busy_until_s`` (E,) b_j(t) of the batched server,
    max(0, b_j(t) - tau)."""
    sd = slot_data(instance, slot=state)
    assoc = np.asarray(association, dtype=np.intp)
    energy = sd.energy_cp_j + sd.comm_energy_j(assoc, bandwidth_share)
    battery = np.maximum(0.0, np.asarray(state.battery, dtype=float) - energy / instance.battery_capacity_j)
    if busy_until_s is not None:
        queue = np.maximum(0.0, np.asarray(busy_until_s, dtype=float) - instance.params.slot_s)
    else:
        work = sd.server_work_s[np.arange(sd.num_devices), assoc]
        arrived = np.bincount(assoc, weights=work, minlength=sd.num_servers)
        queue = np.maximum(0.0, np.asarray(state.queue_s, dtype=float) + arrived - instance.params.slot_s)
    depleted = [int(i) for i in np.flatnonzero(battery <= 0.0)]
    return StepOutcome(battery, queue, energy, depleted)


def next_state(instance: Instance, t_next: int, outcome: StepOutcome) -> Slot:
    """Slot ``t_next`` of the instance (channel, positions, tasks) with the rolled battery and backlog."""
    exo = instance.slots[t_next]
    return replace(
        exo,
        battery=np.maximum(outcome.next_battery, BATTERY_FLOOR),
        queue_s=outcome.next_queue_s.copy(),
    )


def state_instance(instance: Instance, state: Slot, t: int) -> Instance:
    """A one-slot instance posing slot ``t``'s P1 from a rolled ``state`` (what a solver sees in an episode)."""
    return replace(instance, name=f"{instance.name}@t{t}", slots=[state])
