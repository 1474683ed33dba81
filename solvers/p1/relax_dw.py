"""``relax-dw``: relax's pipeline, then the Dantzig-Wolfe bound in what it leaves of the slot (issue 26, item 3).

relax certifies its decision with the conic relaxation of the MISOCP (:mod:`uara.solvers.p1.relax`), which is
loose on small and mid cells: 0.3-1.0 % of I - C on m30_e8 and the m60 instances with 8-20 servers, where the
true gap is far smaller. The set-partitioning (Dantzig-Wolfe) form of P1 has a tighter LP bound, the root bound
of ``price``'s column generation (:mod:`uara.solvers.p1.price`):

    LB_DW = max_u [ sum_i u_i + sum_j min(0, min_{S subset K_j} V_j(S) - u(S)) ]  >=  LB_conic,

and price's root reaches it by box-stabilised column generation, a valid Lagrangian bound at every pricing
round. ``relax-dw`` runs relax's pipeline; if its bound does not prove the decision and time is left, it runs
price's root (``max_nodes=1``: no branching) in the rest of the slot and keeps the higher bound and the better
decision. Without a time limit the root runs until column generation converges.
"""

from __future__ import annotations

import dataclasses
import time
from typing import ClassVar

import numpy as np

from uara.model.evaluator import evaluate
from uara.model.formulation import SlotData
from uara.model.solution import proven_optimal
from uara.solvers.base import SlotDecision, SolveContext
from uara.solvers.p1.relax import RelaxOutcome, RelaxSolver, relax_decision, relax_slot


class RelaxDWSolver(RelaxSolver):
    name = "relax-dw"
    requires: ClassVar[tuple[str, ...]] = ("cvxpy", "highspy", "scipy")  # relax's and price's
    description = ("relax, then the Dantzig-Wolfe bound (price's root column generation, no branching) in what the "
                   "pipeline leaves of the slot: the higher bound and the better decision")
    VERSION = 9  # 9: price's root starts from relax's outcome instead of running relax's pipeline again; 8: price VERSION 9 (an integral LP point of the root is the incumbent at once; early branching is off at its one node); 7: price VERSION 8's column generation (tolerant pricing, convergence within a tenth of the gap); 6: relax's

    def solve_slot(self, sd: SlotData, ctx: SolveContext) -> SlotDecision:
        out = relax_slot(sd, ctx, self.options)
        if not ctx.out_of_time() and not proven_optimal(out.objective, out.lower_bound, sd.constant):
            out = dantzig_wolfe_tightening(sd, ctx, out)
        return relax_decision(sd, out)


def dantzig_wolfe_tightening(sd: SlotData, ctx: SolveContext, out: RelaxOutcome) -> RelaxOutcome:
    """``out`` with the bound of the Dantzig-Wolfe (set-partitioning) relaxation where it is higher: the root
    column generation of ``price`` in the time left, started from ``out`` itself (its association, dual and
    bound: until VERSION 9 price ran relax's pipeline a second time), and its decision where it is better."""
    from uara.solvers.p1.price import PriceSolver

    t0 = time.perf_counter()
    dec = PriceSolver(max_nodes=1).solve_from(sd, ctx, out)
    info = dict(out.info, dw_bound=dec.lower_bound, dw_s=time.perf_counter() - t0,
                dw_root_converged=dec.info.get("root_converged"))
    lower = max(out.lower_bound, dec.lower_bound if dec.lower_bound is not None else -np.inf)
    value = evaluate(sd, dec.association, dec.bandwidth_share, dec.compute_share).objective
    if value < out.objective:
        return RelaxOutcome(dec.association, dec.bandwidth_share, dec.compute_share, value, lower,
                            ctx.out_of_time(), info, out.dual)
    return dataclasses.replace(out, lower_bound=lower, info=info, stopped=ctx.out_of_time())
