"""Column generation's rules at a branch-and-price node: when it ends, how far a pricing search may stop
short, and the box step that stabilises the duals (``price``; ``relax-dw`` runs price's root).

Notation of :mod:`uara.solvers.p1.price`: at a node, LP is the restricted master's value (an upper bound
on the node's Dantzig-Wolfe bound LB_DW), LB the best Lagrangian bound LB(u) priced so far (a lower
bound on every partition of the node, LB <= LB_DW <= LP), ``cutoff`` = incumbent - gap (I - C): the
node is pruned once LB >= cutoff. None of the rules changes what a bound certifies, only when the node
stops pricing and what it does next.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

#: Column generation ends when LB is within LP_CONVERGED of the pruning gap below LP: LB <= LP, so when LP
#: lies above the cutoff more rounds could close the node only by a tenth of the gap (docs/solvers.md, VERSION 8).
LP_CONVERGED = 0.1
#: Early branching (VERSION 9): when LP lies below the cutoff the node can never be pruned by its bound
#: (LB <= LB_DW <= LP < cutoff), so it ends once LP - LB <= EARLY_BRANCH (cutoff - LP), i.e. once the LP
#: point is known to within the distance to the cutoff, and its (fractional) LP point is branched on.
EARLY_BRANCH = 1.0
#: The box step's half-width is multiplied by BOX_SHRINK after a step that does not raise the bound, by
#: BOX_SERIOUS after one that does (the centre moves) and by BOX_GROW when no column prices out at the box's
#: duals (the box held them back), up to BOX_MAX times its initial half-width.
BOX_SHRINK, BOX_SERIOUS, BOX_GROW, BOX_MAX = 0.7, 2.0, 3.0, 1e3


def node_end(bound: float, lp_value: float, cutoff: float, gap_abs: float,
             fractional: Callable[[], bool] | None) -> tuple[bool, bool] | None:
    """(converged, exact) when column generation at a node ends before pricing again, else None.

    - LB >= LP (to 1e-12 relative): the Dantzig-Wolfe bound is reached, (True, True);
    - LB >= LP - LP_CONVERGED gap_abs: only branching or incumbents can close the node, (True, False);
    - early branching, LP < cutoff and LB >= LP - EARLY_BRANCH (cutoff - LP) and ``fractional()`` (the
      LP point has a fractional pair; ``fractional`` None = the node may not branch; off without a finite
      cutoff): (True, False).

    ``exact`` False: the LP may not be solved, so an integral LP point proves only the node's bound."""
    if bound >= lp_value - 1e-12 * max(1.0, abs(lp_value)):
        return True, True
    if bound >= lp_value - LP_CONVERGED * gap_abs:
        return True, False
    margin = cutoff - lp_value
    if fractional is not None and 0 < margin < np.inf and bound >= lp_value - EARLY_BRANCH * margin and fractional():
        return True, False
    return None


def pricing_tolerance(share: float, bound: float, lp_value: float, gap_abs: float, num_servers: int,
                      tight: bool = False) -> float:
    """Per-server tolerance of the pricing searches: ``share`` of the larger of the node's column-generation
    gap (LP - LB) and the pruning gap ``gap_abs`` (only the latter when ``tight``), shared over the E servers.
    A search closes a node whose bound is within it of the threshold, so LB(u) loses at most E times it:
    early rounds (large gap) prove little and end fast; column generation ends only after a round at the tight
    tolerance found nothing, which leaves room for the node to close at the gap (the loss is at most ``share``
    of it)."""
    slack = lp_value - bound if np.isfinite(bound) and np.isfinite(lp_value) and not tight else gap_abs
    return share * max(slack, gap_abs) / num_servers


@dataclass
class BoxStep:
    """Half-widths w (M,) of the box around the stability centre's prices: w0 = ``box`` times the centre's
    mean |u|, then BOX_SERIOUS / BOX_SHRINK / BOX_GROW after a serious, a null and an empty step (the
    module's constants), never above BOX_MAX w0."""

    width0: np.ndarray
    width: np.ndarray

    @classmethod
    def around(cls, center: np.ndarray, box: float) -> "BoxStep":
        w0 = np.full(center.shape[0], box * max(float(np.abs(center).mean()), 1e-12))
        return cls(w0, w0.copy())

    def scale(self, factor: float) -> None:
        self.width = np.minimum(self.width * factor, BOX_MAX * self.width0)


@dataclass
class CGResult:
    """Column generation at one node: best Lagrangian bound, the last LP point."""

    bound: float
    lp_value: float
    converged: bool
    iterations: int
    lam: np.ndarray
    artificial: np.ndarray
    u: np.ndarray
    pricing_nodes: int
    pricing_s: float
    lp_s: float
    exact: bool = True  # every pricing search that ended it finished (else an integral LP point proves nothing)
