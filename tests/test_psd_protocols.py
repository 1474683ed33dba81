"""Payload models and acceptance models."""

from __future__ import annotations

import numpy as np
import pytest

from uara.errors import UaraError
from uara.psd.simulation.acceptance import Acceptance, next_mismatch, run_lengths, trace_from_str, trace_to_str
from uara.psd.simulation.protocols import Protocol

V = 50257  # GPT-2: 16-bit ids


def test_payload_sizes_per_protocol():
    m = np.array([1, 8])
    assert Protocol.id_bits(V) == 16 and Protocol.id_bits(49152) == 16 and Protocol.id_bits(100) == 7
    np.testing.assert_array_equal(Protocol.parse("ids").up_bits(m, V), [16, 128])
    np.testing.assert_array_equal(Protocol.parse("full").up_bits(m, V), [16 + V * 16, 8 * (16 + V * 16)])
    np.testing.assert_array_equal(Protocol.parse("full@4").up_bits(m, V), [16 + V * 4, 8 * (16 + V * 4)])
    np.testing.assert_array_equal(Protocol.parse("topk:64").up_bits(m, V), [16 + 64 * 32, 8 * (16 + 64 * 32)])
    np.testing.assert_array_equal(Protocol.parse("topk:64@8").up_bits(1, V), 16 + 64 * 24)
    # verdict: accepted count in 0..m (ceil(log2(m + 2)) bits) + one token id
    np.testing.assert_array_equal(Protocol.parse("ids").down_bits(m, V), [2 + 16, 4 + 16])
    # a per-message header (40 bytes of IPv4 + UDP + application) on each message
    np.testing.assert_array_equal(Protocol.parse("ids+h320").up_bits(m, V), [320 + 16, 320 + 128])
    np.testing.assert_array_equal(Protocol.parse("ids+h320").down_bits(m, V), [320 + 18, 320 + 20])


def test_split_follows_the_dssd_accounting():
    """DSSD (Ning et al. 2025): m ids and m draft-probability scalars up; the count and the token down,
    plus one target distribution only when a token was rejected."""
    m = np.array([1, 8, 15])
    split = Protocol.parse("split")
    np.testing.assert_array_equal(split.up_bits(m, V), m * (16 + 16))
    np.testing.assert_array_equal(split.down_bits(m, V, rejected=np.array([False, False, False])), [18, 20, 21])
    np.testing.assert_array_equal(split.down_bits(m, V, rejected=np.array([True, False, True])),
                                  [18 + V * 16, 20, 21 + V * 16])
    np.testing.assert_array_equal(Protocol.parse("split:10").down_bits(1, V, rejected=True), 18 + 10 * 32)
    # at m = 15 a rejection round costs one distribution, not m + 1 of them (the old accounting): 16x less
    old = 21 + 16 * V * 16
    assert old / float(split.down_bits(15, V, rejected=True)) > 15.9


def test_pearl_sends_gamma_plus_one_distributions_both_ways():
    """PEARL's reference code all-gathers the (gamma + 1) positions' full bf16 distributions each round."""
    m = np.array([1, 4, 8])
    pearl = Protocol.parse("pearl")
    np.testing.assert_array_equal(pearl.down_bits(m, V), (m + 1) * V * 16)
    np.testing.assert_array_equal(pearl.up_bits(m, V), (m + 1) * V * 16 + m * 16)
    np.testing.assert_array_equal(Protocol.parse("pearl+h320").down_bits(4, V), 320 + 5 * V * 16)
    # the default of the shipped profiles sits near 200 kbit per draft token
    assert 190e3 < Protocol.parse("full@4").token_bits(V) < 210e3


def test_protocol_spec_roundtrip_and_errors():
    for s in ("ids", "full", "full@4", "topk:64", "topk:64@8", "split", "split:32", "pearl", "ids+h320", "topk:64@8+h96"):
        assert Protocol.parse(Protocol.parse(s).spec) == Protocol.parse(s)
    for bad, msg in (("zip", "unknown name"), ("topk", "needs K"), ("topk:x", "bad K"), ("full:3", "takes no K"),
                     ("full@0", "prob_bits"), ("topk:0", "protocol.k"), ("pearl:4", "takes no K"),
                     ("ids+hx", "bad header bits")):
        with pytest.raises(UaraError, match=msg):
            Protocol.parse(bad)


def test_next_mismatch_and_run_lengths():
    t = trace_from_str("1101110")
    np.testing.assert_array_equal(next_mismatch(t[None, :])[0], [2, 2, 2, 6, 6, 6, 6])
    np.testing.assert_array_equal(next_mismatch(np.ones((1, 3), bool))[0], [3, 3, 3])
    np.testing.assert_array_equal(run_lengths(t), [2, 3])
    np.testing.assert_array_equal(run_lengths(trace_from_str("0110111")), [0, 2])
    np.testing.assert_array_equal(run_lengths(trace_from_str("0110111"), keep_censored=True), [0, 2, 3])
    assert trace_to_str(t) == "1101110"
    with pytest.raises(UaraError, match="acceptance.traces"):
        trace_from_str("10x")


def test_run_model_reproduces_its_histogram():
    rng = np.random.default_rng(0)
    acc = Acceptance.runs([0, 3, 10], [1, 1, 2])
    m = acc.sample(400, 300, rng)
    runs = np.concatenate([run_lengths(row) for row in m])
    vals, counts = np.unique(runs, return_counts=True)
    assert vals.tolist() == [0, 3, 10]
    np.testing.assert_allclose(counts / counts.sum(), [0.25, 0.25, 0.5], atol=0.02)
    assert m.mean() == pytest.approx(acc.alpha, abs=0.01)
    assert acc.alpha == pytest.approx((0 * 0.25 + 3 * 0.25 + 10 * 0.5) / (1 + 5.75))


def test_iid_and_trace_models():
    rng = np.random.default_rng(1)
    assert Acceptance.iid(0.6).sample(500, 400, rng).mean() == pytest.approx(0.6, abs=0.01)
    acc = Acceptance.traces(["1110", "01"])
    assert acc.alpha == pytest.approx(4 / 6)
    m = acc.sample(3, 9, rng, index=np.array([0, 1, 0]))
    assert trace_to_str(m[0][:4]) == "1110" and trace_to_str(m[1][:2]) == "01"
    with pytest.raises(UaraError, match="alpha"):
        Acceptance.iid(1.5)
    with pytest.raises(UaraError, match="traces"):
        Acceptance.traces([])


def test_accepted_length_histogram_model():
    rng = np.random.default_rng(2)
    alpha, g = 0.7, 4
    k = np.arange(g + 1)
    pmf = np.where(k < g, alpha ** k * (1 - alpha), alpha ** g)
    acc = Acceptance.from_accepted_lengths(pmf * 1e4, g)
    assert acc.alpha == pytest.approx(alpha, abs=1e-9)
    assert acc.sample(400, 500, rng).mean() == pytest.approx(alpha, abs=0.01)
    with pytest.raises(UaraError, match="accepted_lengths"):
        Acceptance.from_accepted_lengths([1, 2], 4)


def test_importing_uara_psd_pulls_in_no_heavy_package():
    import subprocess
    import sys

    code = ("import sys, uara.psd, uara.psd.latency, uara.psd.measure.profiling, uara.psd.measure.figure2, uara.psd.measure.draft_build, "
            "uara.psd.workload.tasks, uara.cli.psd; "
            "print([m for m in ('torch', 'transformers', 'matplotlib') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_simulator_charges_splits_distribution_only_on_rejections():
    from uara.psd.simulation.simulator import Decoding, Timing, simulate

    vocab, g, n = 1000, 4, 40
    accept = np.ones((1, n + 20), dtype=bool)
    reject = accept.copy()
    reject[0, ::7] = False  # a mismatch every seventh position: some rounds reject, some accept
    timing = Timing(0.01, 0.001, uplink_bps=1e6, downlink_bps=1e6, link_latency_s=0.001)
    dec = Decoding("sd", g, protocol="split", vocab=vocab)
    all_ok = simulate(n, accept, timing, dec)
    some = simulate(n, reject, timing, dec)
    # every round accepted: only count + bonus id come down; with rejections a distribution per rejected round
    rounds = int(all_ok.rounds[0])
    assert all_ok.downlink_bits[0] == rounds * (np.ceil(np.log2(g + 2)) + 10)
    assert some.downlink_bits[0] > some.rounds[0] * (np.ceil(np.log2(g + 2)) + 10) + vocab * 16 - 1
    assert some.downlink_bits[0] < some.rounds[0] * (np.ceil(np.log2(g + 2)) + 10 + vocab * 16)
