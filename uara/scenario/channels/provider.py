"""The channel-provider interface: one call per slot, gain in dB per device-server pair.

A provider is configured once (scene, frequency, options) and then called with
the positions of one slot::

    result = provider(server_positions, device_positions, seed=3)
    result.gain_db      # (M, E) float64, dB; pairs with no path hold the floor
    result.no_path      # (M, E) bool
    result.los          # (M, E) bool, or None when the model has no notion of it
    result.info         # dict of JSON-ready diagnostics (counts, timings, versions)

The gain G_ij is the wideband path gain between device i and server j
(sum of |a_k|^2 over the propagation paths k, isotropic antennas, no transmit
power), so that SNR_ij = 10^(G_ij / 10) P_i / N_j (docs/model.md). Links are
reciprocal: a provider may trace from the servers (as transmitters) to the
devices and report the result for the uplink.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from uara.errors import UaraError

if TYPE_CHECKING:
    from uara.scenario.channels.geometry import Layout

#: Carrier frequency used when none is given (3GPP n78, Sionna RT's default).
DEFAULT_FREQUENCY_HZ = 3.5e9
#: Gain written for pairs with no propagation path, dB (same as ``Params.gain_floor_db``).
DEFAULT_GAIN_FLOOR_DB = -200.0


@dataclass(frozen=True)
class ChannelResult:
    """The channel of one slot.

    Attributes:
        gain_db: (M, E) float64, path gain in dB; pairs in ``no_path`` hold
            the floor value, never -inf or NaN.
        no_path: (M, E) bool, True where the model found no propagation path
            (or a gain below the floor, which is then clipped to the floor).
        los: (M, E) bool, True where a line-of-sight path exists; None when
            the model does not say.
        info: JSON-ready diagnostics (e.g. ``{"no_path_pairs": 12}``).
    """

    gain_db: np.ndarray
    no_path: np.ndarray
    los: np.ndarray | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def unreachable(self) -> np.ndarray:
        """(M,) bool: devices with no path to any server."""
        return np.all(self.no_path, axis=1)


def finalize_gain(linear_gain: np.ndarray, floor_db: float, los: np.ndarray | None = None,
                  info: dict[str, Any] | None = None) -> ChannelResult:
    """Turn linear path gains (M, E) into a :class:`ChannelResult`.

    gain_db = 10 log10(g) where g > 0 and 10 log10(g) > floor_db; every other
    pair (no path, or weaker than the floor) becomes ``floor_db`` and is
    marked in ``no_path``.
    """
    g = np.asarray(linear_gain, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        db = np.where(g > 0, 10.0 * np.log10(np.where(g > 0, g, 1.0)), -np.inf)
    return finalize_db(db, floor_db, los=los, info=info)


def finalize_db(gain_db: np.ndarray, floor_db: float, los: np.ndarray | None = None,
                info: dict[str, Any] | None = None) -> ChannelResult:
    """As :func:`finalize_gain` for gains already in dB (-inf or NaN = no path)."""
    db = np.array(gain_db, dtype=np.float64)
    no_path = ~np.isfinite(db) | (db <= floor_db)
    db[no_path] = floor_db
    out_info = {"no_path_pairs": int(no_path.sum()), "unreachable_devices": int(np.all(no_path, axis=1).sum())}
    out_info.update(info or {})
    return ChannelResult(db, no_path, None if los is None else np.asarray(los, dtype=bool), out_info)


def as_positions(value: Any, what: str) -> np.ndarray:
    """Validate positions: a (N, 3) finite float64 array in metres (N may be 0)."""
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise UaraError(f"{what}: expected an (N, 3) array of positions in metres, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise UaraError(f"{what}: positions must be finite (metres)")
    return arr


class ChannelProvider(abc.ABC):
    """Base class of every channel model.

    Subclasses set ``name`` (the registry key), implement :meth:`_compute` and
    :meth:`layout`, and list their configuration in :meth:`options` so that a
    build can be repeated from its provenance.
    """

    name: ClassVar[str] = ""
    #: Python packages the provider imports (lazily); checked by :meth:`is_available`.
    requires: ClassVar[tuple[str, ...]] = ()
    #: True when the seed draws physical randomness (shadowing, fading) that should
    #: change from slot to slot; False when it only drives the numerical sampling of
    #: a deterministic model (ray tracing), where builders keep one seed for all slots
    #: so that the same position always gets the same channel.
    seed_per_slot: ClassVar[bool] = True

    def __init__(self, *, frequency_hz: float = DEFAULT_FREQUENCY_HZ,
                 gain_floor_db: float = DEFAULT_GAIN_FLOOR_DB) -> None:
        if not np.isfinite(frequency_hz) or frequency_hz <= 0:
            raise UaraError(f"channel option frequency_hz: must be a positive frequency in Hz, got {frequency_hz!r}")
        if not np.isfinite(gain_floor_db) or gain_floor_db >= 0:
            raise UaraError(f"channel option gain_floor_db: must be a finite negative dB value, got {gain_floor_db!r}")
        self.frequency_hz = float(frequency_hz)
        self.gain_floor_db = float(gain_floor_db)

    # ------------------------------------------------------------------ API
    def options(self) -> dict[str, Any]:
        """Every option of this provider, JSON-ready (recorded in provenance)."""
        return {"frequency_hz": self.frequency_hz, "gain_floor_db": self.gain_floor_db}

    @property
    def label(self) -> str:
        """Short human label, e.g. ``sionna-rt/etoile``."""
        return self.name

    @classmethod
    def is_available(cls) -> bool:
        """True when the optional packages this provider needs are importable."""
        import importlib.util

        return all(importlib.util.find_spec(p) is not None for p in cls.requires)

    def versions(self) -> dict[str, str]:
        """Versions of the packages the provider uses (for provenance)."""
        from importlib import metadata

        out = {}
        for pkg in self.requires:
            try:
                out[pkg] = metadata.version(pkg.replace("_", "-"))
            except metadata.PackageNotFoundError:
                out[pkg] = "not installed"
        return out

    @abc.abstractmethod
    def layout(self) -> "Layout":
        """The geometry in which servers and devices are placed and move."""

    def __call__(self, server_positions: Any, device_positions: Any, seed: int = 0) -> ChannelResult:
        """Channel of one slot.

        Args:
            server_positions: (E, 3) metres.
            device_positions: (M, 3) metres.
            seed: seed of every random draw of this call (shadowing, fading,
                ray sampling); the same inputs and seed give the same result.

        Returns:
            :class:`ChannelResult` with (M, E) arrays.
        """
        servers = as_positions(server_positions, "server_positions")
        devices = as_positions(device_positions, "device_positions")
        if len(servers) == 0:
            raise UaraError("server_positions: at least one server is needed")
        if len(devices) == 0:
            e = len(servers)
            return ChannelResult(np.zeros((0, e)), np.zeros((0, e), bool), np.zeros((0, e), bool), {"no_path_pairs": 0})
        return self._compute(servers, devices, int(seed))

    @abc.abstractmethod
    def _compute(self, servers: np.ndarray, devices: np.ndarray, seed: int) -> ChannelResult:
        """Compute the channel for validated (E, 3) and (M, 3) positions."""
