"""Column generation / branch-and-price (solvers/p1/price.py) and its exact pricing (solvers/p1/pricing.py).

Ground truths: naive enumeration of every subset for the pricing problem, brute force
(every association) for P1, and the Lagrangian dual of the continuous relaxation
(solvers/core/lagrangian.py) from below.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from uara.model.allocation import exact_allocation
from uara.model.formulation import slot_data
from uara.model.instance import Instance
from uara.model.solution import Status
from uara.solvers import get_solver
from uara.solvers.core.lagrangian import maximise_dual, start_from_association
from uara.solvers.core.misocp import usable_pairs
from uara.solvers.p1.pricing import node_bound, price_server, server_items, set_values
from uara.solvers.p1.brute_force import BruteForceSolver
from uara.solvers.base import SolveContext
from uara.solvers.p1.price import BranchAndPrice, Master, PriceOptions
from uara.scenario.random_instance import random_instance

TINY = [(8, 3, 0), (10, 3, 1), (7, 4, 2)]


def _all_subsets(n: int) -> np.ndarray:
    return ((np.arange(1 << n)[:, None] >> np.arange(n)[None, :]) & 1).astype(bool)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_pricing_equals_enumeration(seed):
    """min_S V_j(S) - u(S) over all subsets of a random candidate set (n <= 12), random prices."""
    sd = slot_data(random_instance(14, 3, seed=seed))
    rng = np.random.default_rng(seed)
    for j in range(sd.num_servers):
        cand = rng.random(sd.num_devices) < 0.8
        items = server_items(sd, j, cand)
        items = server_items(sd, j, np.isin(np.arange(sd.num_devices), items.devices[:12]))
        n = items.size
        masks = _all_subsets(n)
        # V from group_values for every subset (independent of the closed form in set_values)
        from uara.model.allocation import group_values

        rows, cols = np.nonzero(masks)
        v_all = group_values(sd, items.devices[cols], np.full(cols.size, j), rows, masks.shape[0])
        np.testing.assert_allclose(set_values(sd, items, masks), v_all, rtol=1e-12, atol=1e-12)
        singles = v_all[1 << np.arange(n)]
        for scale in (0.5, 1.2, 2.0, 4.0):
            u = np.zeros(sd.num_devices)
            u[items.devices] = singles * rng.uniform(0.2, 1.0, n) * scale
            reduced = v_all - masks @ u[items.devices]
            best = float(reduced.min())
            res = price_server(sd, items, u)
            tol = 1e-9 * max(1.0, abs(best))
            assert res.finished
            assert abs(res.best_value - best) <= tol
            assert best - tol <= res.lower_bound <= best + tol
            assert abs(reduced[int((res.best_mask * (1 << np.arange(n))).sum())] - res.best_value) <= tol
            # columns are returned with their exact V_j(S)
            for mask, val in zip(res.columns, res.column_values):
                assert abs(v_all[int((mask * (1 << np.arange(n))).sum())] - val) <= 1e-9 * max(1.0, abs(val))
            # a node-limited search still gives a valid bound
            cut = price_server(sd, items, u, max_nodes=1)
            assert cut.lower_bound <= best + tol
            # a search with tolerance atol closes nodes within atol: its bound is valid and at most atol low
            for atol in (1e-3, 0.05 * max(1.0, abs(best))):
                loose = price_server(sd, items, u, atol=atol)
                assert loose.finished
                assert best - atol - tol <= loose.lower_bound <= best + tol
                assert loose.best_value <= best + atol + tol


@pytest.mark.parametrize("seed", [0, 1])
def test_node_bound_stopped_at_a_threshold_is_reached_and_still_valid(seed):
    """node_bound(stop_at=s) stops at the first stage at or above s: its value is then >= s and never above the
    full search's maximum, which bounds every subset of the node from below."""
    sd = slot_data(random_instance(16, 2, seed=seed))
    rng = np.random.default_rng(seed)
    for j in range(sd.num_servers):
        items = server_items(sd, j)
        items = server_items(sd, j, np.isin(np.arange(sd.num_devices), items.devices[:10]))
        n = items.size
        masks = _all_subsets(n)
        u = np.zeros(sd.num_devices)
        u[items.devices] = set_values(sd, items, np.eye(n, dtype=bool)) * rng.uniform(0.5, 3.0, n)
        reduced = set_values(sd, items, masks) - masks @ u[items.devices]
        hq = items.q - u[items.devices]
        fin, free = np.zeros(n, dtype=bool), np.ones(n, dtype=bool)
        full = node_bound(items, hq, fin, free)
        assert full.value <= reduced.min() + 1e-9 * max(1.0, abs(reduced.min()))
        for stop in (full.value - 1.0, full.value - 1e-3, full.value + 1.0):
            early = node_bound(items, hq, fin, free, stop_at=stop)
            assert min(stop, full.value) <= early.value <= full.value
            if stop > full.value:  # never reached: the whole search ran
                assert early.value == full.value


def _brute(inst: Instance) -> tuple[float, float]:
    sol = get_solver("brute-force").solve(inst)
    return sol.evaluations[0].objective, sol.evaluations[0].constant


def _root(inst: Instance, **opts) -> BranchAndPrice:
    sd = slot_data(inst)
    bp = BranchAndPrice(sd, PriceOptions(max_nodes=1, root_mip_s=0.0, **opts), None)
    start = get_solver("max-sinr").solve(inst).slots[0].association
    bp.run(np.asarray(start))
    return bp


@pytest.mark.parametrize("m,e,seed", TINY)
def test_cg_bound_between_relaxation_and_optimum(m, e, seed):
    inst = random_instance(m, e, seed=seed)
    opt, const = _brute(inst)
    sd = slot_data(inst)
    bp = _root(inst)
    root = bp.stats["root_bound"]
    assert root <= (opt - const) * (1 + 1e-9)
    pairs = usable_pairs(sd)
    assoc = np.asarray(get_solver("max-sinr+exact").solve(inst).slots[0].association)
    dual = maximise_dual(pairs, start_from_association(pairs, assoc, exact_allocation(sd, assoc).band_price))
    assert root >= dual.bound - 1e-9 * abs(dual.bound)


@pytest.mark.parametrize("m,e,seed", TINY)
@pytest.mark.parametrize("tolerance", [0.25, 0.0])
def test_price_equals_brute_force(m, e, seed, tolerance):
    """Proven optimal with tolerant pricing (the default) and with every pricing search exact."""
    inst = random_instance(m, e, seed=seed)
    opt, const = _brute(inst)
    sol = get_solver("price", pricing_tolerance=tolerance).solve(inst)
    ev = sol.evaluations[0]
    assert not ev.violations
    assert sol.status == Status.OPTIMAL
    assert abs(ev.objective - opt) <= 1e-6 * (opt - const)
    lb = sol.slots[0].lower_bound
    assert lb <= opt + 1e-9 * (opt - const)
    assert (opt - lb) <= 1e-6 * (opt - const)


def test_node_bound_with_fixed_pairs_below_restricted_optimum():
    """A branch-and-price node (x_ij fixed to 1 and 0) is bounded by the optimum under the same fixings."""
    inst = random_instance(9, 3, seed=4)
    sd = slot_data(inst)
    rng = np.random.default_rng(4)
    usable = sd.usable & np.isfinite(sd.uplink_s_full)
    for _ in range(3):
        cand = usable.copy()
        i, k = rng.choice(sd.num_devices, 2, replace=False)
        j = int(np.flatnonzero(cand[i])[0])
        cand[i, :] = False
        cand[i, j] = True  # x_ij = 1
        jk = np.flatnonzero(cand[k])
        if jk.size > 1:
            cand[k, jk[0]] = False  # x_kj' = 0
        restricted = dataclasses.replace(sd, usable=cand)
        ctx = SolveContext(seed=0, slot=0, rng=np.random.default_rng(0), deadline=None, threads=1, instance=inst)
        ref = BruteForceSolver().solve_slot(restricted, ctx).lower_bound - sd.constant
        bp = BranchAndPrice(sd, PriceOptions(), None)
        start = np.where(cand.any(axis=1), np.argmax(cand, axis=1), 0)
        bp.offer(start, "start")
        bp.master = Master(sd.num_devices, sd.num_servers, big=2 * bp.best_value + 1)
        bp.offer(start, "start")
        cg = bp.column_generation(cand, -np.inf, np.inf)
        assert cg.converged
        assert cg.bound <= ref * (1 + 1e-9)
        assert cg.bound >= ref * (1 - 1e-3)  # the DW bound is tight on these (not a validity requirement)


def test_limited_pricing_and_cg_give_valid_bounds():
    inst = random_instance(10, 3, seed=1)
    opt, const = _brute(inst)
    bp = _root(inst, pricing_nodes=1, max_cg_iterations=2)
    assert bp.stats["root_bound"] <= (opt - const) * (1 + 1e-9)


def test_time_limited_run_is_feasible_with_valid_bound():
    inst = random_instance(30, 4, seed=0)
    sol = get_solver("price").solve(inst, time_limit=1.5)
    ev = sol.evaluations[0]
    assert not ev.violations
    assert sol.status in (Status.TIME_LIMIT, Status.OPTIMAL)
    lb = sol.slots[0].lower_bound
    assert lb is not None and ev.constant <= lb <= ev.objective


def test_options_are_checked():
    from uara.errors import SolverError

    with pytest.raises(SolverError, match="gap"):
        get_solver("price", gap=-1)
    with pytest.raises(SolverError, match="columns_per_server"):
        get_solver("price", columns_per_server=0)
    with pytest.raises(SolverError, match=r"option pricing_tolerance must be in \[0, 1\), got 1.5"):
        get_solver("price", pricing_tolerance=1.5)


def test_bounds_cache_method_price(tmp_path):
    from uara.experiments.bounds import best_lower_bound, load_bounds

    inst = random_instance(8, 3, seed=0)
    opt, const = _brute(inst)
    (lb,) = best_lower_bound(inst, methods=("price",), time_limit=30, root=tmp_path)
    assert lb is not None and lb <= opt + 1e-9 * (opt - const)
    assert (opt - lb) <= 1e-6 * (opt - const)
    assert "price" in load_bounds(inst, root=tmp_path)[0]


def test_price_stopped_before_pricing_still_reports_a_valid_bound():
    """A limit too short for any column generation: the bound is the relaxation's, still valid."""
    inst = random_instance(9, 3, seed=5)
    opt, const = _brute(inst)
    sol = get_solver("price").solve(inst, time_limit=1e-4)
    assert sol.feasible and sol.lower_bound is not None
    assert const <= sol.lower_bound <= opt * (1 + 1e-12)


@pytest.mark.parametrize("seed", [2, 5])
def test_the_box_step_and_wentges_smoothing_reach_the_same_root_bound(seed):
    """The Dantzig-Wolfe bound does not depend on how the duals are stabilised: the box step (default) and
    Wentges smoothing (box = 0) converge at the root to the same bound, between the relaxation's and the
    optimum."""
    inst = random_instance(12, 3, seed=seed)
    opt, const = _brute(inst)
    box, wentges = _root(inst), _root(inst, box=0.0)
    assert box.stats["root_converged"] or box.stats["root_bound"] >= (opt - const) * (1 - 1e-7)
    assert wentges.stats["root_converged"] or wentges.stats["root_bound"] >= (opt - const) * (1 - 1e-7)
    assert box.stats["root_bound"] == pytest.approx(wentges.stats["root_bound"], rel=1e-7)
    assert box.stats["root_bound"] <= (opt - const) * (1 + 1e-9)
    with pytest.raises(Exception, match="box"):
        get_solver("price", box=-1.0)


def test_above_the_pair_threshold_relax_s_pipeline_gets_the_whole_slot(monkeypatch):
    """With more usable pairs than WARM_START_ALONE_PAIRS relax's pipeline is given the whole slot (share 1),
    below it WARM_START_SHARE; either way price ends no worse than relax, with a bound no lower."""
    from uara.solvers.base import SolveContext
    from uara.solvers.p1 import price
    from uara.solvers.p1.exact import WARM_START_SHARE

    shares = []
    original = SolveContext.with_share
    monkeypatch.setattr(SolveContext, "with_share", lambda self, f: shares.append(f) or original(self, f))
    inst = random_instance(16, 4, seed=21)
    relax = get_solver("relax").solve(inst, time_limit=30)
    shares.clear()
    below = get_solver("price").solve(inst, time_limit=30)
    assert shares[0] == WARM_START_SHARE  # (relax itself may take shares of it)
    monkeypatch.setattr(price, "WARM_START_ALONE_PAIRS", 0)
    shares.clear()
    above = get_solver("price").solve(inst, time_limit=30)
    assert shares[0] == 1.0
    for sol in (below, above):
        assert sol.objective <= relax.objective
        assert sol.slots[0].lower_bound >= relax.slots[0].lower_bound


@pytest.mark.parametrize("m,e,seed", [(9, 3, 2), (12, 4, 4), (12, 4, 6), (12, 4, 10)])
def test_capped_pricing_never_claims_a_bound_above_a_feasible_value(m, e, seed):
    """Pricing cut at one search node finds columns but proves little: whatever branch-and-price then does,
    its reported bound stays at or below the value of a feasible decision (brute force's optimum at 9x3,
    uncapped price's incumbent at 12x4). Until VERSION 7 an integral LP point of such a column generation
    closed its node, and all four reported bounds above those values."""
    inst = random_instance(m, e, seed=seed)
    ref = get_solver("brute-force" if m <= 9 else "price").solve(inst)
    value, const = ref.evaluations[0].objective, ref.evaluations[0].constant
    sol = get_solver("price", pricing_nodes=1, root_mip_s=0.0, local_search=False).solve(inst)
    lb = sol.slots[0].lower_bound
    assert lb is not None and lb <= value + 1e-9 * (value - const)


def test_node_end_rules():
    """The three ends of a node's column generation (solvers/core/column_generation.py), the fractionality test
    asked only when early branching is the one rule left to decide."""
    from uara.solvers.core.column_generation import EARLY_BRANCH, LP_CONVERGED, node_end

    asked = []

    def fractional(answer):
        return lambda: asked.append(answer) or answer

    gap = 1e-3
    assert node_end(10.0, 10.0, 11.0, gap, fractional(True)) == (True, True)  # LB = LP: the DW bound
    assert node_end(10.0 - 0.5 * LP_CONVERGED * gap, 10.0, 11.0, gap, fractional(True)) == (True, False)
    assert not asked
    # LP above the cutoff: only the two convergence rules can end the node
    assert node_end(9.0, 10.0, 9.5, gap, fractional(True)) is None
    # LP below the cutoff by 1: early branching once LP - LB <= EARLY_BRANCH, on a fractional LP point only
    near = 10.0 - 0.5 * EARLY_BRANCH
    assert node_end(near, 10.0, 11.0, gap, fractional(True)) == (True, False)
    assert node_end(near, 10.0, 11.0, gap, fractional(False)) is None
    assert node_end(near, 10.0, 11.0, gap, None) is None  # the node may not branch (max_nodes reached)
    assert node_end(10.0 - 2.0 * EARLY_BRANCH, 10.0, 11.0, gap, fractional(True)) is None
    assert asked == [True, False]


def test_early_branching_still_proves_the_brute_force_optimum(monkeypatch):
    """Instances whose root LP lies below the cutoff with a fractional point (a weak start: no root integer
    master, no local search) branch early and still end proven at brute force's optimum; the same run with
    early branching off agrees."""
    import uara.solvers.core.column_generation as cg
    import uara.solvers.p1.price as price_module

    fired = []

    def spy(bound, lp_value, cutoff, gap_abs, fractional):
        out = cg.node_end(bound, lp_value, cutoff, gap_abs, fractional)
        fired.append(out == (True, False) and bound < lp_value - cg.LP_CONVERGED * gap_abs)
        return out

    monkeypatch.setattr(price_module, "node_end", spy)
    for m, e, seed in ((9, 4, 6), (12, 3, 38)):
        inst = random_instance(m, e, seed=seed)
        opt, const = _brute(inst)
        fired.clear()
        sol = get_solver("price", root_mip_s=0.0, local_search=False).solve(inst)
        assert any(fired), (m, e, seed)
        assert sol.status == Status.OPTIMAL
        assert abs(sol.evaluations[0].objective - opt) <= 1e-6 * (opt - const)
        assert opt - sol.slots[0].lower_bound <= 1e-6 * (opt - const)
        monkeypatch.setattr(cg, "EARLY_BRANCH", 0.0)
        off = get_solver("price", root_mip_s=0.0, local_search=False).solve(inst)
        monkeypatch.setattr(cg, "EARLY_BRANCH", 1.0)
        assert off.status == Status.OPTIMAL
        assert abs(off.evaluations[0].objective - opt) <= 1e-6 * (opt - const)


def test_the_master_lp_is_solved_again_from_a_cleared_basis_when_highs_stops_unknown():
    """HiGHS's warm-started simplex once stopped with status Unknown on m60_e4 (relax-dw, 60 s per run), which
    ended the run; the master now clears the basis and solves again, and only then gives up."""
    import highspy

    inst = random_instance(9, 3, seed=4)
    bp = BranchAndPrice(slot_data(inst), PriceOptions(), None)
    bp._start_master(get_solver("max-sinr").solve(inst).slots[0].association)
    real = bp.master.h
    value = bp.master.solve()[0]

    class Flaky:
        def __init__(self, fails):
            self.fails, self.cleared = fails, 0

        def __getattr__(self, name):
            return getattr(real, name)

        def getModelStatus(self):
            return highspy.HighsModelStatus.kUnknown if self.cleared < self.fails else real.getModelStatus()

        def clearSolver(self):
            self.cleared += 1
            return real.clearSolver()

    bp.master.h = Flaky(1)
    assert bp.master.solve()[0] == pytest.approx(value, rel=1e-12) and bp.master.h.cleared == 1
    bp.master.h = Flaky(2)
    with pytest.raises(Exception, match="master LP ended with status Unknown"):
        bp.master.solve()
