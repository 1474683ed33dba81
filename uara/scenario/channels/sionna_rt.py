"""``sionna-rt``: ray-traced channels with Sionna RT 2.2 on a city scene.

Scene: one of the scenes that ship in the ``sionna-rt`` wheel (``etoile``,
``munich``, ``florence``, ``simple_street_canyon``, ...) or a Mitsuba XML file.
Servers are transmitters (the cost of ``PathSolver`` grows with the number of
sources, so the E servers, not the M devices, are the sources); the link is
reciprocal with isotropic antennas, so the same gain serves the uplink.

Geometry (:class:`SceneLayout`), found by casting rays straight down from
above the scene on the central ``area_fraction`` of its bounding box:

- ground level z_g = the lowest hit height;
- a **street** point is a hit within ``street_tolerance_m`` of z_g (open sky
  above it); a device stands there with its antenna ``device_height_m``
  (1.5 m) above the hit;
- a **rooftop** point is a hit at least ``min_roof_height_m`` above z_g on an
  upward-facing surface (normal z > 0.9); a server antenna is
  ``mast_height_m`` above it, and within ``roof_edge_m`` of a drop to the
  street (roof edge, like real small cells). Servers are spread apart by
  :func:`~uara.scenario.channels.geometry.spread_choice`;
- a walk between two street points is allowed when the straight segment at
  device height hits nothing (``segment_clear``).

Gain: G_ij = 10 log10( sum_k |a_ijk|^2 ) over the paths k found by
``PathSolver`` (single isotropic, vertically polarised antennas; transmit
power excluded). The solver samples ``samples_per_src`` rays per server:
pairs it connects by no path (shadowed receivers; more likely in dense
scenes and with few samples) get the gain floor and are marked ``no_path``.
LOS: a pair has line of sight when a valid path with no interaction exists.

Safety: :func:`uara.scenario.channels.llvm.ensure_llvm` runs before Sionna RT is
imported here, so a missing or unusable libLLVM is a one-line error, not an
abort of the process.
"""

from __future__ import annotations

import gc
import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np

from uara.scenario.channels.provider import (DEFAULT_FREQUENCY_HZ, DEFAULT_GAIN_FLOOR_DB, ChannelProvider, ChannelResult,
                                finalize_gain)
from uara.scenario.channels.geometry import Layout, default_separation, spread_choice
from uara.errors import UaraError
from uara.io import available_memory_bytes

#: Scenes tested with this provider (any other built-in name or XML file also works).
KNOWN_SCENES = ("etoile", "munich", "florence", "san_francisco", "simple_street_canyon",
                "simple_street_canyon_with_cars")


def _import_rt() -> Any:
    from uara.scenario.channels.llvm import ensure_llvm

    ensure_llvm()
    import sionna.rt as rt

    return rt


def _file_sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


#: Servers traced in one PathSolver call. Memory grows with the transmitters of a call (measured on
#: simple_street_canyon: 4 servers 1.0 GiB, 16 servers 3.1 GiB, about 0.18 GiB a server, whatever
#: samples_per_src): 500 servers in one call were killed at 24 GiB. Larger E is traced in chunks
#: (the same seed for each chunk); every shipped instance (E <= 20) is one call, as before.
TX_CHUNK = 32
#: GiB a transmitter in a call needs, about (the measurement above, rounded up).
GIB_PER_TX = 0.25


def tx_chunk(num_servers: int) -> int:
    """Transmitters per PathSolver call: min(E, TX_CHUNK), whatever the machine (so the channel does not
    depend on it). A machine whose available memory cannot hold one call is refused with one line."""
    chunk = max(1, min(int(num_servers), TX_CHUNK))
    need = chunk * GIB_PER_TX * 2**30
    avail = available_memory_bytes()
    if avail is not None and need > 0.8 * avail:
        raise UaraError(f"sionna-rt: tracing {chunk} servers at once needs about {need / 2**30:.0f} GiB, more than the "
                        f"{avail / 2**30:.0f} GiB available here")
    return chunk


def gains_from_paths(paths: Any, num_rx: int, num_tx: int) -> tuple[np.ndarray, np.ndarray]:
    """Linear path gain and LOS mask from a Sionna RT ``Paths`` (synthetic, single-antenna arrays).

    ``paths.a`` is (real, imag), each [num_rx, 1, num_tx, 1, num_paths];
    ``paths.valid`` is [num_rx, num_tx, num_paths]; ``paths.interactions`` is
    [max_depth, num_rx, num_tx, num_paths] with 0 = no interaction.

    Returns:
        power: (num_rx, num_tx) sum over valid paths of |a|^2 (linear).
        los: (num_rx, num_tx) True where a valid path has no interaction.
    """
    a_re, a_im = paths.a
    re = np.asarray(a_re, dtype=np.float64)
    im = np.asarray(a_im, dtype=np.float64)
    num_paths = re.shape[-1] if re.ndim else 0
    if num_paths == 0:
        return np.zeros((num_rx, num_tx)), np.zeros((num_rx, num_tx), dtype=bool)
    re = re.reshape(num_rx, -1, num_tx, re.shape[-2] if re.ndim == 5 else 1, num_paths)
    im = im.reshape(re.shape)
    valid = np.asarray(paths.valid, dtype=bool).reshape(num_rx, num_tx, num_paths)
    power = ((re ** 2 + im ** 2) * valid[:, None, :, None, :]).sum(axis=(1, 3, 4))
    inter = np.asarray(paths.interactions)
    if inter.size == 0:
        los = valid.any(axis=-1)
    else:
        first = inter.reshape(-1, num_rx, num_tx, num_paths)[0]
        los = (valid & (first == 0)).any(axis=-1)
    return power, los


class SceneLayout(Layout):
    """Street and rooftop positions of a Mitsuba scene, found by ray casting.

    Args:
        mi_scene: the ``mitsuba.Scene`` (``sionna.rt.Scene.mi_scene``).
        area_fraction: share of the bounding box (per axis, centred) used as
            the service area; the scene borders have no buildings beyond them.
        min_roof_height_m: minimum height above ground of a rooftop.
        mast_height_m: server antenna height above its rooftop.
        roof_edge_m: servers stand within this horizontal distance of a roof
            edge above the street (0: anywhere on the roof).
        device_height_m: device antenna height above the street.
        street_tolerance_m: a downward hit within this of ground level is street.
        min_distance_m: minimum horizontal device-server distance.
        grid: rays per axis of the survey grid used for ground level and
            rooftop candidates (grid**2 rays).
    """

    def __init__(self, mi_scene: Any, *, area_fraction: float = 0.8, min_roof_height_m: float = 8.0,
                 mast_height_m: float = 3.0, roof_edge_m: float = 4.0, device_height_m: float = 1.5,
                 street_tolerance_m: float = 0.5, min_distance_m: float = 10.0, grid: int = 160) -> None:
        import mitsuba as mi

        self._mi = mi
        self._scene = mi_scene
        bbox = mi_scene.bbox()
        lo = np.array([bbox.min.x, bbox.min.y, bbox.min.z], dtype=float)
        hi = np.array([bbox.max.x, bbox.max.y, bbox.max.z], dtype=float)
        centre, half = (lo + hi) / 2, (hi - lo) / 2 * area_fraction
        self.bounds = (float(centre[0] - half[0]), float(centre[0] + half[0]),
                       float(centre[1] - half[1]), float(centre[1] + half[1]))
        self._top = float(hi[2] + 10.0)
        self.area_fraction = float(area_fraction)
        self.min_roof_height_m = float(min_roof_height_m)
        self.mast_height_m = float(mast_height_m)
        self.roof_edge_m = float(roof_edge_m)
        self.device_height_m = float(device_height_m)
        self.street_tolerance_m = float(street_tolerance_m)
        self.min_distance_m = float(min_distance_m)
        gx = np.linspace(self.bounds[0], self.bounds[1], grid)
        gy = np.linspace(self.bounds[2], self.bounds[3], grid)
        xx, yy = np.meshgrid(gx, gy)
        z, nz, hit = self.cast_down(xx.ravel(), yy.ravel())
        if not hit.any():
            raise UaraError("scene: no surface found below the scene's bounding box")
        self.ground_z = float(np.min(z[hit]))
        self._survey = (xx.ravel(), yy.ravel(), z, nz, hit)
        self.street_share = float(np.mean(hit & (z <= self.ground_z + self.street_tolerance_m)))
        roof = self._roof_mask(z, nz, hit)
        self.roof_share = float(np.mean(roof))
        if self.street_share == 0:
            raise UaraError("scene: no street (ground-level open sky) in the service area")

    # -------------------------------------------------------------- ray casts
    def cast_down(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Vertical rays from above the scene at (x, y): hit height z, normal z-component, hit mask; shape (n,)."""
        mi = self._mi
        n = len(x)
        origin = mi.Point3f(mi.Float(np.asarray(x, np.float32)), mi.Float(np.asarray(y, np.float32)),
                            mi.Float(np.full(n, self._top, np.float32)))
        si = self._scene.ray_intersect(mi.Ray3f(origin, mi.Vector3f(0.0, 0.0, -1.0)))
        hit = np.array(si.is_valid(), dtype=bool)
        z = np.array(si.p.z, dtype=np.float64)
        nz = np.abs(np.array(si.n.z, dtype=np.float64))
        return z, nz, hit

    def _roof_mask(self, z: np.ndarray, nz: np.ndarray, hit: np.ndarray) -> np.ndarray:
        return hit & (z >= self.ground_z + self.min_roof_height_m) & (nz > 0.9)

    def segment_clear(self, start: np.ndarray, end: np.ndarray) -> np.ndarray:
        mi = self._mi
        start = np.asarray(start, dtype=np.float64)
        end = np.asarray(end, dtype=np.float64)
        delta = end - start
        length = np.linalg.norm(delta, axis=1)
        clear = np.ones(len(start), dtype=bool)
        move = length > 1e-6
        if not move.any():
            return clear
        d = delta[move] / length[move, None]
        p = start[move]
        ray = mi.Ray3f(mi.Point3f(*(mi.Float(p[:, k].astype(np.float32)) for k in range(3))),
                       mi.Vector3f(*(mi.Float(d[:, k].astype(np.float32)) for k in range(3))))
        ray.maxt = mi.Float(length[move].astype(np.float32))
        blocked = np.array(self._scene.ray_test(ray), dtype=bool)
        clear[move] = ~blocked
        return clear

    # -------------------------------------------------------------- sampling
    def sample_servers(self, n: int, rng: np.random.Generator) -> np.ndarray:
        x, y, z, nz, hit = self._survey
        roof = self._roof_mask(z, nz, hit)
        if roof.sum() < n:
            raise UaraError(f"scene: only {int(roof.sum())} rooftop points above {self.min_roof_height_m} m "
                            f"for {n} servers; lower min_roof_height_m")
        # jitter inside the survey cell so positions are not on a lattice, then re-cast
        cell = (self.bounds[1] - self.bounds[0]) / max(np.sqrt(len(x)) - 1, 1)
        idx = np.flatnonzero(roof)
        cx = x[idx] + rng.uniform(-cell / 2, cell / 2, len(idx))
        cy = y[idx] + rng.uniform(-cell / 2, cell / 2, len(idx))
        cz, cnz, chit = self.cast_down(cx, cy)
        ok = self._roof_mask(cz, cnz, chit)
        cx, cy, cz = cx[ok], cy[ok], cz[ok]
        if self.roof_edge_m > 0:
            # keep rooftop points within roof_edge_m of a drop to street level (antennas at the roof
            # edge see the street below); fall back to any rooftop point when too few
            ang = np.arange(8) * (np.pi / 4)
            ex = (cx[:, None] + self.roof_edge_m * np.cos(ang)).ravel()
            ey = (cy[:, None] + self.roof_edge_m * np.sin(ang)).ravel()
            ez, _, ehit = self.cast_down(ex, ey)
            street = (ehit & (ez <= self.ground_z + self.street_tolerance_m)).reshape(len(cx), 8)
            edge = street.any(axis=1)
            if edge.sum() >= 4 * n:
                cx, cy, cz = cx[edge], cy[edge], cz[edge]
        cand = np.column_stack([cx, cy, cz + self.mast_height_m])
        return spread_choice(cand, n, rng, default_separation(self.bounds, n))

    def sample_devices(self, n: int, rng: np.random.Generator, *, centers: np.ndarray | None = None,
                       radius_m: float | None = None, servers: np.ndarray | None = None) -> np.ndarray:
        out = np.empty((n, 3))
        todo = np.arange(n)
        for _ in range(200):
            k = len(todo)
            reps = 8  # candidates per missing position and round
            if centers is None:
                cx = rng.uniform(self.bounds[0], self.bounds[1], (k, reps))
                cy = rng.uniform(self.bounds[2], self.bounds[3], (k, reps))
            else:
                ang = rng.uniform(0, 2 * np.pi, (k, reps))
                rad = float(radius_m) * np.sqrt(rng.uniform(0, 1, (k, reps)))
                c = np.asarray(centers, dtype=float)[todo]
                cx = np.clip(c[:, :1] + rad * np.cos(ang), self.bounds[0], self.bounds[1])
                cy = np.clip(c[:, 1:2] + rad * np.sin(ang), self.bounds[2], self.bounds[3])
            z, _nz, hit = self.cast_down(cx.ravel(), cy.ravel())
            ok = (hit & (z <= self.ground_z + self.street_tolerance_m)).reshape(k, reps)
            if servers is not None and len(servers) and self.min_distance_m > 0:
                d = np.hypot(cx[..., None] - servers[:, 0], cy[..., None] - servers[:, 1]).min(axis=2)
                ok &= d >= self.min_distance_m
            has = ok.any(axis=1)
            first = ok.argmax(axis=1)
            rows = np.flatnonzero(has)
            sel = first[rows]
            zz = z.reshape(k, reps)
            out[todo[rows]] = np.column_stack([cx[rows, sel], cy[rows, sel], zz[rows, sel] + self.device_height_m])
            todo = todo[~has]
            if len(todo) == 0:
                return out
        raise UaraError("scene: cannot find street positions for the devices (area too built-up?)")

    def describe(self) -> dict[str, Any]:
        return {"kind": "scene", "bounds": [round(v, 3) for v in self.bounds], "ground_z": round(self.ground_z, 3),
                "street_share": round(self.street_share, 4), "roof_share": round(self.roof_share, 4)}


class SionnaRT(ChannelProvider):
    """Ray-traced channel on a Sionna RT scene (servers as transmitters).

    Args:
        scene: built-in scene name (``sionna.rt.scene.<name>``) or path to a Mitsuba XML file.
        max_depth: maximum number of interactions per path.
        samples_per_src: rays shot per server (cost grows linearly; on etoile
            with 8 servers, 3e5 leaves 33 % of pairs without a path, 1e6 28 %,
            at 3.5x the time).
        los, specular_reflection, diffuse_reflection, refraction, diffraction,
            edge_diffraction: ``PathSolver`` switches (diffraction on: it
            connects many shadowed street positions at little extra cost).
        area_fraction, min_roof_height_m, mast_height_m, roof_edge_m, device_height_m,
            street_tolerance_m, min_distance_m: the :class:`SceneLayout`.
        threads: Dr.Jit worker threads while tracing. 1 (default) makes the
            result bit-for-bit repeatable; with more threads the order in
            which paths are gathered varies and a few pairs change from run
            to run (measured: up to 5 dB on 2 of 120 pairs). 0 = all cores.
        frequency_hz, gain_floor_db: see :class:`ChannelProvider`.
    """

    name = "sionna-rt"
    requires = ("sionna", "mitsuba", "drjit")
    seed_per_slot = False

    def __init__(self, *, scene: str = "etoile", max_depth: int = 3, samples_per_src: int = 300_000,
                 los: bool = True, specular_reflection: bool = True, diffuse_reflection: bool = False,
                 refraction: bool = True, diffraction: bool = True, edge_diffraction: bool = False,
                 area_fraction: float = 0.8, min_roof_height_m: float = 8.0, mast_height_m: float = 3.0,
                 roof_edge_m: float = 4.0, device_height_m: float = 1.5, street_tolerance_m: float = 0.5,
                 min_distance_m: float = 10.0,
                 threads: int = 1, frequency_hz: float = DEFAULT_FREQUENCY_HZ,
                 gain_floor_db: float = DEFAULT_GAIN_FLOOR_DB) -> None:
        super().__init__(frequency_hz=frequency_hz, gain_floor_db=gain_floor_db)
        if int(threads) != threads or threads < 0:
            raise UaraError(f"channel option threads: expected an integer >= 0 (0 = all cores), got {threads!r}")
        if not isinstance(scene, str) or not scene:
            raise UaraError(f"channel option scene: expected a built-in scene name or an XML path, got {scene!r}")
        if int(max_depth) != max_depth or not 0 <= max_depth <= 10:
            raise UaraError(f"channel option max_depth: expected an integer in 0..10, got {max_depth!r}")
        if int(samples_per_src) != samples_per_src or samples_per_src < 100:
            raise UaraError(f"channel option samples_per_src: expected an integer >= 100, got {samples_per_src!r}")
        if not 0 < area_fraction <= 1:
            raise UaraError(f"channel option area_fraction: expected a value in (0, 1], got {area_fraction!r}")
        for key, val in (("min_roof_height_m", min_roof_height_m), ("mast_height_m", mast_height_m),
                         ("roof_edge_m", roof_edge_m),
                         ("device_height_m", device_height_m), ("street_tolerance_m", street_tolerance_m),
                         ("min_distance_m", min_distance_m)):
            if not np.isfinite(val) or val < 0:
                raise UaraError(f"channel option {key}: expected a length >= 0 in metres, got {val!r}")
        looks_like_file = scene.endswith(".xml") or os.sep in scene
        if looks_like_file and not Path(scene).is_file():
            raise UaraError(f"channel option scene: scene file not found: {scene}")
        if not looks_like_file and not scene.isidentifier():
            raise UaraError(f"channel option scene: {scene!r} is neither a built-in scene name nor an XML file")
        self.scene = scene
        self.scene_sha256 = _file_sha256(scene) if looks_like_file else None
        self.solver_options = dict(max_depth=int(max_depth), samples_per_src=int(samples_per_src), los=bool(los),
                                   specular_reflection=bool(specular_reflection),
                                   diffuse_reflection=bool(diffuse_reflection), refraction=bool(refraction),
                                   diffraction=bool(diffraction), edge_diffraction=bool(edge_diffraction))
        self.layout_options = dict(area_fraction=float(area_fraction), min_roof_height_m=float(min_roof_height_m),
                                   mast_height_m=float(mast_height_m), roof_edge_m=float(roof_edge_m),
                                   device_height_m=float(device_height_m),
                                   street_tolerance_m=float(street_tolerance_m),
                                   min_distance_m=float(min_distance_m))
        self.threads = int(threads)
        self._rt: Any = None
        self._scene: Any = None
        self._layout: SceneLayout | None = None
        self._tx_positions: np.ndarray | None = None
        self._solver: Any = None

    @property
    def label(self) -> str:
        return f"{self.name}/{Path(self.scene).stem if self.scene_sha256 else self.scene}"

    def options(self) -> dict[str, Any]:
        out = super().options()
        out["scene"] = self.scene
        if self.scene_sha256:
            out["scene_sha256"] = self.scene_sha256
        out.update(self.solver_options)
        out.update(self.layout_options)
        out["threads"] = self.threads
        return out

    def versions(self) -> dict[str, str]:
        from importlib import metadata

        out = {}
        for pkg in ("sionna-rt", "mitsuba", "drjit"):
            try:
                out[pkg] = metadata.version(pkg)
            except metadata.PackageNotFoundError:
                out[pkg] = "not installed"
        return out

    # -------------------------------------------------------------- loading
    def _load(self) -> Any:
        if self._scene is not None:
            return self._scene
        rt = _import_rt()
        if self.scene_sha256:
            path = self.scene
        else:
            path = getattr(rt.scene, self.scene, None)
            if not isinstance(path, str):
                names = sorted(n for n in dir(rt.scene) if isinstance(getattr(rt.scene, n), str)
                               and str(getattr(rt.scene, n)).endswith(".xml"))
                raise UaraError(f"channel option scene: unknown built-in scene {self.scene!r}; "
                                f"choose one of {', '.join(names)} or give an XML file")
        scene = rt.load_scene(path, merge_shapes=True)
        scene.frequency = self.frequency_hz
        scene.tx_array = rt.PlanarArray(num_rows=1, num_cols=1, pattern="iso", polarization="V")
        scene.rx_array = scene.tx_array
        self._rt, self._scene = rt, scene
        self._solver = rt.PathSolver()
        return scene

    def layout(self) -> SceneLayout:
        if self._layout is None:
            scene = self._load()
            self._layout = SceneLayout(scene.mi_scene, **self.layout_options)
        return self._layout

    def _set_transmitters(self, servers: np.ndarray) -> None:
        if self._tx_positions is not None and np.array_equal(self._tx_positions, servers):
            return
        rt, scene = self._rt, self._scene
        import mitsuba as mi

        for name in list(scene.transmitters):
            scene.remove(name)
        for j, p in enumerate(servers):
            scene.add(rt.Transmitter(name=f"s{j}", position=mi.Point3f(float(p[0]), float(p[1]), float(p[2])),
                                     power_dbm=0.0))
        self._tx_positions = servers.copy()

    def _set_receivers(self, devices: np.ndarray) -> None:
        rt, scene = self._rt, self._scene
        import mitsuba as mi

        for name in list(scene.receivers):
            scene.remove(name)
        for i, p in enumerate(devices):
            scene.add(rt.Receiver(name=f"d{i}", position=mi.Point3f(float(p[0]), float(p[1]), float(p[2]))))

    # -------------------------------------------------------------- tracing
    def _compute(self, servers: np.ndarray, devices: np.ndarray, seed: int) -> ChannelResult:
        self._load()
        import drjit as dr

        self._set_receivers(devices)
        previous = dr.thread_count()
        dr.set_thread_count(self.threads if self.threads > 0 else (os.cpu_count() or 1))
        chunk = tx_chunk(len(servers))
        try:
            powers, loss = [], []
            for lo in range(0, len(servers), chunk):  # one call unless E > TX_CHUNK (bounded memory)
                part = servers[lo:lo + chunk]
                self._set_transmitters(part)
                paths = self._solver(self._scene, seed=int(seed) % (2**31), **self.solver_options)
                power, los = gains_from_paths(paths, num_rx=len(devices), num_tx=len(part))
                powers.append(power)
                loss.append(los)
                if len(servers) > chunk:  # release this chunk's buffers before the next one
                    del paths
                    gc.collect()
                    dr.flush_malloc_cache()
        finally:
            dr.set_thread_count(previous)
        return finalize_gain(np.concatenate(powers, axis=1), self.gain_floor_db, los=np.concatenate(loss, axis=1))
