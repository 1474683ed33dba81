"""relax at scale: candidate lists, moves before swaps, a dual ascent that resumes, the uplink root."""

from __future__ import annotations

import time

import numpy as np
import pytest

from uara.model.allocation import exact_allocation, uplink_time
from uara.model.evaluator import evaluate
from uara.model.formulation import slot_data
from uara.scenario.random_instance import random_instance
from uara.solvers import get_solver
from uara.solvers.core.lagrangian import maximise_dual, start_from_association
from uara.solvers.core.local_search import candidate_mask, local_search
from uara.solvers.core.misocp import usable_pairs
from uara.solvers.p1.relax import max_sinr_start, search_candidates


def _value(sd, assoc):
    al = exact_allocation(sd, assoc)
    return evaluate(sd, assoc, al.bandwidth_share, al.compute_share).objective - sd.constant


def _usable(sd):
    return sd.usable & np.isfinite(sd.uplink_s_full)


def test_candidate_mask_keeps_the_k_cheapest_usable_servers_and_the_current_one():
    score = np.array([[3.0, 1.0, 2.0, 0.5], [1.0, 2.0, 3.0, 4.0], [4.0, 3.0, 2.0, 1.0]])
    usable = np.ones((3, 4), dtype=bool)
    usable[0, 3] = False  # the cheapest of device 0, not usable
    mask = candidate_mask(score, usable, 2, association=np.array([0, 3, 3]))
    expected = np.array([[True, True, True, False],  # 1 and 2 cheapest usable, 0 its server
                         [True, True, False, True],  # 0 and 1, 3 its server
                         [False, False, True, True]])
    np.testing.assert_array_equal(mask, expected)
    np.testing.assert_array_equal(candidate_mask(score, usable, 4), usable)


def _local_optimum_within(sd, res, allowed):
    """No move of a device to an allowed server and no swap of two devices (each to an allowed
    server) improves ``res`` (brute force)."""
    tol = 1e-9 * abs(res.value)
    a0 = res.association
    m, e = allowed.shape
    for i in range(m):
        for k in np.flatnonzero(allowed[i]):
            if k != a0[i]:
                a = a0.copy()
                a[i] = k
                assert _value(sd, a) >= res.value - tol, (i, k)
        for l in range(m):
            if a0[l] != a0[i] and allowed[i, a0[l]] and allowed[l, a0[i]]:
                a = a0.copy()
                a[i], a[l] = a[l], a[i]
                assert _value(sd, a) >= res.value - tol, (i, l)


@pytest.mark.parametrize("moves_first", [False, True])
def test_the_search_within_candidate_lists_ends_in_their_local_optimum(moves_first):
    sd = slot_data(random_instance(16, 5, seed=4))
    start = np.random.default_rng(2).integers(0, 5, size=16)
    score = np.random.default_rng(3).random((16, 5))
    allowed = candidate_mask(score, _usable(sd), 2, start)
    res = local_search(sd, start, candidates=allowed, moves_first=moves_first)
    assert res.value == pytest.approx(_value(sd, res.association), rel=1e-10)
    assert res.value < _value(sd, start)
    moved = res.association != start
    assert np.all(allowed[np.flatnonzero(moved), res.association[moved]])  # every device ends on a candidate
    _local_optimum_within(sd, res, allowed)


def test_full_candidate_lists_change_nothing_and_moves_alone_end_in_a_move_optimum():
    sd = slot_data(random_instance(14, 4, seed=11))
    start = np.random.default_rng(1).integers(0, 4, size=14)
    plain = local_search(sd, start)
    full = local_search(sd, start, candidates=_usable(sd))
    np.testing.assert_array_equal(plain.association, full.association)
    assert (plain.moves, plain.swaps, plain.value) == (full.moves, full.swaps, full.value)
    moves = local_search(sd, start, swaps=False)
    assert moves.swaps == 0 and moves.moves > 0
    for i in range(14):
        for k in range(4):
            a = moves.association.copy()
            a[i] = k
            assert _value(sd, a) >= moves.value - 1e-9 * moves.value


def test_the_dual_ascent_resumes_where_its_deadline_stopped_it():
    sd = slot_data(random_instance(20, 4, seed=6))
    pr = usable_pairs(sd)
    start, ub = max_sinr_start(sd)
    m0 = start_from_association(pr, start, exact_allocation(sd, start).band_price)
    temps = (1e-3, 1e-4, 1e-5)
    whole = maximise_dual(pr, m0, ub=ub, temperatures=temps)
    assert whole.stages_left == ()
    cut = maximise_dual(pr, m0, ub=ub, temperatures=temps, deadline=time.perf_counter() - 1.0)
    assert cut.stages_left == temps and cut.bound < whole.bound  # nothing done: the start's bound
    resumed = maximise_dual(pr, cut.multipliers, ub=ub, temperatures=cut.stages_left, magnitude=cut.magnitude)
    assert resumed.stages_left == ()
    assert resumed.bound == pytest.approx(whole.bound, rel=1e-7)


def test_the_uplink_root_is_the_same_whether_signs_come_mixed_or_alone():
    rng = np.random.default_rng(0)
    a = np.r_[rng.uniform(0.01, 2.0, 50), -rng.uniform(0.01, 2.0, 50)]
    b, c, mu = rng.uniform(0.01, 1.0, 100), rng.uniform(0.0, 2.0, 100), rng.uniform(0.0, 3.0, 100)
    mixed = uplink_time(a, b, c, 0.05, mu)
    alone = np.r_[uplink_time(a[:50], b[:50], c[:50], 0.05, mu[:50]), uplink_time(a[50:], b[50:], c[50:], 0.05, mu[50:])]
    np.testing.assert_array_equal(mixed, alone)
    k = (c + mu) * b / (2 * 0.05)
    np.testing.assert_allclose(mixed**2 * (mixed - a), k, rtol=1e-12)  # the cubic's root
    assert np.all(mixed >= np.maximum(a, 0.0))


def test_relax_searches_candidate_lists_only_where_the_tables_are_large():
    small = slot_data(random_instance(30, 5, seed=1))
    assert search_candidates(small, max_sinr_start(small)[0], 0) is None  # automatic: every server
    assert search_candidates(small, max_sinr_start(small)[0], 2) == 2
    assert search_candidates(small, max_sinr_start(small)[0], 5) is None  # k >= E
    inst = random_instance(30, 5, seed=1)
    sol = get_solver("relax", candidates=2).solve(inst, seed=0)
    assert sol.slots[0].info["candidates"] == 2
    assert sol.lower_bound <= sol.objective
    auto = get_solver("relax").solve(inst, seed=0)
    assert "candidates" not in auto.slots[0].info  # (its local optimum may be better or worse)


@pytest.mark.parametrize("option,value,words", [("candidates", -1, "candidates must be >= 0"),
                                                ("dual_share", 0.0, "dual_share must be in"),
                                                ("dual_share", 1.5, "dual_share must be in")])
def test_relax_refuses_bad_search_options(option, value, words):
    from uara.errors import SolverError

    with pytest.raises(SolverError, match=words):
        get_solver("relax", **{option: value})
