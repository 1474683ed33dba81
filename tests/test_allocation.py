import numpy as np
import pytest
from scipy.optimize import minimize

from uara.model.allocation import bandwidth_shares, compute_shares, exact_allocation, uniform_allocation, uplink_time
from uara.model.evaluator import evaluate
from uara.model.formulation import slot_data
from uara.scenario.random_instance import random_instance


def _nlp_bandwidth(a, b, c, lam, rng, starts=6):
    """General NLP solve (SLSQP, several starts), projected back onto the budget."""
    n = a.size
    f = lambda v: float(np.sum(lam * (a - b / v) ** 2 + c * v))  # noqa: E731
    best = np.inf
    for _ in range(starts):
        x0 = rng.dirichlet(np.ones(n)) * 0.9
        r = minimize(f, x0, method="SLSQP", bounds=[(1e-9, 1.0)] * n,
                     constraints=[{"type": "ineq", "fun": lambda v: 1 - v.sum()}],
                     options={"ftol": 1e-15, "maxiter": 2000})
        x = np.clip(r.x, 1e-9, 1.0)
        x = x / max(1.0, x.sum())  # project: SLSQP may overshoot the budget by ~1e-9
        best = min(best, f(x))
    return best, f


@pytest.mark.parametrize("seed", range(40))
def test_bandwidth_matches_general_nlp(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 8))
    lam = 10 ** rng.uniform(-3, 0)
    a = rng.uniform(0.1, 2, n)
    b = 10 ** rng.uniform(-3, 0.5, n)
    c = 10 ** rng.uniform(-2, 2, n) * rng.integers(0, 2)
    y, mu, _ = bandwidth_shares(a, b, c, lam, np.zeros(n, dtype=int), 1)
    assert y.sum() <= 1 + 1e-12 and np.all(y > 0)
    best, f = _nlp_bandwidth(a, b, c, lam, rng)
    assert f(y) <= best * (1 + 1e-9) + 1e-12
    # KKT: stationarity 2 lam (t - a) t^2 / b = c + mu with complementary slackness
    t = b / y
    lhs = 2 * lam * (t - a) * t**2 / b
    assert np.allclose(lhs, c + mu[0], rtol=1e-7, atol=1e-9)
    assert mu[0] == 0 or abs(y.sum() - 1) < 1e-9


def test_cubic_root_is_exact():
    rng = np.random.default_rng(0)
    a = rng.uniform(0, 3, 5000)
    b = 10 ** rng.uniform(-4, 1, 5000)
    c = 10 ** rng.uniform(-3, 3, 5000)
    t = uplink_time(a, b, c, 0.01, 0.0)
    k = c * b / 0.02
    assert np.all(t >= a)
    assert np.max(np.abs(t * t * (t - a) - k) / np.maximum(k, t**3)) < 1e-13


def test_compute_shares_closed_form_is_optimal():
    rng = np.random.default_rng(1)
    s = rng.uniform(0.01, 1.0, 6)
    z = compute_shares(s, np.zeros(6, dtype=int), 1)
    assert z.sum() == pytest.approx(1.0)
    assert np.sum(s / z) == pytest.approx(np.sqrt(s).sum() ** 2)
    for _ in range(200):  # any other split of the budget is no better
        w = rng.dirichlet(np.ones(6))
        assert np.sum(s / w) >= np.sum(s / z) - 1e-12


@pytest.mark.parametrize("seed", range(5))
def test_exact_beats_uniform_and_is_feasible(seed):
    inst = random_instance(40, 6, seed=seed)
    sd = slot_data(inst)
    assoc = np.where(sd.usable, np.random.default_rng(seed).random((40, 6)), -np.inf).argmax(axis=1)
    ex, un = exact_allocation(sd, assoc), uniform_allocation(sd, assoc)
    e1 = evaluate(sd, assoc, ex.bandwidth_share, ex.compute_share)
    e2 = evaluate(sd, assoc, un.bandwidth_share, un.compute_share)
    assert e1.feasible and e2.feasible
    assert e1.objective <= e2.objective + 1e-9


def test_binding_budget_is_met_exactly():
    """Large payloads make the band bind: shares then sum to exactly 1 on each server."""
    inst = random_instance(12, 2, seed=4)
    for tk in inst.slots[0].tasks:
        object.__setattr__(tk, "bits", tk.bits * 30000)  # token-id payloads (~20 kbit) times 3e4
    sd = slot_data(inst)
    assoc = np.arange(12) % 2
    al = exact_allocation(sd, assoc)
    loads = np.bincount(assoc, weights=al.bandwidth_share)
    assert np.all(al.band_price > 0)
    assert np.allclose(loads, 1.0, atol=1e-12)


def test_band_prices_started_at_a_guess_reach_the_same_shares_in_fewer_steps():
    """bandwidth_shares(mu_start=...) (the local search starts each group at its server's price)
    converges to the same root as the iteration from zero, in fewer Newton steps."""
    from uara.model.allocation import bandwidth_shares

    rng = np.random.default_rng(7)
    fewer = 0
    for _ in range(100):
        n, g = int(rng.integers(2, 300)), int(rng.integers(1, 20))
        groups = rng.integers(0, g, n)
        a, b = rng.uniform(0.01, 5, n), rng.uniform(0.01, 20, n) * rng.choice([0.1, 1, 10], n)
        c = rng.uniform(0, 3, n)
        y0, mu0, it0 = bandwidth_shares(a, b, c, 0.01, groups, g)
        y1, mu1, it1 = bandwidth_shares(a, b, c, 0.01, groups, g, mu_start=mu0 * rng.uniform(0.8, 1.25, g))
        assert np.allclose(y1, y0, rtol=1e-9, atol=1e-12)
        assert np.allclose(mu1, mu0, rtol=1e-8, atol=1e-12)
        fewer += it1 < it0
    assert fewer > 50
