"""Device mobility across slots: random waypoint along open (street) segments.

Each device i walks at its own constant speed v_i (drawn once, uniform in
``speed_mps``) towards a waypoint; on reaching it, it draws the next one.
Waypoints are drawn by the layout within ``radius_m`` of the current
position and accepted only when the straight segment to them is clear
(``Layout.segment_clear``: in a ray-traced city this keeps users on streets
and squares, never through buildings). A device that finds no clear waypoint
in ``max_tries`` rounds stays where it is for that slot (counted in
``MobilityState.stuck``).

In one slot of length tau a device covers v_i * tau metres, possibly passing
several waypoints. Everything is vectorised over devices and seeded through
the ``rng`` passed in.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from uara.scenario.channels.geometry import Layout
from uara.errors import UaraError


@dataclass(frozen=True)
class MobilityState:
    """Where every device is and where it is going.

    Attributes:
        positions: (M, 3) metres.
        waypoints: (M, 3) metres, the current target of each device.
        speeds_mps: (M,) m/s.
        stuck: number of waypoint draws that found no clear segment so far.
    """

    positions: np.ndarray
    waypoints: np.ndarray
    speeds_mps: np.ndarray
    stuck: int = 0


class RandomWaypoint:
    """Random-waypoint mobility on a :class:`~uara.scenario.channels.geometry.Layout`.

    Args:
        layout: geometry (sampling of street positions and segment checks).
        speed_mps: (low, high) of the per-device speed, m/s (pedestrians
            0.5-1.5; (0, 0) keeps devices still).
        radius_m: distance within which the next waypoint is drawn.
        max_tries: rounds of waypoint draws before a device waits a slot.
    """

    def __init__(self, layout: Layout, speed_mps: tuple[float, float] = (0.5, 1.5), radius_m: float = 100.0,
                 max_tries: int = 8) -> None:
        lo, hi = (float(v) for v in speed_mps)
        if not (np.isfinite(lo) and np.isfinite(hi)) or lo < 0 or hi < lo:
            raise UaraError(f"speed_mps: expected 0 <= low <= high (m/s), got {tuple(speed_mps)!r}")
        if not np.isfinite(radius_m) or radius_m <= 0:
            raise UaraError(f"mobility radius_m: must be a positive distance in metres, got {radius_m!r}")
        self.layout = layout
        self.speed_mps = (lo, hi)
        self.radius_m = float(radius_m)
        self.max_tries = int(max_tries)

    def describe(self) -> dict[str, Any]:
        """JSON-ready options (provenance)."""
        return {"model": "random-waypoint", "speed_mps": list(self.speed_mps), "radius_m": self.radius_m,
                "max_tries": self.max_tries}

    # ------------------------------------------------------------------ API
    def start(self, positions: np.ndarray, rng: np.random.Generator) -> MobilityState:
        """Initial state: speeds drawn per device and a first waypoint each."""
        positions = np.asarray(positions, dtype=float)
        speeds = rng.uniform(self.speed_mps[0], self.speed_mps[1], len(positions))
        state = MobilityState(positions.copy(), positions.copy(), speeds, 0)
        return self.redirect(state, np.arange(len(positions)), rng)

    def redirect(self, state: MobilityState, idx: np.ndarray, rng: np.random.Generator) -> MobilityState:
        """New waypoints for devices ``idx`` (clear segments from their current positions)."""
        idx = np.asarray(idx, dtype=np.intp)
        waypoints = state.waypoints.copy()
        pending = idx.copy()
        stuck = state.stuck
        if self.speed_mps[1] == 0:
            return state
        for _ in range(self.max_tries):
            if len(pending) == 0:
                break
            start = state.positions[pending]
            cand = self.layout.sample_devices(len(pending), rng, centers=start, radius_m=self.radius_m)
            ok = self.layout.segment_clear(start, cand)
            waypoints[pending[ok]] = cand[ok]
            pending = pending[~ok]
        waypoints[pending] = state.positions[pending]  # wait here this slot
        stuck += len(pending)
        return replace(state, waypoints=waypoints, stuck=stuck)

    def step(self, state: MobilityState, dt_s: float, rng: np.random.Generator,
             idx: np.ndarray | None = None) -> MobilityState:
        """Move devices (all, or those in ``idx``) for ``dt_s`` seconds."""
        if dt_s < 0:
            raise UaraError(f"slot_s: must be >= 0 seconds, got {dt_s!r}")
        m = len(state.positions)
        idx = np.arange(m) if idx is None else np.asarray(idx, dtype=np.intp)
        pos = state.positions.copy()
        remaining = np.zeros(m)
        remaining[idx] = state.speeds_mps[idx] * dt_s
        for _ in range(64):
            moving = np.flatnonzero(remaining > 1e-9)
            if len(moving) == 0:
                break
            vec = state.waypoints[moving] - pos[moving]
            dist = np.linalg.norm(vec, axis=1)
            arrive = dist <= remaining[moving]
            go = moving[~arrive]
            frac = remaining[go] / dist[~arrive]
            pos[go] += vec[~arrive] * frac[:, None]
            remaining[go] = 0.0
            reach = moving[arrive]
            pos[reach] = state.waypoints[reach]
            remaining[reach] -= dist[arrive]
            state = replace(state, positions=pos.copy())
            if len(reach):
                state = self.redirect(state, reach, rng)
                # a device that found no new waypoint (waypoint = where it stands) waits out the slot
                waiting = np.all(state.waypoints[reach] == pos[reach], axis=1)
                remaining[reach[waiting]] = 0.0
        return replace(state, positions=pos)
