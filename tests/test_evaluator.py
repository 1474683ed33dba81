import numpy as np
import pytest

from uara.model.allocation import exact_allocation, group_values, uniform_allocation
from uara.model.evaluator import evaluate, evaluate_batch
from uara.model.formulation import slot_data
from uara.solvers.core.moves import seat_costs
from uara.scenario.random_instance import random_instance

from conftest import reference_objective


def _random_decisions(sd, rng):
    m, e = sd.num_devices, sd.num_servers
    assoc = np.where(sd.usable, rng.random((m, e)), -np.inf).argmax(axis=1)  # a random usable server each
    y = rng.uniform(0.05, 1.0, size=m)
    z = rng.uniform(0.05, 1.0, size=m)
    for j in range(e):  # scale into each server's budgets
        on = assoc == j
        if on.any():
            y[on] /= max(1.0, y[on].sum())
            z[on] /= max(1.0, z[on].sum())
    return assoc, y, z


@pytest.mark.parametrize("seed", range(5))
def test_evaluator_matches_independent_recomputation(seed):
    inst = random_instance(15, 4, slots=2, seed=seed)
    d = inst.to_dict()
    rng = np.random.default_rng(seed)
    for t in range(2):
        sd = slot_data(inst, t)
        assoc, y, z = _random_decisions(sd, rng)
        ev = evaluate(sd, assoc, y, z)
        assert ev.feasible, ev.violations
        ref = reference_objective(d, t, assoc, y, z)
        assert ev.objective == pytest.approx(ref, rel=1e-12)
        parts = ev.breakdown
        assert parts["device_s"] + parts["server_s"] + parts["sync_penalty"] + parts["energy"] == pytest.approx(ev.objective, rel=1e-12)
        assert ev.objective - ev.controllable == pytest.approx(sd.constant)


def test_all_scorers_agree_on_the_same_decisions():
    """Evaluator, batch evaluator, TMA's seat costs and the per-server value
    function all compute the same I for the same decisions (to 1e-9)."""
    inst = random_instance(20, 5, seed=11)
    sd = slot_data(inst)
    rng = np.random.default_rng(0)
    assocs, ys, zs = zip(*[_random_decisions(sd, rng) for _ in range(6)])
    batch = evaluate_batch(sd, np.array(assocs), np.array(ys), np.array(zs))
    for k in range(6):
        single = evaluate(sd, assocs[k], ys[k], zs[k]).objective
        assert batch[k] == pytest.approx(single, rel=1e-12)
        seats = np.diag(seat_costs(sd, assocs[k], ys[k], zs[k])).sum() + sd.constant
        assert seats == pytest.approx(single, rel=1e-9)
    # exact allocation: the per-server value function equals the evaluator's score
    assoc = np.asarray(assocs[0])
    al = exact_allocation(sd, assoc)
    via_groups = group_values(sd, np.arange(sd.num_devices), assoc, assoc, sd.num_servers).sum() + sd.constant
    assert via_groups == pytest.approx(evaluate(sd, assoc, al.bandwidth_share, al.compute_share).objective, rel=1e-9)


def test_violations_are_reported_precisely():
    inst = random_instance(6, 2, seed=0)
    sd = slot_data(inst)
    assoc = np.array([0, 0, 0, 1, 1, 1])
    ok = uniform_allocation(sd, assoc)
    assert evaluate(sd, assoc, ok.bandwidth_share, ok.compute_share).feasible
    y = ok.bandwidth_share.copy()
    y[0] = 0.9
    msgs = evaluate(sd, assoc, y, ok.compute_share).violations
    assert any("bandwidth_share: server 0 hands out" in m for m in msgs)
    z = ok.compute_share.copy()
    z[4] = 0.0
    ev = evaluate(sd, assoc, ok.bandwidth_share, z)
    assert any("compute_share[4]: zero share" in m for m in ev.violations)
    assert ev.objective == np.inf
    ev = evaluate(sd, np.array([0, 0, 0, 1, 1, 2]), ok.bandwidth_share, ok.compute_share)
    assert ev.violations == ["association[5]: server 2 out of range 0..1"]
    assert np.isnan(ev.objective)
    assert evaluate(sd, assoc[:5], y[:5], y[:5]).violations[0].startswith("association: expected shape (6,)")


def test_no_path_pair_is_a_violation():
    inst = random_instance(4, 2, seed=0)
    inst.slots[0].gain_db[0, 1] = inst.params.gain_floor_db
    sd = slot_data(inst)
    assoc = np.array([1, 0, 0, 1])
    al = uniform_allocation(sd, assoc)
    msgs = evaluate(sd, assoc, al.bandwidth_share, al.compute_share).violations
    assert msgs == ["association[0]: server 1 has no usable link to device 0 "
                    "(no propagation path, or SNR below params.min_snr_db)"]


def test_links_below_the_coverage_threshold_are_unusable_except_the_best():
    inst = random_instance(5, 3, seed=1)
    g = inst.slots[0].gain_db
    g[0] = [-175.0, -170.0, -90.0]   # device 0: two links far below -5 dB SNR, one good
    g[1] = [-178.0, -176.0, -180.0]  # device 1: only weak links; its best (server 1) stays usable
    sd = slot_data(inst)
    assert sd.usable[0].tolist() == [False, False, True]
    assert sd.usable[1].tolist() == [False, True, False]
    snr_db = 10 * np.log10(sd.snr)
    assert np.all(sd.usable[snr_db >= inst.params.min_snr_db])
    loose = slot_data(inst.with_params(min_snr_db=-1000.0))
    assert loose.usable.all()
    from uara.solvers import get_solver
    for name in ("random", "max-compute", "tma", "brute-force"):
        sol = get_solver(name).solve(inst, seed=2)
        assert sol.feasible, (name, sol.violations)
        assert sol.slots[0].association[0] == 2 and sol.slots[0].association[1] == 1
