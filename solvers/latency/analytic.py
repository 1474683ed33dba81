"""``tkslt-length``: a P1 association with each device's draft length from the closed form of
:mod:`uara.psd.draft_length` (TK-SLT's question: the throughput-optimal length of sequential SD).

Per slot: the association and shares of ``association`` (a P1 back-end, default Max-SINR with its own
shares); then for device i on server j, with its acceptance rate alpha_i, draft time t_d,i, uplink rate
y_i r_ij, its protocol's bits per draft token and header, the verdict's downlink time and the link's
one-way latency, and the server's verification cost

    batched:  t_call = o_j + W / B_mem,j (one request's pass), t_pos = f_t,i / F_j when the pass is
              compute-bound at the largest candidate length, else 0 (a memory-bound pass costs the same
              for any number of positions)
    reserved: t_call = the options' per-call time, t_pos = f_t,i / (z_i F_j)

g_i = the closed-form integer optimum, clipped to ``min_length``..``max_length``. It is the per-device
draft-length baseline of latency-aware UARA (docs/latency_aware.md): what a device would pick from
its own link and server alone, ignoring the overlap of PSD and the other tenants.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from uara.errors import SolverError
from uara.model.formulation import SlotData
from uara.model.solution import SlotDecision
from uara.psd.draft_length import RoundCosts, continuous_optimum, optimal_draft_length
from uara.psd.server_configs import SlotTasks, slot_tasks
from uara.solvers.base import SolveContext, Solver


@dataclass
class AnalyticLengthOptions:
    """association: the P1 back-end whose association and shares are kept; min_length / max_length: the clip."""

    association: str = "max-sinr"
    min_length: int = 1
    max_length: int = 8


class AnalyticLengthSolver(Solver):
    name = "tkslt-length"
    description = ("baseline: Max-SINR association, each device's draft length from the closed-form optimum of "
                   "sequential SD (TK-SLT's analysis, docs/latency_aware.md)")
    Options: ClassVar[type] = AnalyticLengthOptions

    def check_options(self) -> None:
        o = self.options
        if not 1 <= o.min_length <= o.max_length <= 64:
            raise SolverError(f"options min_length/max_length: need 1 <= {o.min_length} <= {o.max_length} <= 64")
        from uara.solvers import get_solver_class, problem_of

        get_solver_class(o.association)
        if problem_of(o.association) != "p1" or o.association.startswith(("latency-", self.name)):
            raise SolverError(f"option 'association': {o.association!r} is not a P1 back-end")

    def solve_slot(self, sd: SlotData, ctx: SolveContext) -> SlotDecision:
        from uara.solvers import get_solver

        dec = get_solver(self.options.association).solve_slot(sd, ctx)
        st = slot_tasks(ctx.instance, ctx.slot, max_draft_length=max(self.options.max_length, 4))
        costs = round_costs(st, np.asarray(dec.association), dec.bandwidth_share, dec.compute_share,
                            self.options.max_length)
        g = np.clip(optimal_draft_length(st.alpha, costs, self.options.max_length),
                    self.options.min_length, self.options.max_length)
        dec.draft_length = g.astype(np.intp)
        dec.info.update({"association_from": self.options.association,
                         "continuous_optimum_mean": float(np.mean(continuous_optimum(st.alpha, costs)))})
        return dec


def round_costs(st: SlotTasks, x: np.ndarray, y: np.ndarray, z: np.ndarray, max_length: int) -> RoundCosts:
    """A, B of :mod:`uara.psd.draft_length` for every device of a decision (module docstring)."""
    idx = np.arange(x.size)
    rate = st.rate_bps[idx, x] * np.asarray(y, dtype=float)
    opts = st.options
    if st.server_model == "batched":
        from uara.model.shared.server_model import batch_pass_s

        hw = st.hardware.take(x)
        mem = batch_pass_s(hw.pass_overhead_s, st.cost.weight_bytes, (st.prompt_tokens + st.n_out / 2)
                           * st.cost.kv_bytes_per_token, hw.memory_bandwidth_bytes_per_s, 0.0, hw.flops)
        compute_bound = (max_length + 1) * st.target_flops / hw.flops > mem - hw.pass_overhead_s
        t_pos = np.where(compute_bound, st.target_flops / hw.flops, 0.0)
        t_call = mem
    else:
        t_pos = st.target_flops / (np.asarray(z, dtype=float) * np.asarray(st.instance.server_flops, dtype=float)[x])
        t_call = np.full(x.size, float(opts.verify_s_per_call))
    per_token = st.up_bits[:, 1] - st.up_bits[:, 0]
    return RoundCosts.from_link(draft_s_per_token=st.draft_s_per_token, bits_per_token=per_token,
                                header_bits=st.up_bits[:, 0], uplink_bps=rate, verify_s_per_call=t_call,
                                verify_s_per_position=t_pos, downlink_s=st.down_bits[:, 4] / opts.downlink_bps,
                                link_latency_s=opts.link_latency_s)
