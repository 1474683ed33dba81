"""Timeline simulator: analytic cases, SD = PSD where no overlap is possible,
tokens per round, an independent scalar re-implementation, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from uara.errors import UaraError
from uara.psd.simulation.acceptance import Acceptance
from uara.psd.simulation.protocols import Protocol
from uara.psd.simulation.simulator import CATEGORIES, Decoding, Timing, psd_latency_alpha1, simulate


def _ref(n, match, g, td, tv, up, dn, lat, *, mode, pre_verify=True, proto=Protocol("topk", 8), vocab=1000, q=0.0):
    """Scalar re-implementation of the block rules (simulator docstring), one task."""
    psd = mode == "psd"

    def size(blk):
        if psd and pre_verify:
            return 1 if blk == 1 else (max(g - 1, 1) if blk == 2 else g)
        return g

    a, blk, ds, uf, vf, nfree, rp, rounds = 0, 1, 0.0, 0.0, 0.0, 0.0, 0.0, 0
    m = size(1)
    while True:
        de = ds + m * td
        ue = max(de, uf) + float(proto.up_bits(m, vocab)) / up
        ve = max(ue + lat, vf, q) + (m + 1) * tv
        dne = max(ve, nfree) + float(proto.down_bits(m, vocab)) / dn
        r = dne + lat
        rounds += 1
        f = a
        while match[f]:
            f += 1
        b = a + m
        if psd:
            ds1 = max(de, rp)
            ahead = ds1 < r
        else:
            ds1, ahead = r, False
        rej = f < b
        reset = rej or (ahead and f == b)
        p = f + 1 if rej else b + 1
        if p >= n:
            return r, rounds
        if reset:
            a, blk, m, ds, uf = p, 1, size(1), r, r
        else:
            a, blk, m, ds, uf = (b if ahead else b + 1), blk + 1, size(blk + 1), ds1, ue
        vf, nfree, rp = ve, dne, r


@pytest.mark.parametrize("mode", ["sd", "psd"])
@pytest.mark.parametrize("g", [1, 3, 7])
def test_matches_scalar_reference(mode, g):
    rng = np.random.default_rng(g)
    n = rng.integers(5, 60, size=40)
    match = Acceptance.iid(0.7).sample(40, 80, rng)
    td, tv = rng.uniform(0.002, 0.006, 40), rng.uniform(0.0, 0.004, 40)
    up, dn, lat = rng.uniform(1e5, 5e6, 40), rng.uniform(1e5, 5e6, 40), rng.uniform(0, 0.02, 40)
    dec = Decoding(mode, g, protocol="topk:8", vocab=1000)
    res = simulate(n, match, Timing(td, tv, uplink_bps=up, downlink_bps=dn, link_latency_s=lat), dec)
    for i in range(40):
        lat_i, rounds_i = _ref(int(n[i]), match[i], g, td[i], tv[i], up[i], dn[i], lat[i], mode=mode)
        assert res.latency_s[i] == pytest.approx(lat_i, rel=1e-12)
        assert res.rounds[i] == rounds_i


@pytest.mark.parametrize("g", [1, 2, 5, 8, 16])
@pytest.mark.parametrize("pre_verify", [True, False])
def test_alpha1_infinite_rate_equals_analytic_bound(g, pre_verify):
    n = np.array([1, 2, 17, 50, 200])
    match = np.ones((5, 240), dtype=bool)
    td, tv = 0.004, 0.0002  # verification keeps pace with drafting
    res = simulate(n, match, Timing(td, tv), Decoding("psd", g, pre_verify=pre_verify))
    want = [psd_latency_alpha1(int(k), g, td, tv, pre_verify=pre_verify) for k in n]
    np.testing.assert_allclose(res.latency_s, want, rtol=1e-12)
    # the phone never waits: busy drafting until the last block is drafted
    assert np.all(res.device_idle_s <= (g + 1) * tv + 1e-12)


def test_analytic_bound_is_a_lower_bound_when_alpha_below_one():
    rng = np.random.default_rng(0)
    match = Acceptance.iid(0.8).sample(200, 260, rng)
    res = simulate(200, match, Timing(0.004, 0.0002), Decoding("psd", 6))
    assert np.all(res.latency_s > psd_latency_alpha1(200, 6, 0.004, 0.0002) - 1e-12)


@pytest.mark.parametrize("g", [1, 4, 9])
def test_psd_equals_sd_when_no_overlap_is_possible(g):
    # the server and the network answer instantly: the phone never waits, so there
    # is nothing to overlap and PSD (without the pre-verify split) is SD
    rng = np.random.default_rng(g)
    match = Acceptance.iid(0.6).sample(500, 230, rng)
    n = rng.integers(1, 200, size=500)
    timing = Timing(rng.uniform(0.001, 0.01, 500), 0.0)
    sd = simulate(n, match, timing, Decoding("sd", g))
    psd = simulate(n, match, timing, Decoding("psd", g, pre_verify=False))
    np.testing.assert_array_equal(sd.latency_s, psd.latency_s)
    np.testing.assert_array_equal(sd.rounds, psd.rounds)
    np.testing.assert_array_equal(sd.tokens, psd.tokens)
    # and with real delays the overlap pays off
    slow = Timing(timing.draft_s_per_token, 0.001, uplink_bps=1e6, link_latency_s=0.01)
    assert simulate(n, match, slow, Decoding("psd", g)).latency_s.mean() < simulate(n, match, slow, Decoding("sd", g)).latency_s.mean()


@pytest.mark.parametrize("alpha", [0.3, 0.7, 0.9])
@pytest.mark.parametrize("g", [1, 4, 12])
def test_sd_tokens_per_round_matches_formula(alpha, g):
    rng = np.random.default_rng(int(alpha * 100) + g)
    acc = Acceptance.iid(alpha)
    match = acc.sample(3000, 200 + g + 1, rng)
    res = simulate(200, match, Timing(0.004, 0.0001, uplink_bps=1e7, link_latency_s=0.005), Decoding("sd", g))
    est = res.tokens.sum() / res.rounds.sum()
    k = np.arange(g + 1)
    pmf = np.where(k < g, alpha ** k * (1 - alpha), alpha ** g)
    mean = float((pmf * (k + 1)).sum())
    sd = float(np.sqrt((pmf * (k + 1 - mean) ** 2).sum()))
    assert mean == pytest.approx(float(acc.expected_tokens_per_round(g)), rel=1e-12)
    assert abs(est - mean) < 4 * sd / np.sqrt(res.rounds.sum()) + 0.02


def test_breakdown_is_consistent():
    rng = np.random.default_rng(1)
    match = Acceptance.iid(0.75).sample(300, 200, rng)
    n = rng.integers(20, 150, size=300)
    t = Timing(0.004, 0.0003, verify_s_per_call=0.002, uplink_bps=2e7, downlink_bps=5e7, link_latency_s=0.01,
               queue_s=rng.uniform(0, 0.2, 300))
    for dec in (Decoding("sd", 6, protocol="full@4"), Decoding("psd", 6, protocol="full@4", stream_uplink=True),
                Decoding("psd", 6, adaptive=True, max_draft_length=20)):
        r = simulate(n, match, t, dec)
        np.testing.assert_allclose(r.critical_s.sum(axis=1), r.latency_s, rtol=1e-12)
        assert np.all(r.critical_s >= -1e-15)
        assert np.all(r.device_busy_s <= r.latency_s + 1e-12)
        assert np.all(r.server_busy_s <= r.latency_s + 1e-12)
        assert np.all(r.tokens >= n) and np.all(r.tokens <= n + dec.max_block)
        assert np.all(r.accepted_tokens <= r.drafted_tokens)
        assert np.all(r.latency_s >= t.queue_s)
        assert set(r.summary()) >= {"latency_mean_s", "latency_p95_s", "tokens_per_round"}
    assert len(CATEGORIES) == 5


def test_streaming_never_slower_for_sd():
    rng = np.random.default_rng(2)
    match = Acceptance.iid(0.8).sample(200, 220, rng)
    t = Timing(0.004, 0.0002, uplink_bps=rng.uniform(1e6, 1e8, 200), link_latency_s=0.01)
    block = simulate(180, match, t, Decoding("sd", 10, protocol="full@4"))
    stream = simulate(180, match, t, Decoding("sd", 10, protocol="full@4", stream_uplink=True))
    assert np.all(stream.latency_s <= block.latency_s + 1e-12)
    assert stream.latency_s.mean() < block.latency_s.mean()


def test_adaptive_grows_the_draft_when_everything_is_accepted():
    match = np.ones((1, 400), dtype=bool)
    fixed = simulate(300, match, Timing(0.004, 0.0001, link_latency_s=0.01), Decoding("sd", 2))
    adapt = simulate(300, match, Timing(0.004, 0.0001, link_latency_s=0.01),
                     Decoding("sd", 2, adaptive=True, max_draft_length=40))
    assert adapt.rounds[0] < fixed.rounds[0] / 3
    assert adapt.latency_s[0] < fixed.latency_s[0]


def test_zero_share_is_infinite_and_flagged():
    match = np.ones((3, 60), dtype=bool)
    r = simulate(20, match, Timing(0.004, [0.001, np.inf, 0.001], uplink_bps=[1e6, 1e6, 0.0]), Decoding("psd", 4))
    assert np.isfinite(r.latency_s[0]) and np.isinf(r.latency_s[1:]).all()
    assert r.finite.tolist() == [True, False, False]
    assert r.summary()["infinite"] == 2.0


def test_bad_input_errors():
    match = np.ones((2, 30), dtype=bool)
    with pytest.raises(UaraError, match="match"):
        simulate(25, match, Timing(0.004, 0.001), Decoding("psd", 8))
    with pytest.raises(UaraError, match="timing.draft_s_per_token"):
        simulate(5, match, Timing(-1.0, 0.001), Decoding("psd", 2))
    with pytest.raises(UaraError, match="timing.uplink_bps"):
        simulate(5, match, Timing(0.004, 0.001, uplink_bps=[1.0, 2.0, 3.0]), Decoding("psd", 2))
    with pytest.raises(UaraError, match="n_tokens"):
        simulate(0, match, Timing(0.004, 0.001), Decoding("psd", 2))
    with pytest.raises(UaraError, match="decoding.mode"):
        Decoding("pearl", 2)
    with pytest.raises(UaraError, match="decoding.draft_length"):
        Decoding("sd", 0)


def test_atomic_passes_restart_after_the_pass_in_progress():
    """A rejection that reaches the phone mid-pass (PSD, drafting ahead) restarts the lineage when that
    pass ends (real runs, results/psd/validation): never earlier than the interruptible model, by less
    than one draft pass per reset, and identical in SD (the phone waits, idle, for every verdict)."""
    import numpy as np

    from uara.psd.simulation.simulator import Decoding, Timing, simulate

    rng = np.random.default_rng(3)
    match = rng.random((20, 200)) < 0.5
    n = np.full(20, 80)
    timing = Timing(draft_s_per_token=0.02, verify_s_per_position=0.004, verify_s_per_call=0.01,
                    uplink_bps=1e6, downlink_bps=1e6, link_latency_s=0.003)
    for mode in ("sd", "psd"):
        soft = simulate(n, match, timing, Decoding(mode=mode, draft_length=4, protocol="ids"))
        hard = simulate(n, match, timing, Decoding(mode=mode, draft_length=4, protocol="ids", atomic_passes=True))
        if mode == "sd":
            np.testing.assert_allclose(hard.latency_s, soft.latency_s)
        else:
            assert np.all(hard.latency_s >= soft.latency_s - 1e-12) and np.any(hard.latency_s > soft.latency_s)
            assert np.all(hard.latency_s - soft.latency_s <= hard.rounds * 0.02 + 1e-9)
