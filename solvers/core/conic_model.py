"""P1's MISOCP of one slot as a cvxpy problem: relax's conic relaxation and the exported model.

The model of :mod:`uara.solvers.core.misocp` on the P usable pairs, in cvxpy's conic form::

    min   q @ x + c @ y + lambda sum(r) + sum(U) (+ p @ t, physical energy model)      (= I - C)
    s.t.  A_dev x = 1,  A_srv y <= 1,  y <= x,  x >= 0  (x binary unless relaxed)
          || (2 sqrt(b) x, t - y) || <= t + y          t y >= b x^2   (uplink time)
          ex >= t - a x  (and ex >= a x - t when two-sided)
          || (2 ex, r - x) || <= r + x                 r x >= ex^2    (sync penalty, perspective)
          || (2 v, U - 1) || <= U + 1,  v = A_srv (sqrt(s) x)     U >= v^2  (compute cost)
          U >= A_srv (s x)                             linear cut

``ub`` (a known value of I - C) adds the optimality-based bounds t <= a + sqrt(ub / lambda) and
y >= b x / t_max. With binary x the optimum is P1's optimum over the usable links (docs/solvers.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from uara.errors import MissingDependencyError
from uara.solvers.core.misocp import Pairs


@dataclass(frozen=True)
class ConicModel:
    """The cvxpy problem and the handles its users read back (variables of shape (P,) or (E,))."""

    problem: Any
    x: Any
    y: Any
    t: Any
    v: Any
    band: Any
    linear_cut: Any


def conic_model(pr: Pairs, ub: float | None = None, *, boolean: bool = False) -> ConicModel:
    """The MISOCP of ``pr`` (module docstring) as a ``cvxpy.Problem``; ``boolean``: x in {0, 1}, else
    its continuous relaxation x in [0, 1]."""
    try:
        import cvxpy as cp
        import scipy.sparse as sp
    except ImportError as exc:
        raise MissingDependencyError(exc.name or "cvxpy", "relax", feature="the cvxpy model") from None
    n, m, e = pr.size, pr.num_devices, pr.num_servers
    cols = np.arange(n)
    a_dev = sp.csr_matrix((np.ones(n), (pr.device, cols)), shape=(m, n))
    a_srv = sp.csr_matrix((np.ones(n), (pr.server, cols)), shape=(e, n))
    x = cp.Variable(n, boolean=True, name="x") if boolean else cp.Variable(n, nonneg=True, name="x")
    y = cp.Variable(n, nonneg=True, name="y")
    t = cp.Variable(n, nonneg=True, name="t")
    ex = cp.Variable(n, nonneg=True, name="e")
    r = cp.Variable(n, nonneg=True, name="r")
    U = cp.Variable(e, nonneg=True, name="U")
    v = a_srv @ cp.multiply(np.sqrt(pr.work), x)
    band = a_srv @ y <= 1
    linear_cut = U >= a_srv @ cp.multiply(pr.work, x)
    cons = [
        a_dev @ x == 1,
        band,
        y <= x,
        cp.SOC(t + y, cp.vstack([cp.multiply(2.0 * np.sqrt(pr.b), x), t - y]), axis=0),
        ex >= t - cp.multiply(pr.a, x),
        *([ex >= cp.multiply(pr.a, x) - t] if pr.two_sided else []),
        cp.SOC(r + x, cp.vstack([2.0 * ex, r - x]), axis=0),
        cp.SOC(U + 1.0, cp.vstack([2.0 * v, U - 1.0]), axis=0),
        linear_cut,
    ]
    if ub is not None and np.isfinite(ub) and ub > 0:
        tmax = pr.a + np.sqrt(ub * (1 + 1e-9) / pr.lam)
        cons += [t <= tmax, y >= cp.multiply(pr.b / tmax, x)]
    obj = pr.q @ x + pr.c @ y + pr.lam * cp.sum(r) + cp.sum(U) + (pr.p @ t if pr.two_sided else 0.0)
    return ConicModel(cp.Problem(cp.Minimize(obj), cons), x, y, t, v, band, linear_cut)
