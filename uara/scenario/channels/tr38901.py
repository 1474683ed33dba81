"""``sionna-umi`` / ``sionna-uma``: 3GPP TR 38.901 stochastic channels through Sionna.

For each slot the topology (servers as base stations, devices as user
terminals, all outdoor, single omnidirectional antennas) is given to
``sionna.phy.channel.tr38901.UMi`` / ``UMa`` with path loss and shadow fading
enabled; the model draws LOS/NLOS per pair, the large-scale parameters and
the clusters, and returns uplink path coefficients a_k. The gain is

    G_ij [dB] = 10 log10( sum_k |a_ijk|^2 ),

i.e. path loss + shadowing + the small-scale fading of the sum of clusters
(one time sample). Draws are independent across slots (spatial consistency
off). The Sionna RNG is seeded with the call's ``seed`` before each call
(``sionna.phy.config.seed``), so the same positions and seed give the same
gains. Geometry: an open :class:`~uara.scenario.channels.geometry.BoxLayout` with the
3GPP heights and minimum distances (UMi: BS 10 m, d_2D >= 10 m; UMa: BS 25 m,
d_2D >= 35 m).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from uara.scenario.channels.provider import (DEFAULT_FREQUENCY_HZ, DEFAULT_GAIN_FLOOR_DB, ChannelProvider, ChannelResult,
                                finalize_gain)
from uara.scenario.channels.geometry import BoxLayout
from uara.errors import MissingDependencyError, UaraError

_DEFAULTS = {"umi": {"server_height_m": 10.0, "min_distance_m": 10.0},
             "uma": {"server_height_m": 25.0, "min_distance_m": 35.0}}


class Sionna38901(ChannelProvider):
    """Base of the UMi/UMa providers; ``scenario`` is ``"umi"`` or ``"uma"``.

    Args:
        o2i_model: Sionna's outdoor-to-indoor model, ``"low"`` or ``"high"``
            (only used for indoor devices; all devices are outdoor here).
        width_m, depth_m, server_height_m, device_height_m, min_distance_m:
            the :class:`BoxLayout` (500 x 500 m; heights and minimum distance
            default to the scenario's 3GPP values).
        frequency_hz, gain_floor_db: see :class:`ChannelProvider`.
    """

    scenario = ""
    requires = ("sionna", "torch")

    def __init__(self, *, o2i_model: str = "low", width_m: float = 500.0, depth_m: float = 500.0,
                 server_height_m: float | None = None, device_height_m: float = 1.5,
                 min_distance_m: float | None = None, frequency_hz: float = DEFAULT_FREQUENCY_HZ,
                 gain_floor_db: float = DEFAULT_GAIN_FLOOR_DB) -> None:
        super().__init__(frequency_hz=frequency_hz, gain_floor_db=gain_floor_db)
        if o2i_model not in ("low", "high"):
            raise UaraError(f"channel option o2i_model: expected 'low' or 'high', got {o2i_model!r}")
        if not 0.5e9 <= self.frequency_hz <= 100e9:
            raise UaraError(f"channel option frequency_hz: TR 38.901 covers 0.5-100 GHz, got {self.frequency_hz:g} Hz")
        d = _DEFAULTS[self.scenario]
        self.o2i_model = o2i_model
        self._layout = BoxLayout(width_m, depth_m,
                                 d["server_height_m"] if server_height_m is None else server_height_m,
                                 device_height_m,
                                 d["min_distance_m"] if min_distance_m is None else min_distance_m)

    def options(self) -> dict[str, Any]:
        out = super().options()
        out["o2i_model"] = self.o2i_model
        out.update(self._layout.as_options())
        return out

    def layout(self) -> BoxLayout:
        return self._layout

    def _new_model(self) -> Any:
        """A fresh Sionna model (it keeps topology state between calls, so one per call)."""
        try:
            from sionna.phy.channel import tr38901
        except ImportError as exc:
            raise MissingDependencyError("sionna", "sionna", f"the {self.name} channel ({exc})") from None
        array = dict(num_rows_per_panel=1, num_cols_per_panel=1, polarization="single",
                     polarization_type="V", antenna_pattern="omni", carrier_frequency=self.frequency_hz)
        cls = tr38901.UMi if self.scenario == "umi" else tr38901.UMa
        return cls(carrier_frequency=self.frequency_hz, o2i_model=self.o2i_model,
                   ut_array=tr38901.PanelArray(**array), bs_array=tr38901.PanelArray(**array),
                   direction="uplink", enable_pathloss=True, enable_shadow_fading=True, device="cpu")

    def _compute(self, servers: np.ndarray, devices: np.ndarray, seed: int) -> ChannelResult:
        model = self._new_model()
        import sionna.phy
        import torch

        sionna.phy.config.seed = int(seed) % (2**63)
        m, e = len(devices), len(servers)
        f32 = torch.float32
        model.set_topology(
            ut_loc=torch.tensor(devices[None], dtype=f32),
            bs_loc=torch.tensor(servers[None], dtype=f32),
            ut_orientations=torch.zeros((1, m, 3), dtype=f32),
            bs_orientations=torch.zeros((1, e, 3), dtype=f32),
            ut_velocities=torch.zeros((1, m, 3), dtype=f32),
            in_state=torch.zeros((1, m), dtype=torch.bool),
        )
        a, _tau = model(num_time_samples=1, sampling_frequency=1.0)
        # a: [1, num_rx = E, 1, num_tx = M, 1, num_paths, 1] (uplink)
        power = (a.abs() ** 2).sum(dim=(2, 4, 5, 6))[0].double().cpu().numpy()  # (E, M)
        # The LOS state drawn by the scenario, [1, num_bs, num_ut]; private in Sionna 2.2.
        los_t = getattr(getattr(model, "_scenario", None), "los", None)
        los = None if los_t is None else np.asarray(los_t[0].cpu().numpy(), dtype=bool).T
        return finalize_gain(power.T, self.gain_floor_db, los=los)


class SionnaUMi(Sionna38901):
    """3GPP urban micro (street canyon), TR 38.901 Sec. 7.4, via Sionna."""

    name = "sionna-umi"
    scenario = "umi"


class SionnaUMa(Sionna38901):
    """3GPP urban macro, TR 38.901 Sec. 7.4, via Sionna."""

    name = "sionna-uma"
    scenario = "uma"
