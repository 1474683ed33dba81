"""Where servers and devices may stand, and which straight moves are open.

A :class:`Layout` answers three questions for the builder and the mobility
model, all in metres with z up:

- ``sample_servers(n, rng)``: n server (antenna) positions, spread apart;
- ``sample_devices(n, rng, ...)``: n device positions (optionally near given
  centres, e.g. the next waypoint of a walking user);
- ``segment_clear(start, end)``: whether the straight segment between two
  device positions is free of obstacles (a user walks along streets, not
  through buildings).

:class:`BoxLayout` is the obstacle-free rectangle used by the free-space and
3GPP providers; the ray-tracing provider has a scene-based layout
(:class:`uara.scenario.channels.sionna_rt.SceneLayout`).
"""

from __future__ import annotations

import abc
from typing import Any

import numpy as np

from uara.errors import UaraError


class Layout(abc.ABC):
    """Geometry of a scenario. Every method is vectorised and seeded through ``rng``."""

    #: (x_min, x_max, y_min, y_max) of the service area, metres.
    bounds: tuple[float, float, float, float]
    #: Height of a device antenna above the ground it stands on, metres.
    device_height_m: float

    @abc.abstractmethod
    def sample_servers(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """(n, 3) server antenna positions, spread over the area (see :func:`spread_choice`)."""

    @abc.abstractmethod
    def sample_devices(self, n: int, rng: np.random.Generator, *, centers: np.ndarray | None = None,
                       radius_m: float | None = None, servers: np.ndarray | None = None) -> np.ndarray:
        """(n, 3) device antenna positions.

        Args:
            n: number of positions.
            rng: random generator.
            centers: optional (n, 3); position k is drawn within ``radius_m`` of centres[k].
            radius_m: radius for ``centers`` (metres).
            servers: optional (E, 3) server positions; positions closer than the
                layout's minimum horizontal distance to a server are redrawn.
        """

    def segment_clear(self, start: np.ndarray, end: np.ndarray) -> np.ndarray:
        """(n,) bool: True where the segment start[k] -> end[k] crosses no obstacle."""
        return np.ones(len(np.asarray(start)), dtype=bool)

    def describe(self) -> dict[str, Any]:
        """JSON-ready description recorded in provenance."""
        return {"bounds": [float(v) for v in self.bounds], "device_height_m": self.device_height_m}


def spread_choice(candidates: np.ndarray, n: int, rng: np.random.Generator, min_sep_m: float) -> np.ndarray:
    """Pick ``n`` rows of ``candidates`` (K, 3) at least ``min_sep_m`` apart horizontally.

    Candidates are visited in a random order and accepted when far enough
    from every accepted one; if fewer than ``n`` are accepted, the separation
    is halved and the pass repeated (down to 0, where any distinct
    candidates do). Returns the chosen (n, 3) rows.
    """
    k = len(candidates)
    if k < n:
        raise UaraError(f"only {k} candidate positions for {n} servers; use a larger area or fewer servers")
    order = rng.permutation(k)
    sep = float(min_sep_m)
    while True:
        chosen: list[int] = []
        for idx in order:
            if len(chosen) == n:
                break
            if chosen:
                d = np.linalg.norm(candidates[chosen, :2] - candidates[idx, :2], axis=1)
                if np.min(d) < sep:
                    continue
            chosen.append(int(idx))
        if len(chosen) == n:
            return candidates[chosen].copy()
        if sep < 1e-3:
            raise UaraError(f"cannot place {n} servers apart from each other in this area")
        sep /= 2.0


def default_separation(bounds: tuple[float, float, float, float], n: int) -> float:
    """Minimum server spacing: half the side of the square each server would own, 0.5 sqrt(A / n)."""
    area = (bounds[1] - bounds[0]) * (bounds[3] - bounds[2])
    return 0.5 * float(np.sqrt(area / max(n, 1)))


class BoxLayout(Layout):
    """An open rectangle: servers at a fixed height, devices at ``device_height_m``.

    Args:
        width_m, depth_m: size of the area (x and y), centred on the origin.
        server_height_m: server antenna height (3GPP: 10 m UMi, 25 m UMa).
        device_height_m: device antenna height (1.5 m).
        min_distance_m: minimum horizontal device-server distance (3GPP
            TR 38.901 Table 7.4.1-1 validity: 10 m UMi, 35 m UMa).
    """

    def __init__(self, width_m: float = 500.0, depth_m: float = 500.0, server_height_m: float = 25.0,
                 device_height_m: float = 1.5, min_distance_m: float = 10.0) -> None:
        for key, val in (("width_m", width_m), ("depth_m", depth_m), ("server_height_m", server_height_m),
                         ("device_height_m", device_height_m)):
            if not np.isfinite(val) or val <= 0:
                raise UaraError(f"channel option {key}: must be a positive length in metres, got {val!r}")
        if not np.isfinite(min_distance_m) or min_distance_m < 0:
            raise UaraError(f"channel option min_distance_m: must be >= 0 metres, got {min_distance_m!r}")
        self.width_m, self.depth_m = float(width_m), float(depth_m)
        self.server_height_m = float(server_height_m)
        self.device_height_m = float(device_height_m)
        self.min_distance_m = float(min_distance_m)
        self.bounds = (-self.width_m / 2, self.width_m / 2, -self.depth_m / 2, self.depth_m / 2)

    def as_options(self) -> dict[str, float]:
        """The constructor arguments (a provider's layout options)."""
        return {"width_m": self.width_m, "depth_m": self.depth_m, "server_height_m": self.server_height_m,
                "device_height_m": self.device_height_m, "min_distance_m": self.min_distance_m}

    def describe(self) -> dict[str, Any]:
        return {"kind": "box", **self.as_options()}

    def _uniform(self, n: int, rng: np.random.Generator) -> np.ndarray:
        x = rng.uniform(self.bounds[0], self.bounds[1], n)
        y = rng.uniform(self.bounds[2], self.bounds[3], n)
        return np.column_stack([x, y])

    def sample_servers(self, n: int, rng: np.random.Generator) -> np.ndarray:
        cand = self._uniform(max(20 * n, 200), rng)
        cand3 = np.column_stack([cand, np.full(len(cand), self.server_height_m)])
        return spread_choice(cand3, n, rng, default_separation(self.bounds, n))

    def sample_devices(self, n: int, rng: np.random.Generator, *, centers: np.ndarray | None = None,
                       radius_m: float | None = None, servers: np.ndarray | None = None) -> np.ndarray:
        out = np.empty((n, 2))
        todo = np.arange(n)
        for _ in range(1000):
            if centers is None:
                xy = self._uniform(len(todo), rng)
            else:
                ang = rng.uniform(0, 2 * np.pi, len(todo))
                rad = float(radius_m) * np.sqrt(rng.uniform(0, 1, len(todo)))
                xy = np.asarray(centers)[todo, :2] + np.column_stack([rad * np.cos(ang), rad * np.sin(ang)])
                xy[:, 0] = np.clip(xy[:, 0], self.bounds[0], self.bounds[1])
                xy[:, 1] = np.clip(xy[:, 1], self.bounds[2], self.bounds[3])
            ok = np.ones(len(todo), dtype=bool)
            if servers is not None and len(servers) and self.min_distance_m > 0:
                d = np.linalg.norm(xy[:, None, :] - np.asarray(servers)[None, :, :2], axis=2)
                ok = d.min(axis=1) >= self.min_distance_m
            out[todo[ok]] = xy[ok]
            todo = todo[~ok]
            if len(todo) == 0:
                return np.column_stack([out, np.full(n, self.device_height_m)])
        raise UaraError("cannot place devices at the minimum distance from the servers; lower min_distance_m")
