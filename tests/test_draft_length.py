"""The closed-form draft length (uara.psd.draft_length): the integer optimum of the throughput formula by brute
force, the formula against the PSD simulator where its assumptions hold (sequential SD, i.i.d. acceptance,
no overlap), and the tkslt-length baseline's lengths."""

from __future__ import annotations

import numpy as np
import pytest

from uara.errors import UaraError
from uara.model.instance import Instance
from uara.psd.draft_length import (RoundCosts, continuous_optimum, expected_tokens, optimal_draft_length, speedup,
                                   throughput)
from uara.psd.simulation.acceptance import Acceptance
from uara.psd.simulation.protocols import Protocol
from uara.psd.simulation.simulator import Decoding, Timing, simulate
from uara.solvers import get_solver


def test_the_closed_form_is_the_integer_optimum_by_brute_force() -> None:
    rng = np.random.default_rng(0)
    alpha = rng.uniform(0.02, 0.995, 3000)
    costs = RoundCosts(rng.uniform(1e-3, 1.0, 3000), rng.uniform(1e-5, 0.2, 3000))  # c = A / B up to 1e5
    g = optimal_draft_length(alpha, costs)
    grid = np.arange(65)[:, None]
    th = throughput(alpha[None, :], grid, RoundCosts(costs.fixed_s[None, :], costs.per_token_s[None, :]))
    assert np.all(th[g, np.arange(3000)] >= th.max(axis=0) * (1 - 1e-12))
    # the stationarity condition holds at the real-valued optimum where it is interior
    gs = continuous_optimum(alpha, costs)
    inner = (gs > 0.5) & (gs < 60)
    eps = 1e-5
    up = throughput(alpha, gs + eps, costs)
    down = throughput(alpha, gs - eps, costs)
    assert np.all(np.abs(up - down)[inner] <= 1e-6 * throughput(alpha, gs, costs)[inner])


def test_no_speculation_pays_when_a_round_costs_no_more_than_a_token() -> None:
    costs = RoundCosts(np.array(0.01), np.array(0.01))  # c = 1: Theta(g) decreases in g
    assert optimal_draft_length(0.9, costs) == 0 and continuous_optimum(0.9, costs) == 0
    assert speedup(0.9, 0, costs) == pytest.approx(1.0)
    assert expected_tokens(0.5, 3) == pytest.approx(1.875)
    with pytest.raises(UaraError, match="alpha"):
        expected_tokens(1.0, 3)


@pytest.mark.parametrize("alpha,uplink_bps,k", [(0.8, 2e6, 16), (0.6, 20e6, 1), (0.95, 1e6, 128)])
def test_the_formula_is_the_simulators_sequential_sd(alpha: float, uplink_bps: float, k: int) -> None:
    """Per-token latency of the simulator in ``sd`` mode (i.i.d. traces, no look-ahead) equals 1 / Theta(g)
    within 1 % (the last round's overshoot and sampling), and its best length is the closed form's."""
    proto = Protocol.parse(f"topk:{k}")
    vocab, td, call, pos, lat = 50257, 0.01, 0.02, 0.002, 0.005
    costs = RoundCosts.from_link(draft_s_per_token=td, bits_per_token=float(proto.up_bits(1, vocab) - proto.up_bits(0, vocab)),
                                 header_bits=float(proto.up_bits(0, vocab)), uplink_bps=uplink_bps,
                                 verify_s_per_call=call, verify_s_per_position=pos, downlink_s=0.0, link_latency_s=lat)
    n = 1500
    per_token = {}
    for g in range(1, 13):
        match = Acceptance.iid(alpha).sample(160, n + g + 1, np.random.default_rng(1))
        res = simulate(n, match, Timing(draft_s_per_token=td, verify_s_per_position=pos, verify_s_per_call=call,
                                        uplink_bps=uplink_bps, downlink_bps=np.inf, link_latency_s=lat),
                       Decoding(mode="sd", draft_length=g, protocol=proto, vocab=vocab, pre_verify=False))
        per_token[g] = res.latency_s.mean() / n
        assert per_token[g] == pytest.approx(1.0 / throughput(alpha, g, costs), rel=0.01)
    best = min(per_token, key=per_token.get)
    closed = int(optimal_draft_length(alpha, costs))
    assert closed == best or per_token[closed] <= per_token[best] * 1.002


def test_the_tkslt_baseline_sets_a_length_per_device_and_keeps_its_association() -> None:
    inst = Instance.load("instances/m30_e8.json").slot_subset(range(1))
    base = get_solver("max-sinr").solve(inst)
    sol = get_solver("tkslt-length").solve(inst)
    np.testing.assert_array_equal(sol.slots[0].association, base.slots[0].association)
    g = sol.slots[0].draft_length
    assert g is not None and g.min() >= 1 and g.max() <= 8
    assert len(set(g.tolist())) > 1  # devices with different acceptance get different lengths
