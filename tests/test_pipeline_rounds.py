"""A batch's verification rounds (uara.model.pipeline.batch_rounds): the law of each user's rounds against
brute-force enumeration, the expected maximum against independent sampling, the contiguous-batch fast path
against the direct sum, the normal approximation's error, and the interpolation of T between whole rounds."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest

from uara.model.pipeline.batch_rounds import RoundsLaw, round_tokens_pmf
from uara.psd.simulation.serving_events import sample_rounds


def _brute_cdf(o: int, alpha: float, gamma: int, r_max: int) -> np.ndarray:
    """P(R <= r) by recursion over the tokens still needed (no convolution, no cap)."""
    pmf = round_tokens_pmf(alpha, gamma)

    @lru_cache(maxsize=None)
    def done_within(need: int, rounds: int) -> float:
        if need <= 0:
            return 1.0
        if rounds == 0:
            return 0.0
        return sum(pmf[x] * done_within(need - x, rounds - 1) for x in range(1, gamma + 2))

    return np.array([done_within(o, r) for r in range(r_max + 1)])


@pytest.mark.parametrize("alpha,gamma", [(0.3, 1), (0.7, 3), (0.9, 5), (0.0, 4), (1.0, 4)])
def test_the_law_of_a_users_rounds_matches_enumeration(alpha, gamma):
    o = np.array([1, 7, 20])
    law = RoundsLaw.of(o, np.full(3, alpha), gamma, method="exact")
    for k, ok in enumerate(o):
        want = _brute_cdf(int(ok), alpha, gamma, law.cdf.shape[1] - 1)
        np.testing.assert_allclose(law.cdf[k], np.where(want >= 1 - 1e-12, 1.0, np.where(want <= 1e-12, 0.0, want)),
                                   atol=1e-12)
    assert round_tokens_pmf(alpha, gamma).sum() == pytest.approx(1.0)
    assert round_tokens_pmf(alpha, gamma) @ np.arange(gamma + 2) == pytest.approx(
        gamma + 1.0 if alpha == 1 else (1 - alpha ** (gamma + 1)) / (1 - alpha))


def test_certain_rounds_at_acceptance_zero_one_and_at_gamma_zero():
    o = np.array([5, 12, 30])
    assert np.array_equal(RoundsLaw.of(o, np.array([0.0, 0.0, 0.0]), 4).expected(), o)
    assert np.array_equal(RoundsLaw.of(o, np.array([1.0, 1.0, 1.0]), 4).expected(), np.ceil(o / 5))
    assert np.array_equal(RoundsLaw.of(o, np.array([0.5, 0.9, 0.2]), 0).expected(), o)
    assert RoundsLaw.of(o, np.array([0.5, 0.9, 0.2]), 0).expected_max(np.arange(3)) == 30


def test_expected_maximum_matches_sampled_rounds():
    rng = np.random.default_rng(3)
    o = rng.integers(20, 200, 6)
    alpha = rng.choice([0.55, 0.8, 0.95], 6)
    for gamma in (1, 4, 7):
        law = RoundsLaw.of(o, alpha, gamma)
        draws = np.stack([sample_rounds(o, alpha, gamma, rng) for _ in range(4000)])
        worst = draws.max(axis=1)
        assert law.expected_max(np.arange(6)) == pytest.approx(worst.mean(), abs=4 * worst.std() / np.sqrt(4000))
        np.testing.assert_allclose(law.expected(), draws.mean(axis=0), atol=4 * draws.std(axis=0).max() / np.sqrt(4000))
        assert law.expected_max(np.arange(6)) >= law.expected().max() - 1e-9


def test_contiguous_batches_equal_the_direct_sum_in_any_order():
    rng = np.random.default_rng(0)
    o = rng.integers(1, 300, 40)
    alpha = rng.uniform(0.2, 1.0, 40).round(2)
    for gamma in (0, 2, 6):
        law = RoundsLaw.of(o, alpha, gamma)
        for order in (np.argsort(o / (1 + alpha)), rng.permutation(40)):
            for j in (1, 2, 17, 40):
                fast = law.expected_max_suffixes(order, j)
                slow = [law.expected_max(order[i:j]) for i in range(j)]
                np.testing.assert_allclose(fast, slow, rtol=1e-12, atol=1e-9)


def test_the_normal_approximation_is_close_to_the_exact_law():
    rng = np.random.default_rng(1)
    o = rng.integers(30, 513, 30).astype(float)
    alpha = rng.uniform(0.5, 0.95, 30)
    for gamma in (2, 4, 8):
        exact, normal = RoundsLaw.of(o, alpha, gamma, "exact"), RoundsLaw.of(o, alpha, gamma, "normal")
        np.testing.assert_allclose(normal.expected(), exact.expected(), rtol=0.005)
        for members in (np.arange(30), np.arange(5), np.argsort(o)[-8:]):
            assert normal.expected_max(members) == pytest.approx(exact.expected_max(members), rel=0.01)
    with pytest.raises(ValueError, match="method"):
        RoundsLaw.of(o, alpha, 2, "poisson")


def test_two_micro_batches_interpolate_between_whole_rounds():
    from uara.model.pipeline.serving_latency import batch_duration_s, micro_sums, user_terms
    from uara.scenario.pipeline_builder import random_pipeline_instance

    inst = random_pipeline_instance(6, seed=4)
    terms = user_terms(inst)
    members = np.arange(6)
    micro = micro_sums(terms, members, 2)
    args = (np.array([terms.target_prefill_flops.sum()]), np.array([terms.prompt_tokens.sum()]),
            np.array([terms.output_tokens.sum()]))
    t = {n: float(batch_duration_s(inst, 4, np.array([n]), micro, *args)[0]) for n in (10.0, 10.25, 11.0)}
    assert t[10.0] < t[10.25] < t[11.0]
    assert t[10.25] == pytest.approx(0.75 * t[10.0] + 0.25 * t[11.0], rel=1e-12)
    one = micro_sums(terms, members, 1)
    u = [float(batch_duration_s(inst, 4, np.array([n]), one, *args)[0]) for n in (10.0, 10.25, 11.0)]
    assert u[1] == pytest.approx(0.75 * u[0] + 0.25 * u[2], rel=1e-12)
