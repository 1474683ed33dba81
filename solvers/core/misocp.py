"""P1 as a convex MISOCP: the data and the point of a decision, shared by
``exact`` (SCIP through Pyomo) and ``relax`` (its continuous relaxation in cvxpy).

Variables live on the P usable pairs (i, j) (gain above the floor and a
finite full-share uplink time b_ij); arrays below have shape (P,) unless
noted, servers (E,). With a_i, b_ij, c_ij, s_ij (server work), q_j from
:class:`uara.model.formulation.SlotData`:

    min   sum_p [ q_j x_p + c_p y_p + p_i t_p + lambda r_p ]  +  sum_j U_j          (= I - C)
    s.t.  sum_{j} x_ij = 1                        each device on one server (eq. 3)
          sum_{i} y_ij <= 1                       bandwidth budget per server (eq. 4)
          0 <= y_p <= x_p,  x_p in {0, 1}
          t_p y_p >= b_p x_p^2,  t_p, y_p >= 0    uplink time T_p = b_p / y_p (rotated cone)
          e_p >= t_p - a_i x_p,  e_p >= 0         uplink excess over the draft time
          (e_p >= a_i x_p - t_p                   as well, when the physical energy model's p_i > 0)
          r_p x_p >= e_p^2,  r_p >= 0             sync penalty (a_i - T)^2, perspective form
          U_j >= v_j^2,  v_j = sum_i sqrt(s_ij) x_ij        compute cost per server (aggregated)
          U_j >= sum_i s_ij x_ij                  valid cut (z_ij <= 1 gives s_ij / z_ij >= s_ij)

Why it is exact for binary x (docs/solvers.md): given x, the compute shares
z ∝ sqrt(s) give sum_i s_i / z_i = (sum_i sqrt(s_i))^2 = v_j^2 (eq. 6), the
per-server optimum; the penalty lambda (a - T)^2 is replaced by lambda
max(0, T - a)^2, which is equal for T >= a and never larger, and an optimal
allocation always has T >= a (y > b / a raises c y and cannot lower the
penalty), so the optima coincide. With x_p = 0 the cones force y_p = e_p = 0
and the pair contributes nothing; with x_p = 1 the perspective r x >= e^2
is r >= e^2. In the relaxation (x in [0, 1]) the pair terms are the
perspective x * phi_p(y / x) of phi_p(y) = lambda max(0, b/y - a)^2 + c y,
which is stronger than the plain form.

Under the physical energy model (p_i > 0, c = 0) an uplink faster than the
draft saves energy, so the optimum may have T < a and the one-sided penalty
would under-count: the model then keeps the two-sided penalty, e_p >= |t_p -
a_i x_p|, with p_i t_p (transmit energy) in the objective; both are convex, so
the problem given x is still a convex per-server problem.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from uara.model.formulation import SlotData


@dataclass(frozen=True)
class Pairs:
    """Usable (device, server) pairs of one slot, shapes (P,)."""

    device: np.ndarray
    server: np.ndarray
    a: np.ndarray  # a_i, s
    b: np.ndarray  # b_ij, s
    c: np.ndarray  # c_ij, objective units per unit share
    work: np.ndarray  # s_ij = f_i^ES / F_j^ES, s
    q: np.ndarray  # q_j, s
    p: np.ndarray  # p_i, objective units per second of uplink (physical energy model; 0 under eq. 8)
    num_devices: int
    num_servers: int
    lam: float

    @property
    def size(self) -> int:
        return int(self.device.size)

    @property
    def two_sided(self) -> bool:
        """Whether the sync penalty must stay two-sided (some p_i > 0: module docstring)."""
        return bool(np.any(self.p > 0))

    def excess(self, t: np.ndarray, x: np.ndarray | float = 1.0) -> np.ndarray:
        """e = |t - a x| (two-sided) or max(0, t - a x): the penalised gap between uplink and draft time."""
        gap = t - self.a * x
        return np.abs(gap) if self.two_sided else np.maximum(0.0, gap)

    def index(self) -> np.ndarray:
        """(M, E) int: the pair index of (i, j), or -1 where the pair is not usable."""
        return self.to_matrix(np.arange(self.size), fill=-1)

    def to_matrix(self, values: np.ndarray, fill: float = 0.0) -> np.ndarray:
        """(M, E) array with ``values`` (P,) at the usable pairs and ``fill`` elsewhere."""
        values = np.asarray(values)
        out = np.full((self.num_devices, self.num_servers), fill, dtype=values.dtype)
        out[self.device, self.server] = values
        return out


def usable_pairs(sd: SlotData) -> Pairs:
    """The pairs (i, j) a device can use: gain above the floor and finite b_ij > 0."""
    ok = sd.usable & np.isfinite(sd.uplink_s_full) & (sd.uplink_s_full > 0)
    dev, srv = np.nonzero(ok)
    return Pairs(
        device=dev,
        server=srv,
        a=sd.device_s[dev],
        b=sd.uplink_s_full[dev, srv],
        c=sd.energy_cost[dev, srv],
        work=sd.server_work_s[dev, srv],
        q=sd.queue_s[srv],
        p=sd.uplink_energy_price[dev],
        num_devices=sd.num_devices,
        num_servers=sd.num_servers,
        lam=float(sd.lam),
    )


@dataclass(frozen=True)
class Point:
    """Values of the MISOCP variables: x, y, t, e, r of shape (P,); v, U of shape (E,)."""

    x: np.ndarray
    y: np.ndarray
    t: np.ndarray
    e: np.ndarray
    r: np.ndarray
    v: np.ndarray
    U: np.ndarray


def point_from_decision(pairs: Pairs, association: np.ndarray, bandwidth_share: np.ndarray) -> Point:
    """The MISOCP point of a decision (association (M,), y (M,)); compute shares are implied (z ∝ sqrt(s)).

    t = b / y, e = max(0, t - a), r = e^2, v_j = sum sqrt(s) x, U_j = max(v_j^2, sum s x).
    """
    assoc = np.asarray(association, dtype=np.intp)
    x = (assoc[pairs.device] == pairs.server).astype(float)
    y = np.where(x > 0, np.asarray(bandwidth_share, dtype=float)[pairs.device], 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(x > 0, pairs.b / np.where(y > 0, y, 1.0), 0.0)
    t = np.where((x > 0) & (y <= 0), np.inf, t)
    e = pairs.excess(t, x)
    r = e**2
    v = np.bincount(pairs.server, weights=np.sqrt(pairs.work) * x, minlength=pairs.num_servers)
    lin = np.bincount(pairs.server, weights=pairs.work * x, minlength=pairs.num_servers)
    return Point(x, y, t, e, r, v, np.maximum(v**2, lin))


def objective(pairs: Pairs, pt: Point) -> float:
    """The MISOCP objective sum_p (q x + c y + p t + lambda r) + sum_j U_j (= I - C at a decision)."""
    energy = pairs.p * pt.t if pairs.two_sided else 0.0
    return float(np.sum(pairs.q * pt.x + pairs.c * pt.y + energy + pairs.lam * pt.r) + np.sum(pt.U))


def max_violation(pairs: Pairs, pt: Point) -> float:
    """Largest violation of the MISOCP constraints at ``pt`` (absolute, unscaled)."""
    m, e = pairs.num_devices, pairs.num_servers
    viol = [
        np.abs(np.bincount(pairs.device, weights=pt.x, minlength=m) - 1.0).max(),
        (np.bincount(pairs.server, weights=pt.y, minlength=e) - 1.0).max(initial=0.0),
        (pt.y - pt.x).max(initial=0.0),
        (pairs.b * pt.x**2 - pt.t * pt.y).max(initial=0.0),
        (pt.t - pairs.a * pt.x - pt.e).max(initial=0.0),
        (pairs.a * pt.x - pt.t - pt.e).max(initial=0.0) if pairs.two_sided else 0.0,
        (pt.e**2 - pt.r * pt.x).max(initial=0.0),
        (pt.v**2 - pt.U).max(initial=0.0),
        (np.bincount(pairs.server, weights=pairs.work * pt.x, minlength=e) - pt.U).max(initial=0.0),
    ]
    return float(max(0.0, *viol))
