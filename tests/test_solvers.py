import itertools

import numpy as np
import pytest

from uara import solve
from uara.model.allocation import exact_allocation
from uara.errors import SolverError
from uara.model.evaluator import evaluate
from uara.model.formulation import slot_data
from uara.solvers import get_solver, list_solvers, register_solver
from uara.solvers.base import SlotDecision, Solver
from uara.scenario.random_instance import random_instance

TINY = [(m, e, seed) for seed in range(4) for (m, e) in ((5, 2), (6, 3), (7, 3), (8, 2))]


def _naive_optimum(inst):
    """Enumerate every association with itertools and the exact allocation (independent of brute_force.py)."""
    sd = slot_data(inst)
    best = np.inf
    for assoc in itertools.product(range(inst.num_servers), repeat=inst.num_devices):
        a = np.array(assoc)
        al = exact_allocation(sd, a)
        ev = evaluate(sd, a, al.bandwidth_share, al.compute_share)
        if ev.feasible:  # an unusable link (below params.min_snr_db) is not a candidate
            best = min(best, ev.objective)
    return best


@pytest.mark.parametrize("m,e,seed", TINY[:6])
def test_brute_force_equals_naive_enumeration(m, e, seed):
    inst = random_instance(m, e, seed=seed)
    sol = get_solver("brute-force").solve(inst)
    assert sol.status.value == "optimal"
    assert sol.objective == pytest.approx(_naive_optimum(inst), rel=1e-12)
    assert sol.lower_bound == pytest.approx(sol.objective, rel=1e-12)
    assert sol.gap == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("m,e,seed", TINY)
def test_brute_force_never_worse_than_tma_and_tma_never_worse_than_start(m, e, seed):
    inst = random_instance(m, e, seed=seed)
    bf = get_solver("brute-force").solve(inst).objective
    for alloc in ("exact", "uniform"):
        tma = get_solver("tma", allocation=alloc).solve(inst)
        start = get_solver("max-sinr", allocation=alloc).solve(inst)
        assert tma.feasible
        assert tma.objective <= start.objective + 1e-9 * abs(start.objective)
        assert bf <= tma.objective + 1e-9 * abs(tma.objective)


def test_tma_improves_on_max_sinr_at_scale(m60):
    tma = get_solver("tma").solve(m60)
    start = get_solver("max-sinr+exact").solve(m60)
    assert tma.slots[0].info["swaps"] > 0
    assert tma.objective < start.objective


@pytest.mark.parametrize("name", ["random", "max-sinr", "max-compute", "tma", "random+exact", "max-compute+exact"])
def test_heuristics_feasible_and_deterministic(name, m60):
    a = get_solver(name).solve(m60, seed=3)
    b = get_solver(name).solve(m60, seed=3)
    assert a.feasible and a.status.value == "feasible"
    assert np.array_equal(a.slots[0].association, b.slots[0].association)
    assert a.objective == b.objective


def test_random_depends_on_seed(m60):
    a = get_solver("random").solve(m60, seed=0).slots[0].association
    b = get_solver("random").solve(m60, seed=1).slots[0].association
    assert not np.array_equal(a, b)


def test_max_compute_picks_fastest_reachable_server(m60):
    sol = get_solver("max-compute").solve(m60)
    flops = m60.server_flops
    assert np.all(flops[sol.slots[0].association] == flops.max())


def test_heuristics_avoid_no_path_servers():
    inst = random_instance(6, 3, seed=2)
    floor = inst.params.gain_floor_db
    inst.slots[0].gain_db[:, 0] = floor  # nobody reaches server 0
    for name in ("random", "max-sinr", "max-compute", "tma", "brute-force"):
        sol = get_solver(name).solve(inst, seed=1)
        assert sol.feasible, (name, sol.violations)
        assert not np.any(sol.slots[0].association == 0)


def test_brute_force_guard():
    inst = random_instance(14, 4, seed=0)
    with pytest.raises(SolverError, match=r"4\^14 = 2.68e\+08 associations exceeds max_assignments"):
        get_solver("brute-force").solve(inst)


def test_unknown_solver_and_options():
    with pytest.raises(SolverError, match="unknown solver 'nope'; available: random, max-sinr"):
        get_solver("nope")
    with pytest.raises(SolverError, match="has no option 'speed'"):
        get_solver("tma", speed=3)
    with pytest.raises(SolverError, match="unknown allocation 'fair'"):
        get_solver("max-sinr+fair")
    with pytest.raises(SolverError, match="expects int"):
        get_solver("tma", max_swaps="many")
    assert get_solver("tma", max_swaps="none").options.max_swaps is None


def test_solver_names_in_solution(m60):
    assert get_solver("max-sinr+exact").solve(m60).solver == "max-sinr+exact"
    assert get_solver("max-sinr").solve(m60).solver == "max-sinr"
    assert get_solver("tma", allocation="uniform").solve(m60).solver == "tma+uniform"


def test_custom_solver_plugs_in_and_is_rescored(small_instance):
    class Everyone0(Solver):
        name = "everyone-0"
        description = "every device on its best server, equal shares, claims a wrong bound"

        def solve_slot(self, sd, ctx):
            assoc = np.where(sd.usable, sd.snr, -np.inf).argmax(axis=1)
            share = 1.0 / np.bincount(assoc, minlength=sd.num_servers)[assoc]
            return SlotDecision(assoc, share, share.copy(), lower_bound=1e30)

    register_solver("everyone-0", Everyone0, replace=True)
    sol = solve(small_instance, "everyone-0")
    assert sol.feasible
    assert sol.lower_bound is None  # a bound above the incumbent is dropped
    assert "exceeds the incumbent" in sol.slots[0].info["warning"]
    assert any(r["name"] == "everyone-0" for r in list_solvers())


def test_infeasible_custom_solver_is_an_error(small_instance):
    class Greedy(Solver):
        name = "greedy-bad"

        def solve_slot(self, sd, ctx):
            m = sd.num_devices
            return SlotDecision(np.zeros(m, int), np.ones(m), np.ones(m))

    sol = Greedy().solve(small_instance)
    assert sol.status.value == "error" and not sol.feasible
    assert "hands out" in sol.violations[0]


def test_multi_slot_solution_sums_slots():
    inst = random_instance(10, 3, slots=3, seed=1)
    sol = get_solver("tma").solve(inst)
    per_slot = [get_solver("tma").solve(inst.slot_subset([t])).objective for t in range(3)]
    assert sol.objective == pytest.approx(sum(per_slot), rel=1e-12)


def test_tma_swaps_only_over_usable_links():
    """A swap must not move a device onto a link below the coverage threshold, even when
    the swap would lower I (weak links are priced finitely by the formulas)."""
    for seed in range(6):
        inst = random_instance(30, 4, seed=seed)
        inst = inst.with_params(min_snr_db=20.0)  # many links unusable, each device keeps its best
        for alloc in ("exact", "uniform"):
            sol = get_solver("tma", allocation=alloc).solve(inst)
            assert sol.feasible, sol.violations
