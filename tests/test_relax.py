"""relax: the SOCP bound is valid, rounding + local search is feasible and exactly scored."""

from __future__ import annotations

import numpy as np
import pytest

from uara.model.allocation import exact_allocation
from uara.model.evaluator import evaluate
from uara.model.formulation import slot_data
from uara.solvers import get_solver

pytest.importorskip("cvxpy")

from uara.solvers.core.local_search import local_search  # noqa: E402
from uara.solvers.p1.relax import association_values, solve_relaxation  # noqa: E402
from uara.scenario.random_instance import random_instance

TINY = [(8, 3, 0), (10, 3, 1), (7, 4, 2), (9, 3, 5), (6, 5, 7)]


def _value(sd, assoc):
    al = exact_allocation(sd, assoc)
    return evaluate(sd, assoc, al.bandwidth_share, al.compute_share).objective - sd.constant


@pytest.mark.parametrize("m,e,seed", TINY)
def test_relaxation_bound_below_optimum(m, e, seed):
    inst = random_instance(m, e, seed=seed)
    sd = slot_data(inst)
    bf = get_solver("brute-force").solve(inst)
    opt = bf.objective - sd.constant
    plain = solve_relaxation(sd)
    with_ub = solve_relaxation(sd, ub=opt * 1.01)
    assert plain.bound <= opt
    assert with_ub.bound <= opt
    assert with_ub.bound >= plain.bound - 1e-7 * abs(plain.bound)  # extra valid cuts only tighten
    assert plain.bound <= plain.value * (1 + 1e-7)  # weak duality against the conic primal value
    assert plain.bound > 0.5 * opt  # a bound that says something
    np.testing.assert_allclose(plain.x.sum(axis=1), 1.0, atol=1e-6)


@pytest.mark.parametrize("m,e,seed", TINY)
def test_relax_solution_feasible_with_valid_certificate(m, e, seed):
    inst = random_instance(m, e, seed=seed)
    bf = get_solver("brute-force").solve(inst)
    sol = get_solver("relax").solve(inst, seed=seed)
    assert sol.feasible
    assert sol.lower_bound is not None and sol.lower_bound <= bf.objective
    assert sol.objective >= bf.objective * (1 - 1e-12)
    assert sol.gap is not None and 0.0 <= sol.gap < 0.05
    # the certificate covers the true gap
    true_gap = (sol.objective - bf.objective) / (sol.objective - sol.constant)
    assert sol.gap >= true_gap - 1e-12


def test_association_values_match_evaluator():
    inst = random_instance(20, 4, seed=3)
    sd = slot_data(inst)
    rng = np.random.default_rng(0)
    cands = rng.integers(0, 4, size=(6, 20))
    vals = association_values(sd, cands)
    np.testing.assert_allclose(vals, [_value(sd, c) for c in cands], rtol=1e-10)


def test_local_search_is_exact_and_ends_in_local_optimum():
    inst = random_instance(14, 4, seed=11)
    sd = slot_data(inst)
    start = np.random.default_rng(1).integers(0, 4, size=14)
    res = local_search(sd, start)
    assert res.moves + res.swaps > 0
    assert res.value == pytest.approx(_value(sd, res.association), rel=1e-10)
    assert res.value < _value(sd, start)
    tol = 1e-9 * res.value
    for i in range(14):
        for k in range(4):
            if k != res.association[i]:
                a = res.association.copy()
                a[i] = k
                assert _value(sd, a) >= res.value - tol
        for l in range(14):
            if res.association[l] != res.association[i]:
                a = res.association.copy()
                a[i], a[l] = a[l], a[i]
                assert _value(sd, a) >= res.value - tol


def test_relax_is_seeded_and_options_checked():
    inst = random_instance(30, 5, seed=2)
    a = get_solver("relax").solve(inst, seed=3)
    b = get_solver("relax").solve(inst, seed=3)
    np.testing.assert_array_equal(a.slots[0].association, b.slots[0].association)
    from uara.errors import SolverError

    with pytest.raises(SolverError, match="solver"):
        get_solver("relax", solver="MOSEKX")


def test_relax_scs_backend_gives_valid_bound():
    inst = random_instance(8, 3, seed=0)
    bf = get_solver("brute-force").solve(inst)
    sol = get_solver("relax", solver="SCS").solve(inst)
    assert sol.lower_bound <= bf.objective


def test_relax_certifies_even_when_the_conic_solver_fails(monkeypatch):
    """A failed conic solve costs the rounding its fractional x from the SOCP, not the bound:
    the Lagrangian dual is maximised from the Max-SINR multipliers and certifies on its own."""
    import uara.solvers.p1.relax as relax_mod
    from uara.errors import SolverError

    def give_up(*args, **kwargs):
        raise SolverError("relax: CLARABEL failed on the relaxation")

    monkeypatch.setattr(relax_mod, "_solve_conic", give_up)
    inst = random_instance(10, 3, seed=2)
    bf = get_solver("brute-force").solve(inst)
    sol = get_solver("relax").solve(inst)
    assert sol.feasible and sol.lower_bound is not None
    assert sol.lower_bound <= bf.objective
    info = sol.slots[0].info
    assert info["relaxation_status"] == "failed" and "failed" in info["relaxation_error"]
    assert sol.objective <= get_solver("max-sinr+exact").solve(inst).objective + 1e-9


@pytest.mark.parametrize("m,e,seed", [(9, 3, 5), (40, 6, 3)])
def test_lagrangian_backend_matches_the_conic_bound(m, e, seed):
    """solver=lagrangian (no conic solver) certifies the same bound as Clarabel + dual, to 1e-6."""
    inst = random_instance(m, e, seed=seed)
    conic = get_solver("relax").solve(inst, seed=seed)
    dual = get_solver("relax", solver="lagrangian").solve(inst, seed=seed)
    assert dual.feasible and dual.slots[0].info["relaxation_status"] == "lagrangian"
    c = conic.constant
    assert dual.lower_bound - c == pytest.approx(conic.lower_bound - c, rel=1e-6)
    if e**m <= 10**6:
        assert dual.lower_bound <= get_solver("brute-force").solve(inst).objective


def test_iterated_local_search_never_worse_and_seeded():
    from uara.solvers.core.local_search import iterated_local_search

    inst = random_instance(24, 4, seed=8)
    sd = slot_data(inst)
    start = np.random.default_rng(2).integers(0, 4, size=24)
    plain = local_search(sd, start)
    runs = [iterated_local_search(sd, start, np.random.default_rng(5), rounds=40) for _ in range(2)]
    np.testing.assert_array_equal(runs[0].association, runs[1].association)  # same seed, same answer
    assert runs[0].perturbations == 40
    assert runs[0].value <= plain.value * (1 + 1e-12)
    assert runs[0].value == pytest.approx(_value(sd, runs[0].association), rel=1e-10)  # tables restored exactly
    # and it ends in a local optimum of moves
    a = runs[0].association
    for i in range(24):
        for k in range(4):
            if k != a[i] and sd.usable[i, k]:
                b = a.copy()
                b[i] = k
                assert _value(sd, b) >= runs[0].value * (1 - 1e-9)


def test_relax_perturbations_option():
    inst = random_instance(30, 5, seed=4)
    base = get_solver("relax").solve(inst, seed=1)
    more = get_solver("relax", perturbations=10).solve(inst, seed=1)
    assert more.feasible and more.objective <= base.objective * (1 + 1e-12)
    assert more.slots[0].info["perturbations"] == 10
    from uara.errors import SolverError

    with pytest.raises(SolverError, match="perturbations"):
        get_solver("relax", perturbations=-1)


def test_relax_reports_optimal_exactly_when_its_bound_proves_it():
    """'optimal' iff the certified gap is within PROVEN_GAP; such a slot equals the brute-force optimum."""
    from uara.model.solution import PROVEN_GAP, Status

    seen = 0
    for m, seed in ((3, 0), (3, 1), (3, 3), (4, 0), (4, 3), (4, 4)):
        inst = random_instance(m, 2, seed=seed)
        sol = get_solver("relax").solve(inst)
        bf = get_solver("brute-force").solve(inst)
        gap = sol.gap
        assert (sol.status == Status.OPTIMAL) == (gap is not None and gap <= PROVEN_GAP), (seed, gap, sol.status)
        if sol.status == Status.OPTIMAL:
            seen += 1
            assert sol.objective - sol.constant == pytest.approx(bf.objective - bf.constant, rel=2 * PROVEN_GAP)
    assert 1 <= seen < 6


@pytest.mark.parametrize("m,e,seed", TINY[:3])
def test_tighten_raises_the_bound_toward_the_brute_force_optimum_and_never_past_it(m, e, seed):
    """relax-dw: the Dantzig-Wolfe root bound is valid (<= the optimum), never below relax's own bound, and
    the decision is never worse than relax's."""
    import time

    from uara.solvers.base import SolveContext

    inst = random_instance(m, e, seed=seed)
    sd = slot_data(inst)
    opt = get_solver("brute-force").solve(inst).objective
    outs = {}
    for tighten in (False, True):
        ctx = SolveContext(seed=0, slot=0, rng=np.random.default_rng(0), deadline=time.perf_counter() + 30,
                           threads=1, instance=inst)
        dec = get_solver("relax-dw" if tighten else "relax").solve_slot(sd, ctx)
        outs[tighten] = (evaluate(sd, dec.association, dec.bandwidth_share, dec.compute_share).objective,
                         dec.lower_bound, dec.info)
    (v0, lb0, _), (v1, lb1, info) = outs[False], outs[True]
    assert lb0 - 1e-9 * abs(lb0) <= lb1 <= opt * (1 + 1e-9)
    assert opt * (1 - 1e-12) <= v1 <= v0 * (1 + 1e-12)
    assert "dw_bound" in info  # relax alone does not prove these three, so the tightening ran
    assert info["dw_bound"] <= opt * (1 + 1e-9) and lb1 > lb0  # and it raised the bound
