"""P1, stated once.

Every back-end reads the problem from here: the heuristics and the exact
allocation use the arrays of :class:`SlotData`, the MISOCP and the convex
relaxation are built from the same arrays, and the evaluator scores every
decision with :func:`device_terms`. Equation numbers refer to Koh & Yang,
arXiv 2511.01695; the deviations from the paper are listed in docs/model.md.

For device i on server j with bandwidth share y and compute share z, the
per-device cost in the objective of P1 (eq. 9) is

    cost_i(j, y, z) = a_i                                 device compute (eq. 6)
                    + q_j + f_i^ES / (z F_j^ES)            server queue + compute (eq. 6)
                    + lambda (a_i - d_i / (y r_ij))^2      draft/uplink sync penalty (eqs. 5, 9)
                    + w E_i^CP / B_i                       compute energy (eq. 8)
                    + w E_i^CM(y) / B_i                    communication energy (eq. 8)

with W_j = W / E, N_j = N0 W_j, SNR_ij = 10^(G_ij/10) P_i / N_j and
r_ij = W_j log2(1 + SNR_ij). Writing b_ij = d_i / r_ij (uplink time at full
share), c_ij = w delta_CM W_j P_i / (1e6 B_i) and s_ij = f_i^ES / F_j^ES:

    cost_i(j, y, z) = a_i + q_j + s_ij / z + lambda (a_i - b_ij / y)^2 + c_ij y + p_i b_ij / y + k_i

where k_i = w delta_CP f_i^MD / B_i. The communication energy has two models
(``params.energy_model``): ``paper`` reads eq. 8 as printed, E_i^CM = delta_CM
(y W_j / 1e6) P_i, so c_ij = w delta_CM W_j P_i / (1e6 B_i) and p_i = 0;
``physical`` counts transmit power times uplink time, E_i^CM = P_i T_i, so
c_ij = 0 and p_i = w P_i / B_i (objective units per second of uplink). With
T = b_ij / y the bandwidth part is lambda (a_i - T)^2 + p_i T + c_ij b_ij / T,
convex in T under both; completing the square, lambda (T - a_i)^2 + p_i T =
lambda (T - a'_i)^2 + const with a'_i = a_i - p_i / (2 lambda) (``sync_target_s``),
so the allocation's cubic is the paper's with a_i replaced by a'_i.
The sum over devices is I; the terms a_i and k_i do not depend on any decision
and form the constant C.
Constraints: each device on exactly one server (eq. 3); on each server the
bandwidth shares and the compute shares each sum to at most 1 (eq. 4, read
per server); shares in [0, 1], positive where a device is served.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from uara.model.instance import Instance, Params, Slot

from uara.model.shared.physics import COVERAGE_SNR_DB, LN2, link_rate  # noqa: F401 - COVERAGE_SNR_DB, LN2 re-exported


def sync_target(a: np.ndarray, p: np.ndarray | float, lam: float) -> np.ndarray:
    """a' = a - p / (2 lambda) (s): the draft time the allocation's cubic aims at when the uplink costs p per
    second (module docstring: completing the square of lambda (T - a)^2 + p T); a' = a under eq. 8 (p = 0)."""
    return np.asarray(a, dtype=float) - np.asarray(p, dtype=float) / (2.0 * lam)


def dbm_to_watt(p_dbm: np.ndarray | float) -> np.ndarray:
    """P[W] = 10^((P[dBm] - 30) / 10)."""
    return 10.0 ** ((np.asarray(p_dbm, dtype=float) - 30.0) / 10.0)


@dataclass(frozen=True)
class SlotData:
    """The arrays of P1 for one slot (M devices, E servers), derived once.

    Attributes (shape, unit):
        lam: lambda, sync penalty weight.
        device_s: a_i = f_i^MD / F_i^MD, (M,), s (eq. 6).
        rate_bps: r_ij = W_j log2(1 + SNR_ij), (M, E), bit/s (eq. 5).
        snr: SNR_ij = 10^(G_ij/10) P_i / (N0 W_j), (M, E), linear.
        uplink_s_full: b_ij = d_i / r_ij, (M, E), s: uplink time at share 1.
        energy_cost: c_ij = w delta_CM W_j P_i / (1e6 B_i), (M, E), objective units per unit share.
        server_work_s: s_ij = f_i^ES / F_j^ES, (M, E), s: server time at share 1.
        queue_s: q_j, (E,), s.
        compute_energy: k_i = w delta_CP f_i^MD / B_i, (M,), objective units.
        usable: (M, E) bool, links a device may use: a path (gain above the floor)
            with 10 log10 SNR_ij >= params.min_snr_db, plus each device's best link.
        comm_power_w: P_i in W, (M,).
        band_hz: W_j, Hz (scalar: equal split).
        battery: B_i, (M,).
        energy_cp_j: E_i^CP = delta_CP f_i^MD, (M,), J.
        energy_cm_j_per_share: delta_CM (W_j / 1e6) P_i, (M,), "J" per unit share (eq. 8).
        energy_weight: w.
        energy_model: ``paper`` or ``physical`` (module docstring).
        uplink_energy_price: p_i = w P_i / B_i under ``physical`` (0 under ``paper``), (M,),
            objective units per second of uplink.
    """

    lam: float
    device_s: np.ndarray
    rate_bps: np.ndarray
    snr: np.ndarray
    uplink_s_full: np.ndarray
    energy_cost: np.ndarray
    server_work_s: np.ndarray
    queue_s: np.ndarray
    compute_energy: np.ndarray
    usable: np.ndarray
    comm_power_w: np.ndarray
    band_hz: float
    battery: np.ndarray
    energy_cp_j: np.ndarray
    energy_cm_j_per_share: np.ndarray
    energy_weight: float
    energy_model: str
    uplink_energy_price: np.ndarray

    @property
    def sync_target_s(self) -> np.ndarray:
        """a'_i = a_i - p_i / (2 lambda), (M,) s: the draft time the allocation's cubic aims at (module docstring)."""
        return sync_target(self.device_s, self.uplink_energy_price, self.lam)

    def max_sinr_association(self) -> np.ndarray:
        """(M,) server indices: each device on its highest-SNR usable server (Max-SINR, TMA's phase 1, and the
        reference association under which the builder derives queues and the statistics measure load)."""
        return np.where(self.usable, self.snr, -np.inf).argmax(axis=1)

    def best_snr_db(self) -> np.ndarray:
        """(M,) dB: each device's best-server SNR over its server's band (with the noise figure)."""
        with np.errstate(divide="ignore"):
            return 10.0 * np.log10(self.snr[np.arange(self.num_devices), self.max_sinr_association()])

    def comm_energy_j(self, association: np.ndarray, y: np.ndarray) -> np.ndarray:
        """E_i^CM in J for server indices ``association`` and shares ``y`` (..., M): eq. 8 as printed
        (delta_CM (y W_j / 1e6) P_i) or P_i T_i with T_i = b_ij / y (``physical``)."""
        y = np.asarray(y, dtype=float)
        if self.energy_model == "paper":
            return self.energy_cm_j_per_share * y
        b = self.uplink_s_full[np.arange(self.num_devices), np.asarray(association, dtype=np.intp)]
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(y > 0, self.comm_power_w * b / np.where(y > 0, y, 1.0), np.inf)

    @property
    def num_devices(self) -> int:
        return int(self.device_s.shape[0])

    @property
    def num_servers(self) -> int:
        return int(self.queue_s.shape[0])

    @property
    def constant(self) -> float:
        """C = sum_i (a_i + k_i): the part of I no decision changes."""
        return float(self.device_s.sum() + self.compute_energy.sum())


def link_rate_bps(band_hz: float, snr: np.ndarray, params: Params) -> np.ndarray:
    """r_ij = W_j log2(1 + SNR_ij) (eq. 5), or with ``shannon_attenuation`` alpha < 1 or a
    ``max_spectral_efficiency`` cap, the link abstraction of 3GPP TR 36.942 Annex A:
    r = W_j min(alpha log2(1 + SNR), cap) (:func:`uara.model.shared.physics.link_rate`). Its SNR floor is the
    coverage threshold (``min_snr_db``): a weaker link is not usable (:func:`usable_links`). Shape of ``snr``, bit/s."""
    return link_rate(band_hz, snr, params.shannon_attenuation, params.max_spectral_efficiency)


def build_slot_data(
    params: Params,
    *,
    gain_db: np.ndarray,
    tx_power_dbm: np.ndarray,
    device_flops: np.ndarray,
    server_flops: np.ndarray,
    battery: np.ndarray,
    queue_s: np.ndarray,
    bits: np.ndarray,
    flops_device: np.ndarray,
    flops_server: np.ndarray,
) -> SlotData:
    """Derive :class:`SlotData` from raw arrays (shapes as in :class:`uara.model.instance.Slot`)."""
    gain_db = np.asarray(gain_db, dtype=float)
    m, e = gain_db.shape
    band_hz = params.bandwidth_hz / e  # W_j = W / E (eq. 5 text)
    noise_w = float(dbm_to_watt(params.noise_dbm_per_hz)) * band_hz  # N_j = N0 W_j
    if params.noise_figure_db:
        noise_w *= 10.0 ** (params.noise_figure_db / 10.0)  # receiver noise figure
    p_w = dbm_to_watt(tx_power_dbm)
    snr = 10.0 ** (gain_db / 10.0) * p_w[:, None] / noise_w
    rate = link_rate_bps(band_hz, snr, params)
    with np.errstate(divide="ignore"):
        uplink_full = np.asarray(bits, dtype=float)[:, None] / rate
    battery = np.asarray(battery, dtype=float)
    w = params.energy_weight
    paper = params.energy_model == "paper"
    energy_cm_per_share = params.delta_cm * (band_hz / 1e6) * p_w if paper else np.zeros(m)
    energy_cost = np.broadcast_to((w * energy_cm_per_share / battery)[:, None], (m, e)).copy()
    uplink_price = np.zeros(m) if paper else w * p_w / battery
    energy_cp = params.delta_cp_j_per_flop * np.asarray(flops_device, dtype=float)
    return SlotData(
        lam=float(params.lambda_),
        device_s=np.asarray(flops_device, dtype=float) / np.asarray(device_flops, dtype=float),
        rate_bps=rate,
        snr=snr,
        uplink_s_full=uplink_full,
        energy_cost=energy_cost,
        server_work_s=np.asarray(flops_server, dtype=float)[:, None] / np.asarray(server_flops, dtype=float)[None, :],
        queue_s=np.asarray(queue_s, dtype=float).copy(),
        compute_energy=w * energy_cp / battery,
        usable=usable_links(gain_db, snr, params),
        comm_power_w=p_w,
        band_hz=float(band_hz),
        battery=battery.copy(),
        energy_cp_j=energy_cp,
        energy_cm_j_per_share=energy_cm_per_share,
        energy_weight=float(w),
        energy_model=params.energy_model,
        uplink_energy_price=uplink_price,
    )


def usable_links(gain_db: np.ndarray, snr: np.ndarray, params: Params) -> np.ndarray:
    """(M, E) bool: link i -> j has a path (gain above ``params.gain_floor_db``) and an SNR
    of at least ``params.min_snr_db`` over the server's band; each device's best link with
    a path is always usable, so every valid instance stays feasible."""
    path = gain_db > params.gain_floor_db
    with np.errstate(divide="ignore"):
        snr_db = 10.0 * np.log10(snr)
    covered = path & (snr_db >= params.min_snr_db)
    best = np.where(path, snr, -np.inf).argmax(axis=1)
    covered[np.arange(gain_db.shape[0]), best] |= path[np.arange(gain_db.shape[0]), best]
    return covered


def slot_data(instance: Instance, t: int = 0, *, slot: Slot | None = None) -> SlotData:
    """:class:`SlotData` of slot ``t`` of ``instance`` (or of an explicit ``slot``,
    e.g. a state rolled forward by :mod:`uara.model.dynamics`)."""
    s = instance.slots[t] if slot is None else slot
    return build_slot_data(
        instance.params,
        gain_db=s.gain_db,
        tx_power_dbm=instance.tx_power_dbm,
        device_flops=instance.device_flops,
        server_flops=instance.server_flops,
        battery=s.battery,
        queue_s=s.queue_s,
        bits=np.array([tk.bits for tk in s.tasks], dtype=float),
        flops_device=np.array([tk.flops_device for tk in s.tasks], dtype=float),
        flops_server=np.array([tk.flops_server for tk in s.tasks], dtype=float),
    )


@dataclass(frozen=True)
class DeviceTerms:
    """Per-device terms of I for given decisions, each of shape (..., M).

    ``server_s`` = q_j + s_ij / z; ``uplink_s`` = T_i = b_ij / y;
    ``sync_penalty`` = lambda (a_i - T_i)^2; ``energy_comm`` = c_ij y + p_i T_i;
    ``energy_compute`` = k_i; ``device_s`` = a_i.
    """

    device_s: np.ndarray
    server_s: np.ndarray
    uplink_s: np.ndarray
    sync_penalty: np.ndarray
    energy_compute: np.ndarray
    energy_comm: np.ndarray

    @property
    def total(self) -> np.ndarray:
        """cost_i: the device's contribution to I."""
        return self.device_s + self.server_s + self.sync_penalty + self.energy_compute + self.energy_comm


def device_terms(sd: SlotData, association: np.ndarray, y: np.ndarray, z: np.ndarray) -> DeviceTerms:
    """The terms of I for each device (vectorised; leading batch axes allowed).

    ``association`` holds server indices (..., M) (assumed in range; the
    evaluator checks); ``y``, ``z`` the device's shares (..., M). A zero share
    gives an infinite term (the device is never served).
    """
    association = np.asarray(association, dtype=np.intp)
    y = np.asarray(y, dtype=float)
    z = np.asarray(z, dtype=float)
    rows = np.arange(sd.num_devices)
    b = sd.uplink_s_full[rows, association]
    s = sd.server_work_s[rows, association]
    c = sd.energy_cost[rows, association]
    with np.errstate(divide="ignore", invalid="ignore"):
        uplink = np.where(y > 0, b / np.where(y > 0, y, 1.0), np.inf)
        server = sd.queue_s[association] + np.where(z > 0, s / np.where(z > 0, z, 1.0), np.inf)
        sync = sd.lam * (sd.device_s - uplink) ** 2
    shape = np.broadcast_shapes(association.shape, y.shape)
    return DeviceTerms(
        device_s=np.broadcast_to(sd.device_s, shape),
        server_s=server,
        uplink_s=uplink,
        sync_penalty=sync,
        energy_compute=np.broadcast_to(sd.compute_energy, shape),
        energy_comm=c * y + sd.uplink_energy_price * uplink if sd.energy_model != "paper" else c * y,
    )
