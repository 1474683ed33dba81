"""Resource allocation for a fixed association.

Given which server each device uses, P1 separates into one convex problem per
server (docs/model.md, "Structure"):

Compute (eq. 6):  min sum_i s_i / z_i  s.t. sum_i z_i <= 1
    =>  z_i = sqrt(s_i) / sum_k sqrt(s_k),  value (sum_i sqrt(s_i))^2.

Bandwidth (eqs. 5, 8, 9):  min sum_i phi_i(y_i)  s.t. sum_i y_i <= 1, with
    phi_i(y) = lambda (a_i - b_i / y)^2 + c_i y + p_i b_i / y
    (c_i > 0, p_i = 0 under eq. 8 as printed; c_i = 0, p_i > 0 under the physical
    energy model, uara.model.formulation). With t = b_i / y (uplink time) and the
    sync target a'_i = a_i - p_i / (2 lambda) the stationarity condition is
        2 lambda (t - a'_i) t^2 / b_i = c_i + mu,   t >= max(a'_i, 0),
    a cubic t^3 - a t^2 - k = 0 (a = a'_i) with k = (c_i + mu) b_i / (2 lambda), whose
    root above a >= 0 is, by Cardano with u v = a^2 / 9 (no cancellation),
        t = a/3 + u + a^2 / (9 u),  u = cbrt(h + sqrt((k/2)(2 a^3/27 + k/2))),
        h = a^3/27 + k/2 (for a < 0, Newton's method from above the root).
    mu >= 0 is the price of the server's band: mu = 0 if the unconstrained
    shares fit, else the root of sum_i b_i / t_i(mu) = 1, found by Newton's
    method (sum y(mu) is convex and decreasing) with bisection safeguards.

Everything is vectorised over *groups*: a group is one server's device set.
For a plain association the groups are the servers; brute force and local
search pass many (candidate, server) groups at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from uara.model.formulation import SlotData, sync_target


@dataclass(frozen=True)
class Allocation:
    """Shares for each device, shape (M,), and the multiplier of each group's band."""

    bandwidth_share: np.ndarray
    compute_share: np.ndarray
    band_price: np.ndarray  # mu per group, (G,)
    iterations: int


def uplink_time(a: np.ndarray, b: np.ndarray, c: np.ndarray, lam: float, mu: np.ndarray) -> np.ndarray:
    """t_i(mu): the root t >= max(a, 0) of t^3 - a t^2 - (c + mu) b / (2 lambda) = 0.

    ``a`` is the sync target (a_i, or a'_i = a_i - p_i / (2 lambda) under the physical energy
    model, which may be negative). For a >= 0 Cardano's closed form plus one Newton polish; for
    a < 0, f(t) = t^2 (t - a) - k is convex and increasing on t > 0 and Newton's method started
    above the root, at min(sqrt(k / -a), cbrt(k)), descends to it monotonically. Each branch is
    computed on its own entries only (under the physical model every pair takes the second)."""
    k = (np.asarray(c, dtype=float) + mu) * np.asarray(b, dtype=float) / (2.0 * lam)
    a, k = np.broadcast_arrays(np.asarray(a, dtype=float), k)
    neg = a < 0
    if not neg.any():
        return _uplink_time_cardano(a, k)
    if neg.all():
        return _uplink_time_newton(a, k)
    t = np.empty(a.shape)
    t[~neg] = _uplink_time_cardano(a[~neg], k[~neg])
    t[neg] = _uplink_time_newton(a[neg], k[neg])
    return t


def _newton_step(t: np.ndarray, a: np.ndarray, k: np.ndarray) -> np.ndarray:
    """f / f' for f(t) = t^2 (t - a) - k (0 where f' = 0: t = 0 with k = 0, a root)."""
    f = t * t * (t - a) - k
    fp = t * (3.0 * t - 2.0 * a)
    return np.divide(f, fp, out=np.zeros_like(t), where=fp > 0)


def _uplink_time_cardano(a: np.ndarray, k: np.ndarray) -> np.ndarray:
    """The root for a >= 0: Cardano with u v = a^2 / 9 (no cancellation), then one Newton step
    that removes the rounding of the cube roots."""
    a3 = a**3 / 27.0
    h = a3 + 0.5 * k
    with np.errstate(divide="ignore", invalid="ignore"):
        u = np.cbrt(h + np.sqrt(0.5 * k * (2.0 * a3 + 0.5 * k)))
        t = a / 3.0 + u + np.where(u > 0, a * a / (9.0 * np.where(u > 0, u, 1.0)), 0.0)
    return np.maximum(t - _newton_step(t, a, k), a)


#: Newton steps at most for a < 0: from <= 26 % above the root the relative error goes
#: 0.26, 0.07, 5e-3, 2e-5, 4e-10, rounding; the loop stops as soon as no entry moves.
NEWTON_STEPS = 8


def _uplink_time_newton(a: np.ndarray, k: np.ndarray) -> np.ndarray:
    """The root for a < 0, by Newton's method from above (monotone, quadratic)."""
    t = np.minimum(np.sqrt(k / -a), np.cbrt(k))
    for _ in range(NEWTON_STEPS):
        step = _newton_step(t, a, k)
        t = t - step
        if not np.any(np.abs(step) > 4.0 * np.finfo(float).eps * t):
            break
    return np.maximum(t, 0.0)


def compute_shares(work_s: np.ndarray, groups: np.ndarray, num_groups: int) -> np.ndarray:
    """z_i = sqrt(s_i) / sum_{k in group(i)} sqrt(s_k): optimal compute shares (eq. 6)."""
    root = np.sqrt(work_s)
    total = np.bincount(groups, weights=root, minlength=num_groups)
    return root / total[groups]


def bandwidth_shares(
    a: np.ndarray,
    b: np.ndarray,
    c: np.ndarray,
    lam: float,
    groups: np.ndarray,
    num_groups: int,
    *,
    rtol: float = 1e-13,
    max_iter: int = 200,
    mu_start: np.ndarray | None = None,
    p: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Optimal bandwidth shares for each group's devices (see module docstring).

    Args:
        a: draft times a_i (s), (N,).  b: full-share uplink times b_i (s), (N,).
        c: energy cost per unit share c_i, (N,).  groups: group id of each entry, (N,).
        mu_start: a guess of each group's band price (G,), e.g. a neighbouring group's: Newton starts
            there for the groups whose band binds (fewer iterations, the same root to ``rtol``).
        p: uplink energy price p_i (N,) of the physical energy model (None: 0, eq. 8 as printed).
    Returns:
        (y (N,), mu (G,), iterations).
    """
    if p is not None:
        a = sync_target(a, p, lam)
    t = uplink_time(a, b, c, lam, 0.0)
    with np.errstate(divide="ignore"):
        y = b / t  # t = 0 (a' <= 0, c = 0): the device would take any band, the group binds
    g = np.bincount(groups, weights=y, minlength=num_groups) - 1.0
    active = g > 0.0  # groups whose band binds at mu = 0
    if not active.any():
        return y, np.zeros(num_groups), 0
    mu = np.zeros(num_groups) if mu_start is None else np.where(active, np.maximum(mu_start, 0.0), 0.0)
    lo = np.zeros(num_groups)
    hi = np.full(num_groups, np.inf)
    it = 0
    for it in range(max_iter + 1):
        if it > 0 or mu_start is not None:  # iteration 0 without a start is the evaluation at mu = 0 above
            t = uplink_time(a, b, c, lam, mu[groups])
            with np.errstate(divide="ignore"):
                y = b / t
            g = np.bincount(groups, weights=y, minlength=num_groups) - 1.0
        # d y / d mu = -(b / t^2) * b / (2 lambda t (3 t - 2 a))
        with np.errstate(divide="ignore", invalid="ignore"):
            dy = -(b / (t * t)) * b / (2.0 * lam * t * (3.0 * t - 2.0 * a))
        dg = np.bincount(groups, weights=dy, minlength=num_groups)
        pos = g > 0
        lo = np.where(active & pos, np.maximum(lo, mu), lo)
        hi = np.where(active & ~pos, np.minimum(hi, mu), hi)
        done = ~active | (np.abs(g) <= rtol)
        if done.all():
            break
        with np.errstate(divide="ignore", invalid="ignore"):
            newton = mu - g / dg
        bad = ~np.isfinite(newton) | (newton <= lo) | (newton >= hi)
        bisect = np.where(np.isfinite(hi), 0.5 * (lo + hi), np.maximum(2.0 * mu, 1.0))
        mu = np.where(done, mu, np.where(bad, bisect, newton))
    # Rounding can leave a group's sum a hair above 1: scale back into the budget.
    load = np.bincount(groups, weights=y, minlength=num_groups)
    scale = 1.0 / np.maximum(load, 1.0)
    return y * scale[groups], mu, it


def exact_allocation(sd: SlotData, association: np.ndarray) -> Allocation:
    """Optimal (y, z) for a fixed association: per-server convex problems solved
    to machine precision (compute in closed form, bandwidth by the cubic + multiplier)."""
    assoc = np.asarray(association, dtype=np.intp)
    rows = np.arange(sd.num_devices)
    e = sd.num_servers
    z = compute_shares(sd.server_work_s[rows, assoc], assoc, e)
    y, mu, it = bandwidth_shares(
        sd.device_s, sd.uplink_s_full[rows, assoc], sd.energy_cost[rows, assoc], sd.lam, assoc, e,
        p=sd.uplink_energy_price,
    )
    return Allocation(y, z, mu, it)


def uniform_allocation(sd: SlotData, association: np.ndarray) -> Allocation:
    """The paper's benchmark allocation: y_i = z_i = 1 / n_j on each server."""
    assoc = np.asarray(association, dtype=np.intp)
    n = np.bincount(assoc, minlength=sd.num_servers).astype(float)
    share = 1.0 / n[assoc]
    return Allocation(share, share.copy(), np.zeros(sd.num_servers), 0)


ALLOCATORS = {"exact": exact_allocation, "uniform": uniform_allocation}


def allocate(sd: SlotData, association: np.ndarray, method: str = "exact") -> Allocation:
    """Dispatch to an allocation method by name ('exact' or 'uniform')."""
    try:
        fn = ALLOCATORS[method]
    except KeyError:
        from uara.errors import SolverError

        raise SolverError(f"unknown allocation {method!r}; choose one of: {', '.join(ALLOCATORS)}") from None
    return fn(sd, association)


def band_cost(a: np.ndarray, b: np.ndarray, c: np.ndarray, lam: float, y: np.ndarray,
              p: np.ndarray | float = 0.0) -> np.ndarray:
    """A device's bandwidth-dependent cost at share y (eq. 9): lambda (a_i - b_ij / y)^2 + c_ij y + p_i b_ij / y,
    the sync penalty plus the communication-energy term (c under eq. 8 as printed, p under the physical
    energy model); broadcasts. (The relaxation's one-sided form,
    lambda max(0, t - a)^2 with t >= b, lives with the bounds in uara.solvers.p1.pricing / uara.solvers.core.lagrangian.)"""
    t = b / y
    return lam * (a - t) ** 2 + c * y + p * t


def band_terms(a: np.ndarray, b: np.ndarray, c: np.ndarray, lam: float, mu: np.ndarray,
               p: np.ndarray | float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(beta, y) with beta = min_{t >= b} [(c + mu) b / t + lambda (t - a)^2 + p t] and y = b / t at the
    minimiser (broadcast over ``mu``): a device's band term at band price mu, the bandwidth
    it takes priced at mu included (the node bound of ``price``'s pricing, priced insertion, the pair features
    of ``learned-pref``). The minimiser is the
    cubic's root for the sync target a' = a - p / (2 lambda) (with p = 0, t >= a and the penalty is the
    one-sided lambda max(0, t - a)^2), clipped to t >= b (y <= 1; the function is convex in t)."""
    t = np.maximum(uplink_time(sync_target(a, p, lam), b, c, lam, mu), b)
    y = b / t
    gap = t - a if np.any(np.asarray(p) > 0) else np.maximum(t - a, 0.0)
    return (c + mu) * y + lam * gap**2 + p * t, y


def group_values(
    sd: SlotData, devices: np.ndarray, servers: np.ndarray, groups: np.ndarray, num_groups: int,
    mu_start: np.ndarray | None = None,
    return_prices: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Optimal value of each group's sub-problem (controllable part only).

    Entry n puts device ``devices[n]`` on server ``servers[n]`` in group
    ``groups[n]`` (all entries of a group must share one server). Returns, per
    group, sum_i [q_j + lambda (a_i - t_i)^2 + c_i y_i + p_i t_i] + (sum_i sqrt(s_i))^2,
    i.e. the group's share of I - C under the exact allocation; empty groups give 0.
    ``mu_start`` (G,) starts each group's band-price iteration at a guess (:func:`bandwidth_shares`);
    ``return_prices`` also returns the band prices mu (G,).
    """
    a = sd.device_s[devices]
    b = sd.uplink_s_full[devices, servers]
    c = sd.energy_cost[devices, servers]
    p = sd.uplink_energy_price[devices]
    s = sd.server_work_s[devices, servers]
    y, mu, _ = bandwidth_shares(a, b, c, sd.lam, groups, num_groups, mu_start=mu_start, p=p)
    with np.errstate(divide="ignore"):
        per = band_cost(a, b, c, sd.lam, y, p) + sd.queue_s[servers]
    value = np.bincount(groups, weights=per, minlength=num_groups)
    root = np.bincount(groups, weights=np.sqrt(s), minlength=num_groups)
    return (value + root**2, mu) if return_prices else value + root**2
