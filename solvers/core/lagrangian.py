"""The Lagrangian dual of P1: a lower bound that any multipliers certify.

For every server j take a band price mu_j >= 0, a compute weight theta_j in
[0, 1] and a compute level nu_j >= 0. For a usable pair p = (i, j) let

    g_p = q_j + min_{t in [b_p, t_max,p]} [ (c_p + mu_j) b_p / t + lambda e(t)^2 + p_i t ]
              + 2 theta_j nu_j sqrt(s_p) + (1 - theta_j) s_p

(t = b_p / y is the uplink time; t >= b_p is y <= 1; e(t) = max(0, t - a_i),
or |t - a_i| with p_i t under the physical energy model, uara.solvers.core.misocp;
the minimiser is the cubic's root with the sync target a'_i = a_i - p_i / (2 lambda)), and

    D(mu, theta, nu) = sum_i min_{j usable for i} g_ij - sum_j mu_j - sum_j theta_j nu_j^2.

**Weak duality.** For any feasible decision with association S_j, shares y, z:
the compute part of server j is at least max(v_j^2, w_j) with v_j = sum_{S_j}
sqrt(s_ij), w_j = sum_{S_j} s_ij (eq. 6 with optimal z, and z <= 1), and
max(v^2, w) >= theta (2 nu v - nu^2) + (1 - theta) w; the band part satisfies
sum_{S_j} c y >= sum_{S_j} (c + mu_j) y - mu_j because sum_{S_j} y <= 1 and
mu_j >= 0. Each device then pays at least its own pair term, which is at
least g_p, and at least the cheapest of its pairs. Hence D <= I - C for every
feasible decision, whatever the multipliers: the bound needs no solver status,
only that D is evaluated correctly. Every piece is in closed form (the
minimum over t is the root of the cubic of :func:`uara.model.allocation.uplink_time`,
clipped to [b_p, t_max,p]; the function is convex in t, so clipping is exact).
``t_max,p = a_i + sqrt(UB / lambda)`` for a known value UB of I - C
(optimality-based: a solution with a longer uplink costs more than UB), or
infinity.

The maximum of D over the multipliers equals the optimum of the continuous
relaxation of the MISOCP (:mod:`uara.solvers.core.misocp`; strong duality), so D
at good multipliers is the relaxation's bound without the conic solver's
tolerances. It is maximised here by L-BFGS-B on the smoothed dual

    D_tau = sum_i softmin_tau(g_i.) - sum_j mu_j - sum_j theta_j nu_j^2 <= D

(softmin_tau(g) = -tau log sum_j exp(-g_j / tau) <= min_j g_j), a smooth
concave function whose gradient is the envelope formula
dD/dmu_j = sum_i pi_ij y_ij - 1, with pi_i. the softmin weights (a fractional
association: the relaxation's primal x in the limit tau -> 0), for a short
sequence of decreasing tau. The reported bound is the exact D at the final
multipliers, minus a cushion for floating-point rounding.
"""

from __future__ import annotations

import time
from typing import Any
from dataclasses import dataclass

import numpy as np

from uara.model.allocation import uplink_time
from uara.model.formulation import sync_target
from uara.solvers.core.misocp import Pairs

#: Cushion (relative to the sum of absolute terms, absolute) subtracted from D for rounding.
ROUNDING_CUSHION = (1e-11, 1e-12)
#: Smallest compute weight theta the maximiser uses (nu = beta / theta stays finite).
THETA_MIN = 1e-9
#: Times a temperature stage that hit ``max_iter`` is continued from its last point. Stopping a
#: stage short (especially the first, hottest one) leaves the colder stages too far from the
#: maximum to converge on the nearly non-smooth D_tau (seen: 2e-4 below the relaxation).
MAX_RESTARTS = 4
#: L-BFGS-B memory (pairs of correction vectors); the default 10 crawls on the perspective term.
LBFGS_MEMORY = 50


@dataclass(frozen=True)
class Multipliers:
    """Dual variables per server, each (E,): band price mu_j >= 0 (objective units per
    unit share), compute weight theta_j in [0, 1], compute level nu_j >= 0 (sqrt(s))."""

    band_price: np.ndarray
    compute_weight: np.ndarray
    compute_level: np.ndarray


@dataclass(frozen=True)
class DualBound:
    """A certified lower bound on I - C and how it was found.

    ``x``: (M, E) softmin weights at the last temperature (a fractional association
    close to the relaxation's optimum), ``value``: D at ``multipliers`` (before the
    cushion), ``bound``: value minus the rounding cushion.
    """

    bound: float
    value: float
    multipliers: Multipliers
    x: np.ndarray
    evaluations: int
    time_s: float
    #: temperatures not finished when the deadline came (resume with maximise_dual(temperatures=...)),
    #: and the objective magnitude |D(start)| / M that scaled them
    stages_left: tuple[float, ...] = ()
    magnitude: float = 0.0


def t_max(pairs: Pairs, ub: float | None) -> np.ndarray:
    """Longest uplink time worth considering per pair: a_i + sqrt(UB (1 + 1e-9) / lambda), or inf."""
    if ub is None or not np.isfinite(ub) or ub <= 0:
        return np.full(pairs.size, np.inf)
    return pairs.a + np.sqrt(ub * (1.0 + 1e-9) / pairs.lam)


def pair_terms(pairs: Pairs, mult: Multipliers, tmax: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """g_p (P,) of the module docstring and the bandwidth share y_p = b_p / t_p at its minimiser."""
    j = pairs.server
    mu = mult.band_price[j]
    t = np.clip(uplink_time(sync_target(pairs.a, pairs.p, pairs.lam), pairs.b, pairs.c, pairs.lam, mu), pairs.b, tmax)
    y = pairs.b / t
    band = (pairs.c + mu) * y + pairs.lam * pairs.excess(t) ** 2 + pairs.p * t
    th = mult.compute_weight[j]
    compute = 2.0 * th * mult.compute_level[j] * np.sqrt(pairs.work) + (1.0 - th) * pairs.work
    g = pairs.q + band + compute
    g = np.where(pairs.b <= tmax, g, np.inf)  # an uplink longer than t_max even at full share
    return g, y


def dual_value(pairs: Pairs, mult: Multipliers, *, ub: float | None = None) -> tuple[float, float]:
    """(D, certified bound) of the module docstring at ``mult``; values of I - C.

    Raises ValueError if the multipliers are outside their domain.
    """
    mu, th, nu = (np.asarray(v, dtype=float) for v in (mult.band_price, mult.compute_weight, mult.compute_level))
    if np.any(mu < 0) or np.any(th < 0) or np.any(th > 1) or np.any(nu < 0) or not np.all(np.isfinite(np.r_[mu, th, nu])):
        raise ValueError("multipliers outside their domain (mu >= 0, 0 <= theta <= 1, nu >= 0)")
    g, _ = pair_terms(pairs, Multipliers(mu, th, nu), t_max(pairs, ub))
    best = pairs.to_matrix(g, fill=np.inf).min(axis=1)
    if not np.all(np.isfinite(best)):
        raise ValueError("a device has no pair within t_max: UB is below the optimum")
    per_server = mu + th * nu**2
    value = float(best.sum() - per_server.sum())
    scale = float(np.abs(best).sum() + np.abs(per_server).sum())
    return value, value - ROUNDING_CUSHION[0] * scale - ROUNDING_CUSHION[1]


class _SmoothedDual:
    """-D_tau and its gradient (for a minimiser) in the variables (mu, beta, theta)
    with beta = theta nu, divided by ``scale``: in these variables D is jointly concave
    (the constant -theta nu^2 = -beta^2 / theta is a perspective), in (mu, theta, nu) it is not."""

    def __init__(self, pairs: Pairs, tmax: np.ndarray, scale: np.ndarray):
        self.pairs, self.tmax, self.scale = pairs, tmax, scale
        self.sqrt_work = np.sqrt(pairs.work)
        self.tau = 1.0
        self.evaluations = 0

    def split(self, z: np.ndarray) -> Multipliers:
        e = self.pairs.num_servers
        w = z * self.scale
        mu, beta, theta = w[:e], w[e : 2 * e], np.clip(w[2 * e :], THETA_MIN, 1.0)
        return Multipliers(np.maximum(mu, 0.0), theta, np.maximum(beta, 0.0) / theta)

    def weights(self, g: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(softmin per device (M,), weights pi (P,), weights as (M, E))."""
        pr = self.pairs
        table = pr.to_matrix(g, fill=np.inf)
        gmin = table.min(axis=1)
        w = np.exp(-(table - gmin[:, None]) / self.tau)
        total = w.sum(axis=1)
        soft = gmin - self.tau * np.log(total)
        pi = w / total[:, None]
        return soft, pi[pr.device, pr.server], pi

    def __call__(self, z: np.ndarray) -> tuple[float, np.ndarray]:
        self.evaluations += 1
        pr = self.pairs
        mult = self.split(z)
        g, y = pair_terms(pr, mult, self.tmax)
        soft, pi, _ = self.weights(g)
        mu, th, nu = mult.band_price, mult.compute_weight, mult.compute_level
        beta = th * nu
        value = soft.sum() - mu.sum() - np.sum(beta * nu)
        e = pr.num_servers
        grad_mu = np.bincount(pr.server, weights=pi * y, minlength=e) - 1.0
        grad_beta = np.bincount(pr.server, weights=pi * 2.0 * self.sqrt_work, minlength=e) - 2.0 * nu
        grad_th = nu**2 - np.bincount(pr.server, weights=pi * pr.work, minlength=e)
        grad = np.concatenate([grad_mu, grad_beta, grad_th]) * self.scale
        return -float(value), -grad


def maximise_dual(
    pairs: Pairs,
    start: Multipliers,
    *,
    ub: float | None = None,
    temperatures: tuple[float, ...] = (1e-3, 1e-4, 1e-5, 1e-6, 1e-7),
    max_iter: int = 400,
    deadline: float | None = None,
    magnitude: float | None = None,
) -> DualBound:
    """Raise D from ``start`` by L-BFGS-B on D_tau for each relative temperature
    (tau = temperature * magnitude, by default magnitude = |D(start)| / M), keeping the best exact D seen.

    ``start`` also sets the variable scaling (its band prices and levels, floored),
    so give it the right orders of magnitude (e.g. :func:`start_from_association`).
    A ``deadline`` may stop it in any stage (any multipliers certify); the stages it did not
    finish are returned in ``stages_left`` and a later call with ``start`` = the returned
    multipliers, ``temperatures`` = ``stages_left`` and the same ``magnitude`` resumes there.
    """
    from scipy.optimize import minimize

    t0 = time.perf_counter()
    e = pairs.num_servers
    tmax = t_max(pairs, ub)
    mu0 = np.maximum(np.asarray(start.band_price, dtype=float), 0.0)
    nu0 = np.maximum(np.asarray(start.compute_level, dtype=float), 0.0)
    th0 = np.clip(np.asarray(start.compute_weight, dtype=float), 0.0, 1.0)
    scale = np.concatenate([
        np.full(e, float(np.median(mu0)) if np.median(mu0) > 0 else max(float(np.median(pairs.c)), 1e-12)),
        np.maximum(nu0, max(float(np.median(nu0)), 1e-6)),
        np.ones(e),
    ])
    fun = _SmoothedDual(pairs, tmax, scale)
    th0 = np.maximum(th0, THETA_MIN)
    z = np.concatenate([mu0, th0 * nu0, th0]) / scale
    bounds = [(0.0, None)] * 2 * e + [(THETA_MIN, 1.0)] * e
    best_mult = fun.split(z)
    best_value, best_bound = dual_value(pairs, best_mult, ub=ub)
    if magnitude is None:
        magnitude = max(abs(best_value), 1e-12) / max(pairs.num_devices, 1)

    def stop_at_deadline(intermediate_result: Any) -> None:  # any multipliers certify: stopping early is safe
        if deadline is not None and time.perf_counter() >= deadline:
            raise StopIteration

    left = tuple(temperatures)
    for temperature in temperatures:
        if deadline is not None and time.perf_counter() >= deadline:
            break
        fun.tau = temperature * magnitude
        for _ in range(MAX_RESTARTS + 1):  # a stage cut by the iteration limit continues from where it stopped
            res = minimize(fun, z, jac=True, method="L-BFGS-B", bounds=bounds, callback=stop_at_deadline,
                           options={"maxiter": max_iter, "maxcor": LBFGS_MEMORY, "ftol": 1e-15, "gtol": 1e-13})
            z = res.x
            if res.status != 1 or (deadline is not None and time.perf_counter() >= deadline):
                break
        if deadline is None or time.perf_counter() < deadline:
            left = left[1:]  # this stage ran to its end
        mult = fun.split(z)
        value, bound = dual_value(pairs, mult, ub=ub)
        if value > best_value:
            best_value, best_bound, best_mult = value, bound, mult
    g, _ = pair_terms(pairs, best_mult, tmax)
    _, _, x = fun.weights(g)
    return DualBound(best_bound, best_value, best_mult, x, fun.evaluations, time.perf_counter() - t0, left, magnitude)


def start_from_association(pairs: Pairs, association: np.ndarray, band_price: np.ndarray) -> Multipliers:
    """Multipliers that a good association suggests: its band prices, theta = 1, nu_j = v_j."""
    assoc = np.asarray(association, dtype=np.intp)
    on = assoc[pairs.device] == pairs.server
    v = np.bincount(pairs.server, weights=np.sqrt(pairs.work) * on, minlength=pairs.num_servers)
    return Multipliers(np.asarray(band_price, dtype=float), np.ones(pairs.num_servers), v)
