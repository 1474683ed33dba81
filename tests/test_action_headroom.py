"""The action-space search behind results/masac/headroom.json (uara.experiments.studies.action_headroom)."""

import numpy as np
import pytest

from uara.experiments.studies.action_headroom import (COORDINATE_GRID, action_objective, block_search, coordinate_search,
                                              headroom_row)
from uara.model.evaluator import evaluate
from uara.model.formulation import slot_data
from uara.scenario.random_instance import random_instance
from uara.solvers import get_solver


def test_coordinate_search_finds_the_grid_minimum_of_a_separable_function():
    rng = np.random.default_rng(0)
    target = rng.choice(COORDINATE_GRID, size=(7, 2))
    calls = []

    def f(a):
        calls.append(1)
        return float(((a - target) ** 2).sum()) + 3.0

    res = coordinate_search(f, np.zeros((7, 2)), np.random.default_rng(1))
    np.testing.assert_array_equal(res.action, target)
    assert res.value == 3.0 and res.converged and res.evaluations == len(calls)
    assert res.sweeps == 2  # the second sweep improves nothing


def test_the_searches_never_return_worse_than_their_start_and_keep_their_budget():
    rng = np.random.default_rng(2)
    w = rng.normal(size=(10, 2))

    def f(a):
        return float(np.sin(3 * a).sum() + (w * a).sum())

    start = rng.uniform(-1, 1, (10, 2))
    for search in (lambda: coordinate_search(f, start, np.random.default_rng(3), max_evaluations=25),
                   lambda: block_search(f, start, np.random.default_rng(3), max_evaluations=25)):
        res = search()
        assert res.evaluations <= 25 and res.value <= f(start)
        assert res.value == pytest.approx(f(res.action))
        assert np.all(np.abs(res.action) <= 1.0)
    assert block_search(f, start, np.random.default_rng(3), max_evaluations=60).value < f(start)


def test_the_zero_action_is_each_back_end_s_zero_action():
    """f(0) under each semantics is what the masac / masac-uara back-ends return with zero_action."""
    inst = random_instance(12, 3, seed=5)
    sd = slot_data(inst, 0)
    zero = np.zeros((12, 2))
    for sem, name in (("paper", "masac"), ("uara", "masac-uara")):
        sol = get_solver(name, zero_action=True).solve(inst)
        assert action_objective(sd, sem)(zero) == pytest.approx(sol.objective - sd.constant, rel=1e-12)


def test_a_headroom_row_lies_between_the_optimum_and_the_zero_action():
    """On a tiny instance the brute-force optimum is the bound: optimum <= best searched <= min(zero, policy)."""
    inst = random_instance(6, 3, seed=7)
    sd = slot_data(inst, 0)
    best = get_solver("brute-force").solve(inst)
    policy = np.random.default_rng(0).uniform(-1, 1, (6, 2))
    for sem in ("paper", "uara"):
        row = headroom_row("tiny", 0, sd, sem, policy, best.objective, best.objective, np.random.default_rng(1),
                           max_evaluations=300)
        assert row.best_bound == pytest.approx(best.objective - sd.constant)
        assert row.best_bound <= row.best_searched * (1 + 1e-9)
        assert row.best_searched <= min(row.zero_action, row.shipped_policy)
        assert 0.0 <= row.headroom < 1.0
        assert row.search["evaluations"] <= 302


def test_an_unknown_semantics_is_refused_by_name():
    sd = slot_data(random_instance(4, 2, seed=1), 0)
    with pytest.raises(ValueError, match="semantics must be one of paper, uara"):
        action_objective(sd, "greedy")
