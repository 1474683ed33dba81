"""masac's actor trained by evolution strategies (uara.experiments.studies.policy_evolution, `uara train masac-es`):
the flat parameters and the checkpoint, the zero-action start, the rank-based gradient, determinism, resume,
and one-line errors."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from uara.cli import main  # noqa: E402
from uara.errors import UaraError  # noqa: E402
from uara.experiments.studies.action_headroom import action_objective  # noqa: E402
from uara.experiments.studies.policy_evolution import (  # noqa: E402
    AdamState, ESArgs, ScoredSlot, actor_action, centred_ranks, es_gradient, initial_parameters, parameter_shapes,
    relative_gains, save_es_policy, scored_slot, train_es)
from uara.model.formulation import slot_data  # noqa: E402
from uara.rl.environment import ACT_DIM, OBS_DIM, device_features  # noqa: E402
from uara.rl.policy import load_policy  # noqa: E402
from uara.scenario.random_instance import random_instance  # noqa: E402
from uara.solvers.p1.masac import paper_decision  # noqa: E402

TINY = dict(sizes=((12, 3), (16, 4)), iterations=4, pairs=2, batch_slots=2, eval_every=1, hidden=4)


def _size(hidden):
    return sum(int(np.prod(s)) for s in parameter_shapes(hidden))


def test_the_initial_actor_is_the_zero_action_and_gains_nothing():
    rng = np.random.default_rng(0)
    theta = initial_parameters(8, rng)
    obs = rng.normal(size=(30, OBS_DIM))
    assert theta.size == _size(8) and np.all(actor_action(theta, obs, 8) == 0.0)
    sd = slot_data(random_instance(14, 3, seed=2), 0)
    slot = scored_slot("s", sd, "paper")
    assert slot.zero_value == pytest.approx(action_objective(sd, "paper")(np.zeros((14, ACT_DIM))))
    assert relative_gains(theta, [slot], 8) == pytest.approx([0.0], abs=0.0)


def test_a_saved_es_policy_loads_as_a_masac_checkpoint_and_acts_like_the_parameters(tmp_path):
    """The flat vector -> Actor state dict mapping: load_policy's action equals actor_action's (float32)."""
    from uara.experiments.studies.policy_evolution import ESRun

    rng = np.random.default_rng(1)
    theta = rng.normal(scale=0.7, size=_size(6))
    run = ESRun(theta, 3, np.array([0.01, 0.02]), [{"iteration": 3}], 1.0, 4, 2)
    path = save_es_policy(tmp_path / "p.pt", run, ESArgs(hidden=6))
    pol = load_policy(path)
    inst = random_instance(20, 4, seed=5)
    sd = slot_data(inst, 0)
    obs = device_features(sd)
    np.testing.assert_allclose(pol.act(obs), actor_action(theta, obs.astype(float), 6), atol=2e-6)
    assert pol.trained_final_allocation == "policy" and pol.meta["args"]["algorithm"] == "es"
    # and masac runs it: the decision is paper_decision of that action
    from uara.solvers import get_solver
    from uara.solvers.base import SolveContext

    import time

    ctx = SolveContext(seed=0, slot=0, rng=np.random.default_rng(0), deadline=time.perf_counter() + 60, threads=1,
                       instance=inst)
    dec = get_solver("masac", policy=str(path)).solve_slot(sd, ctx)
    ref = paper_decision(sd, pol.act(obs))
    assert np.array_equal(dec.association, ref.association)


def test_centred_ranks_span_minus_half_to_half_in_score_order():
    r = centred_ranks(np.array([3.0, -1.0, 2.0, 10.0]))
    assert r.tolist() == pytest.approx([1 / 6, -0.5, -1 / 6, 0.5])


def test_the_es_gradient_points_uphill_on_a_quadratic():
    """A synthetic slot whose cost is 1 + ||A - A*||^2 (A* reachable through the mean head's bias): the
    estimate correlates with the true gradient and one Adam ascent step raises J."""
    hidden = 3
    target = np.array([0.4, -0.3])
    obs = np.ones((5, OBS_DIM))
    slot = ScoredSlot("toy", obs, lambda a: 1.0 + float(((a - target) ** 2).sum()), 1.0 + 5 * float((target ** 2).sum()))
    args = ESArgs(pairs=40, sigma=0.05, hidden=hidden)
    theta = initial_parameters(hidden, np.random.default_rng(0))
    grad, _ = es_gradient(theta, [slot], args, np.random.default_rng(1))
    b3 = slice(theta.size - ACT_DIM, theta.size)
    assert np.dot(grad[b3], target) > 0  # raising b3 along A* lowers the cost
    adam = AdamState(np.zeros(theta.size), np.zeros(theta.size))
    after = theta + adam.ascent_step(grad, 0.05)
    assert relative_gains(after, [slot], hidden)[0] > relative_gains(theta, [slot], hidden)[0]


def test_training_is_seeded_never_keeps_worse_than_the_zero_action_and_resumes_to_the_same_weights(tmp_path):
    straight = train_es(ESArgs(**TINY))
    again = train_es(ESArgs(**TINY))
    assert np.array_equal(straight.theta, again.theta) and straight.best_iteration == again.best_iteration
    assert straight.val_gains.mean() >= 0.0  # the zero-action start is kept unless validation improves on it
    assert [c["iteration"] for c in straight.curve] == [1, 2, 3, 4]
    resume = tmp_path / "r.resume"
    half = train_es(ESArgs(**{**TINY, "iterations": 2}), resume=resume)
    assert len(half.curve) == 2 and resume.is_file()
    with pytest.raises(UaraError, match="other arguments"):
        train_es(ESArgs(**{**TINY, "sigma": 0.1}), resume=resume)
    # a run of 4 iterations started from the 2-iteration file: the arguments differ in iterations only
    blob = torch.load(resume, weights_only=True)
    blob["args"]["iterations"] = 4
    torch.save(blob, resume)
    rest = train_es(ESArgs(**TINY), resume=resume)
    assert np.array_equal(rest.theta, straight.theta) and rest.best_iteration == straight.best_iteration
    assert [c["val_mean_gain"] for c in rest.curve] == [c["val_mean_gain"] for c in straight.curve]


def test_the_latency_objective_is_the_simulated_latency_of_the_decision():
    """objective='latency': f(A) is the event simulation's summed latency of masac's decision at A, with the
    tasks' own draft lengths (the same number score_configs gives server by server), positive and finite; a
    slot scored by it starts at gain 0 like the cost one."""
    from uara.experiments.studies.action_headroom import decision_latency_s
    from uara.experiments.studies.policy_evolution import instance_slot
    from uara.psd.server_configs import Config, score_configs, slot_tasks

    inst = random_instance(14, 3, seed=2)
    sd = slot_data(inst, 0)
    tasks = slot_tasks(inst, 0)
    action = np.random.default_rng(3).uniform(-1, 1, (14, ACT_DIM))
    dec = paper_decision(sd, action)
    by_server = 0.0
    for j in range(sd.num_servers):
        idx = np.flatnonzero(dec.association == j)
        lat = score_configs(tasks, [Config(j, idx, tasks.own_draft_length[idx], dec.bandwidth_share[idx],
                                           dec.compute_share[idx])])[0]
        by_server += float(lat.sum())
    value = action_objective(sd, "paper", tasks)(action)
    assert value == pytest.approx(by_server, rel=1e-12) and 0 < value < float("inf")
    assert value == decision_latency_s(tasks, dec.association, dec.bandwidth_share, dec.compute_share)
    # the latency differs from the cost: it is not I - C in disguise
    assert value != pytest.approx(action_objective(sd, "paper")(action), rel=1e-3)
    slot = instance_slot("s", inst, 0, "paper", "latency")
    assert slot.zero_value == pytest.approx(action_objective(sd, "paper", tasks)(np.zeros((14, ACT_DIM))))
    theta = initial_parameters(4, np.random.default_rng(0))
    assert relative_gains(theta, [slot], 4) == pytest.approx([0.0], abs=0.0)


def test_a_latency_run_is_seeded_and_records_its_objective(tmp_path):
    a = train_es(ESArgs(objective="latency", **{**TINY, "iterations": 2}))
    b = train_es(ESArgs(objective="latency", **{**TINY, "iterations": 2}))
    assert np.array_equal(a.theta, b.theta) and a.best_iteration == b.best_iteration
    assert a.val_gains.mean() >= 0.0
    pol = load_policy(save_es_policy(tmp_path / "lat.pt", a, ESArgs(objective="latency", **{**TINY, "iterations": 2})))
    assert pol.meta["args"]["objective"] == "latency"


@pytest.mark.parametrize("field, value, message", [
    ("semantics", "both", "--es-semantics must be one of paper, uara"),
    ("objective", "energy", "--es-objective must be one of cost, latency"),
    ("batch_slots", 0, "--es-batch-slots must be an integer >= 1"),
    ("sigma", float("nan"), "--es-sigma must be a positive number"),
    ("sizes", ((0, 3),), "--es-sizes needs M >= 1"),
    ("features", "all", "--es-features must be one of base, lookahead"),
])
def test_bad_es_arguments_get_one_line_errors_naming_the_flag(field, value, message):
    with pytest.raises(UaraError, match=message) as err:
        ESArgs(**{field: value}).check()
    assert "\n" not in str(err.value)


def test_lookahead_needs_the_paper_semantics():
    with pytest.raises(UaraError, match="--es-features lookahead .* needs --es-semantics paper"):
        ESArgs(features="lookahead", semantics="uara").check()


def test_swap_search_tracks_which_starting_seat_each_device_holds():
    """seats[i] = the device whose starting seat (server and shares) device i holds after Alg. 1's swaps."""
    from uara.rl.environment import policy_shares
    from uara.solvers.core.moves import masked_argmax, swap_search

    for seed in (0, 3):
        sd = slot_data(random_instance(40, 6, seed=seed), 0)
        start = masked_argmax(sd.snr, sd.usable)
        y0, z0 = policy_shares(sd, np.zeros((40, ACT_DIM)), start)
        seats = np.arange(40)
        assoc, y, z, swaps, _ = swap_search(sd, start, "uniform", None, shares=(y0, z0), seats=seats)
        assert swaps > 0 and sorted(seats) == list(range(40))
        assert np.array_equal(assoc, start[seats]) and np.array_equal(y, y0[seats]) and np.array_equal(z, z0[seats])


def test_lookahead_features_give_the_shares_the_final_occupant_of_each_seat_needs():
    """Seat s's shares scaled by 10^(first two look-ahead columns) are the exact allocation of the zero action's
    final association for the device that ends in seat s (where not clipped); the third column flags the seats
    that change hands."""
    from uara.model.allocation import exact_allocation
    from uara.rl.environment import LOOKAHEAD_FEATURES, policy_shares
    from uara.solvers.core.moves import masked_argmax
    from uara.solvers.p1.masac import lookahead_features, policy_observation

    sd = slot_data(random_instance(40, 6, seed=3), 0)
    look = lookahead_features(sd)
    assert look.shape == (40, len(LOOKAHEAD_FEATURES)) and np.isfinite(look).all()
    final = paper_decision(sd, np.zeros((40, ACT_DIM)))
    start = masked_argmax(sd.snr, sd.usable)
    y0, z0 = policy_shares(sd, np.zeros((40, ACT_DIM)), start)
    moved = look[:, 2] == 1.0
    assert moved.any() and not moved.all()
    seat_of = {(a, b): s for s, (a, b) in enumerate(zip(y0.tolist(), z0.tolist()))}
    occupant = np.empty(40, dtype=int)
    for i, key in enumerate(zip(final.bandwidth_share.tolist(), final.compute_share.tolist())):
        occupant[seat_of[key]] = i
    assert np.array_equal(moved, occupant != np.arange(40))
    ex = exact_allocation(sd, final.association)
    free = np.abs(look[:, :2]).max(axis=1) < 3.0
    np.testing.assert_allclose((y0 * 10 ** look[:, 0])[free], ex.bandwidth_share[occupant][free], rtol=1e-9)
    np.testing.assert_allclose((z0 * 10 ** look[:, 1])[free], ex.compute_share[occupant][free], rtol=1e-9)
    obs = policy_observation(sd, "lookahead")
    assert obs.shape == (40, OBS_DIM + 3) and np.array_equal(obs[:, :OBS_DIM], device_features(sd))


def test_a_lookahead_policy_saves_loads_and_runs_in_masac(tmp_path):
    """Trained on the look-ahead observation: the checkpoint records its 15 features, load_policy knows its set,
    and masac feeds it that observation (its decision is paper_decision of the parameters' action)."""
    import time

    from uara.solvers import get_solver
    from uara.solvers.base import SolveContext
    from uara.solvers.p1.masac import policy_observation

    args = ESArgs(features="lookahead", **{**TINY, "iterations": 2})
    run = train_es(args)
    assert run.theta.size == sum(int(np.prod(s)) for s in parameter_shapes(4, OBS_DIM + 3))
    pol = load_policy(save_es_policy(tmp_path / "look.pt", run, args))
    assert pol.feature_set == "lookahead" and pol.meta["obs_dim"] == OBS_DIM + 3
    inst = random_instance(20, 4, seed=5)
    sd = slot_data(inst, 0)
    obs = policy_observation(sd, "lookahead")
    np.testing.assert_allclose(pol.act(obs), actor_action(run.theta, obs.astype(float), 4), atol=2e-6)
    ctx = SolveContext(seed=0, slot=0, rng=np.random.default_rng(0), deadline=time.perf_counter() + 60, threads=1,
                       instance=inst)
    dec = get_solver("masac", policy=str(tmp_path / "look.pt")).solve_slot(sd, ctx)
    assert np.array_equal(dec.association, paper_decision(sd, pol.act(obs)).association)


def test_uara_train_masac_es_writes_a_policy_and_curve_and_refuses_a_stale_resume_file(tmp_path, capsys):
    out = tmp_path / "p.pt"
    flags = ["train", "masac-es", "--es-sizes", "12x3,16x4", "--es-iterations", "2", "--es-pairs", "1",
             "--es-batch-slots", "2", "--es-eval-every", "1", "--es-hidden", "4", "--output", str(out), "--no-progress"]
    assert main(flags) == 0
    assert out.is_file() and (tmp_path / "p_learning_curve.csv").read_text().startswith("iteration,")
    assert not (tmp_path / "p.pt.resume").exists()
    assert "trained masac-es (paper semantics)" in capsys.readouterr().out
    (tmp_path / "p.pt.resume").write_bytes(b"x")
    assert main(flags) != 0
    assert "pass --resume" in capsys.readouterr().err
    assert main(flags[:2] + ["--es-semantics", "none", "--output", str(tmp_path / "q.pt")]) != 0
    assert "--es-semantics must be one of" in capsys.readouterr().err


def test_swap_search_with_seats_keeping_their_shares_equals_recomputing_every_seat_cost():
    """The swap search gathers the starting seats' costs instead of recomputing them after every swap: the
    same swaps as a plain loop that recomputes seat_costs each time (bit for bit)."""
    from uara.rl.environment import policy_shares
    from uara.solvers.core.moves import masked_argmax, seat_costs, swap_search

    def reference(sd, assoc, y, z):
        assoc, y, z = assoc.copy(), y.copy(), z.copy()
        m, idx = sd.num_devices, np.arange(sd.num_devices)
        while True:
            cost = seat_costs(sd, assoc, y, z)
            own = cost[idx, idx]
            delta = cost + cost.T - own[:, None] - own[None, :]
            delta[assoc[:, None] == assoc[None, :]] = np.inf
            ok = sd.usable[:, assoc]
            delta[~(ok & ok.T)] = np.inf
            delta[~np.isfinite(delta)] = np.inf
            flat = int(np.argmin(delta))
            if not delta.flat[flat] < -1e-12 * max(1.0, float(np.abs(own).sum())):
                return assoc, y, z
            i, k = divmod(flat, m)
            for v in (assoc, y, z):
                v[i], v[k] = v[k], v[i]

    for seed in (1, 4):
        sd = slot_data(random_instance(50, 6, seed=seed), 0)
        start = masked_argmax(sd.snr, sd.usable)
        action = np.random.default_rng(seed).uniform(-1.0, 1.0, (50, ACT_DIM))
        y0, z0 = policy_shares(sd, action, start)
        got = swap_search(sd, start, "uniform", None, shares=(y0, z0))[:3]
        for a, b in zip(got, reference(sd, start, y0, z0)):
            assert np.array_equal(a, b)
