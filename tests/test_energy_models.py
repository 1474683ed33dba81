"""The two energy models (params.energy_model): eq. 8 as printed and transmit power x uplink time.

Every back-end must score identically under both (the evaluator re-scores each solution), the exact
ones must agree with brute force, and the closed-form allocation must match a generic optimiser.
"""

from __future__ import annotations

import numpy as np
import pytest

import uara
from uara.errors import InstanceError
from uara.model.allocation import exact_allocation, uplink_time
from uara.model.evaluator import evaluate
from uara.model.formulation import slot_data
from uara.model.instance import Instance
from uara.model.verify import verify_solution
from uara.rl.environment import decide

MODELS = ("paper", "physical")


def _tiny(seed: int, model: str, m: int = 6, e: int = 3) -> Instance:
    return uara.random_instance(m, e, seed=seed, slots=2).with_params(energy_model=model)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_exact_back_ends_equal_brute_force(model: str, seed: int) -> None:
    inst = _tiny(seed, model)
    brute = uara.solve(inst, "brute-force").objective
    for name in ("exact", "price"):
        sol = uara.solve(inst, name)
        verify_solution(sol.to_dict(), inst)
        assert sol.objective == pytest.approx(brute, rel=1e-9), name
    for name in ("tma", "max-sinr", "max-compute", "relax", "masac"):
        sol = uara.solve(inst, name)
        verify_solution(sol.to_dict(), inst)  # stored objective == evaluator's re-score (1e-9)
        assert sol.objective >= brute * (1 - 1e-12), name
    relax = uara.solve(inst, "relax")
    assert relax.lower_bound <= brute * (1 + 1e-12)


def test_models_differ_and_energy_is_counted_as_stated() -> None:
    inst = _tiny(4, "paper")
    phys = inst.with_params(energy_model="physical")
    sd_paper, sd_phys = slot_data(inst, 0), slot_data(phys, 0)
    assoc = np.where(sd_paper.usable, sd_paper.snr, -np.inf).argmax(axis=1)
    rows = np.arange(sd_paper.num_devices)
    for sd in (sd_paper, sd_phys):
        alloc = exact_allocation(sd, assoc)
        ev = evaluate(sd, assoc, alloc.bandwidth_share, alloc.compute_share)
        uplink_s = sd.uplink_s_full[rows, assoc] / alloc.bandwidth_share
        if sd.energy_model == "paper":
            comm = sd.energy_cm_j_per_share * alloc.bandwidth_share  # delta_CM (y W_j / 1e6) P_i
        else:
            comm = sd.comm_power_w * uplink_s  # P_i T_i
        np.testing.assert_allclose(ev.energy_j, sd.energy_cp_j + comm, rtol=1e-12)
        np.testing.assert_allclose(ev.terms.energy_comm, sd.energy_weight * comm / sd.battery, rtol=1e-12)
    assert np.all(sd_phys.energy_cost == 0) and np.all(sd_phys.uplink_energy_price > 0)
    assert np.all(sd_paper.uplink_energy_price == 0)


@pytest.mark.parametrize("model", MODELS)
def test_exact_allocation_matches_a_generic_optimiser(model: str) -> None:
    """One server's bandwidth problem in t-space (convex under both models) solved by SLSQP."""
    scipy_optimize = pytest.importorskip("scipy.optimize")
    inst = _tiny(5, model, m=5, e=1)
    sd = slot_data(inst, 0)
    assoc = np.zeros(sd.num_devices, dtype=int)
    alloc = exact_allocation(sd, assoc)
    a, b, c, p, lam = sd.device_s, sd.uplink_s_full[:, 0], sd.energy_cost[:, 0], sd.uplink_energy_price, sd.lam

    def cost(t: np.ndarray) -> float:
        return float(np.sum(lam * (a - t) ** 2 + c * b / t + p * t))

    res = scipy_optimize.minimize(
        cost, b / (np.full_like(b, 1.0 / b.size)), method="SLSQP", bounds=[(bi, None) for bi in b],
        constraints=[{"type": "ineq", "fun": lambda t: 1.0 - np.sum(b / t)}], options={"ftol": 1e-15, "maxiter": 1000},
    )
    ours = cost(b / alloc.bandwidth_share)
    assert ours <= res.fun + 1e-9 * abs(res.fun)
    assert ours == pytest.approx(res.fun, rel=1e-7)


def test_uplink_time_with_a_negative_sync_target() -> None:
    rng = np.random.default_rng(0)
    a = -(10.0 ** rng.uniform(-4, 3, 400))
    k = 10.0 ** rng.uniform(-12, 6, 400)
    t = uplink_time(a, 2.0 * 0.01 * k, np.ones_like(a), 0.01, np.zeros_like(a))
    assert np.all(t > 0)
    np.testing.assert_allclose(t * t * (t - a), k, rtol=1e-12)


@pytest.mark.parametrize("model", MODELS)
def test_masac_zero_action_is_the_exact_allocation(model: str) -> None:
    sd = slot_data(_tiny(6, model, m=8, e=3), 0)
    dec = decide(sd, np.zeros((sd.num_devices, 2)))
    alloc = exact_allocation(sd, dec.association)
    np.testing.assert_allclose(dec.bandwidth_share, alloc.bandwidth_share, rtol=1e-9)
    np.testing.assert_allclose(dec.compute_share, alloc.compute_share, rtol=1e-9)


def test_energy_model_round_trip_and_errors() -> None:
    inst = _tiny(0, "physical")
    again = Instance.from_dict(inst.to_dict())
    assert again.params.energy_model == "physical" and again.fingerprint() == inst.fingerprint()
    assert "energy_model" not in _tiny(0, "paper").to_dict()["params"]
    assert _tiny(0, "paper").fingerprint() != inst.fingerprint()
    with pytest.raises(InstanceError, match=r"params\.energy_model.*unknown energy model 'joules'"):
        inst.with_params(energy_model="joules")
    bad = inst.to_dict()
    bad["params"]["energy_model"] = 3
    with pytest.raises(InstanceError, match=r"params\.energy_model"):
        Instance.from_dict(bad)


def test_comparison_grid_sweeps_the_energy_model() -> None:
    from uara.errors import UaraError
    from uara.experiments.grid import parse_param_grid

    grid = parse_param_grid(["energy_weight=20,40", "energy_model=paper,physical"])
    assert grid == [{"energy_weight": 20.0, "energy_model": "paper"}, {"energy_weight": 20.0, "energy_model": "physical"},
                    {"energy_weight": 40.0, "energy_model": "paper"}, {"energy_weight": 40.0, "energy_model": "physical"}]
    with pytest.raises(UaraError, match="values must be numbers"):
        parse_param_grid(["energy_weight=heavy"])
    with pytest.raises(InstanceError, match="unknown energy model"):
        _tiny(0, "paper").with_params(**parse_param_grid(["energy_model=joules"])[0])
