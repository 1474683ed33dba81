"""``free-space``: log-distance path loss, no Sionna, fast (tests, quick studies).

    G_ij [dB] = -( FSPL(d0) + 10 n log10(max(d_ij, d0) / d0) ) + X_ij,
    FSPL(d0) = 20 log10(4 pi d0 f / c),   X_ij ~ N(0, sigma^2) (dB, i.i.d.),

with d_ij the 3-D distance in metres, f the carrier frequency, n the path-loss
exponent (2 = free space) and sigma the shadowing standard deviation (0 by
default: the gain then falls strictly with distance). Every pair has a path
and line of sight. Geometry: an open :class:`~uara.scenario.channels.geometry.BoxLayout`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from uara.scenario.channels.provider import (DEFAULT_FREQUENCY_HZ, DEFAULT_GAIN_FLOOR_DB, ChannelProvider, ChannelResult,
                                finalize_db)
from uara.scenario.channels.geometry import BoxLayout
from uara.errors import UaraError

SPEED_OF_LIGHT = 299_792_458.0


def fspl_db(distance_m: np.ndarray | float, frequency_hz: float) -> np.ndarray:
    """Free-space path loss 20 log10(4 pi d f / c) in dB (positive), same shape as ``distance_m``."""
    d = np.asarray(distance_m, dtype=np.float64)
    return 20.0 * np.log10(4.0 * np.pi * d * frequency_hz / SPEED_OF_LIGHT)


class FreeSpace(ChannelProvider):
    """Log-distance path loss with optional log-normal shadowing.

    Args:
        exponent: path-loss exponent n (>= 1; 2 = free space).
        shadowing_db: sigma of the log-normal shadowing (dB, >= 0).
        reference_m: reference distance d0 (m); closer pairs are clamped to it.
        width_m, depth_m, server_height_m, device_height_m, min_distance_m:
            the :class:`BoxLayout` (defaults 500 x 500 m, servers at 25 m).
        frequency_hz, gain_floor_db: see :class:`ChannelProvider`.
    """

    name = "free-space"

    def __init__(self, *, exponent: float = 2.0, shadowing_db: float = 0.0, reference_m: float = 1.0,
                 width_m: float = 500.0, depth_m: float = 500.0, server_height_m: float = 25.0,
                 device_height_m: float = 1.5, min_distance_m: float = 10.0,
                 frequency_hz: float = DEFAULT_FREQUENCY_HZ, gain_floor_db: float = DEFAULT_GAIN_FLOOR_DB) -> None:
        super().__init__(frequency_hz=frequency_hz, gain_floor_db=gain_floor_db)
        if not np.isfinite(exponent) or exponent < 1:
            raise UaraError(f"channel option exponent: the path-loss exponent must be >= 1, got {exponent!r}")
        if not np.isfinite(shadowing_db) or shadowing_db < 0:
            raise UaraError(f"channel option shadowing_db: must be >= 0 dB, got {shadowing_db!r}")
        if not np.isfinite(reference_m) or reference_m <= 0:
            raise UaraError(f"channel option reference_m: must be a positive distance in metres, got {reference_m!r}")
        self.exponent = float(exponent)
        self.shadowing_db = float(shadowing_db)
        self.reference_m = float(reference_m)
        self._layout = BoxLayout(width_m, depth_m, server_height_m, device_height_m, min_distance_m)

    def options(self) -> dict[str, Any]:
        out = super().options()
        out.update(exponent=self.exponent, shadowing_db=self.shadowing_db, reference_m=self.reference_m)
        out.update(self._layout.as_options())
        return out

    def layout(self) -> BoxLayout:
        return self._layout

    def _compute(self, servers: np.ndarray, devices: np.ndarray, seed: int) -> ChannelResult:
        d = np.linalg.norm(devices[:, None, :] - servers[None, :, :], axis=2)  # (M, E)
        d = np.maximum(d, self.reference_m)
        loss = fspl_db(self.reference_m, self.frequency_hz) + 10.0 * self.exponent * np.log10(d / self.reference_m)
        gain = -loss
        if self.shadowing_db > 0:
            gain = gain + np.random.default_rng(seed).normal(0.0, self.shadowing_db, size=gain.shape)
        result = finalize_db(gain, self.gain_floor_db, los=np.ones_like(gain, dtype=bool))
        return result
