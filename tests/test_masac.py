"""TMA-MASAC: environment API, learning on a tiny instance, solver feasibility, checkpoints."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from uara.rl.environment import ACT_DIM, OBS_DIM, UARAEnv, decide, device_features  # noqa: E402
from uara.model.evaluator import evaluate  # noqa: E402
from uara.model.formulation import slot_data  # noqa: E402
from uara.model.instance import Instance  # noqa: E402
from uara.rl.policy import Actor, load_policy, save_policy  # noqa: E402
from uara.rl.train_args import MASACArgs  # noqa: E402
from uara.rl.trainer import evaluate_policy, make_instances, train  # noqa: E402
from uara.solvers import get_solver  # noqa: E402
from uara.scenario.random_instance import random_instance


@pytest.fixture(scope="module")
def tiny() -> list[Instance]:
    return [random_instance(12, 3, slots=4, seed=s) for s in range(2)]


def test_env_reset_step_shapes(tiny):
    env = UARAEnv(tiny, seed=0)
    obs, info = env.reset(seed=3, options={"instance": 1})
    assert obs.shape == (12, OBS_DIM) and obs.dtype == np.float32 and np.isfinite(obs).all()
    assert info["index"] == 1
    if hasattr(env, "action_space"):
        assert env.action_space.shape == (12, ACT_DIM)
    steps = 0
    done = False
    while not done:
        obs, r, done, trunc, info = env.step(np.zeros((12, ACT_DIM)))
        assert obs.shape == (12, OBS_DIM) and np.isfinite(r) and -10 < r < 0 and info["feasible"]
        steps += 1
    assert steps == tiny[1].num_slots
    with pytest.raises(ValueError):
        UARAEnv([], seed=0)


def test_env_deterministic_for_a_seed(tiny):
    def rollout(seed):
        env = UARAEnv(tiny, seed=seed)
        rng = np.random.default_rng(seed)
        obs, _ = env.reset(seed=seed)
        out = []
        done = False
        while not done:
            obs, r, done, _, info = env.step(rng.uniform(-1, 1, (obs.shape[0], ACT_DIM)))
            out.append((r, info["baseline"], obs.sum()))
        return out

    assert rollout(5) == rollout(5)
    assert rollout(5) != rollout(6)


def test_battery_and_backlog_roll_forward(tiny):
    env = UARAEnv(tiny, seed=0)
    env.reset(options={"instance": 0})
    b0 = env.state.battery.copy()
    env.step(np.zeros((12, ACT_DIM)))
    assert (env.state.battery < b0).all()  # every device spent E^CP + E^CM


def test_zero_action_is_exact_allocation_for_its_association():
    from uara.model.allocation import exact_allocation

    inst = random_instance(40, 5, seed=2)
    sd = slot_data(inst, 0)
    dec = decide(sd, np.zeros((40, ACT_DIM)))
    ex = exact_allocation(sd, dec.association)
    np.testing.assert_allclose(dec.compute_share, ex.compute_share, rtol=1e-9)
    np.testing.assert_allclose(dec.bandwidth_share, ex.bandwidth_share, rtol=1e-6)


def test_training_improves_over_untrained_policy(tmp_path):
    # Premise: the untrained actor's corrections are spread over the action range (init_scale 3) and,
    # with final_allocation="policy", they distort the allocation (~6 % worse than the zero action).
    # Training must remove a real part of that, measured on instances neither training nor the
    # keep-best selection saw (so picking the best checkpoint is not what passes the test).
    args = MASACArgs(
        seed=1, total_steps=600, learning_starts=100, eval_every=100, batch_size=32, train_instances=4,
        train_m=(12,), train_e=(3,), train_slots=4, eval_sizes=((12, 3), (16, 4)), eval_slots=4,
        final_allocation="policy", init_scale=3.0, preset="paper-literal",  # the scenario it was measured on
    )
    _, evals = make_instances(args)
    torch.manual_seed(args.seed)
    untrained = Actor(hidden=args.hidden, init_scale=args.init_scale)  # the same initial weights train() starts from
    act0 = lambda o: torch.tanh(untrained(torch.as_tensor(o))[0]).detach().numpy().astype(float)  # noqa: E731
    before = evaluate_policy(act0, evals, args)
    res = train(args, output=tmp_path / "p.pt", progress=False)
    assert res.curve[0]["eval_reward"] == pytest.approx(before["reward"])
    # keep-best: the output is the best evaluation (earliest on ties), the last policy sits next to it
    rewards = [row["eval_reward"] for row in res.curve]
    k_best = int(np.argmax(rewards))
    assert res.best_step == res.curve[k_best]["step"] and res.best_reward == pytest.approx(rewards[k_best])
    best = load_policy(tmp_path / "p.pt")
    last = load_policy(tmp_path / "p.pt.last")
    assert best.meta["step"] == res.best_step and last.meta["step"] == res.curve[-1]["step"]
    assert evaluate_policy(best.act, evals, args)["reward"] == pytest.approx(max(rewards))
    assert evaluate_policy(last.act, evals, args)["reward"] == pytest.approx(rewards[-1])
    # Real learning, on fresh instances: measured 3.0 % better than untrained, 52 % of the way to the zero action.
    test = [random_instance(m, e, slots=4, seed=555 + k, preset="paper-literal")
            for k, (m, e) in enumerate(((12, 3), (16, 4), (14, 3)))]
    r0 = evaluate_policy(act0, test, args)["reward"]
    r1 = evaluate_policy(best.act, test, args)["reward"]
    rz = evaluate_policy(lambda o: np.zeros((o.shape[0], ACT_DIM)), test, args)["reward"]
    assert r0 < rz
    assert r1 - r0 > 0.02 * abs(r0), (r0, r1, rz)
    assert r1 - r0 > 0.4 * (rz - r0), (r0, r1, rz)


def test_final_allocation_modes():
    from uara.model.allocation import exact_allocation

    inst = random_instance(50, 6, seed=4)
    sd = slot_data(inst, 0)
    act = np.random.default_rng(0).uniform(-1, 1, (50, ACT_DIM))
    pol = decide(sd, act, final_allocation="policy")
    ex = decide(sd, act, final_allocation="exact")
    np.testing.assert_array_equal(pol.association, ex.association)  # the action steers the same association
    ref = exact_allocation(sd, ex.association)
    np.testing.assert_allclose(ex.bandwidth_share, ref.bandwidth_share)
    np.testing.assert_allclose(ex.compute_share, ref.compute_share)
    i_pol = evaluate(sd, pol.association, pol.bandwidth_share, pol.compute_share).objective
    i_ex = evaluate(sd, ex.association, ex.bandwidth_share, ex.compute_share).objective
    assert i_ex <= i_pol + 1e-9 * abs(i_pol)  # exact is optimal for the association
    with pytest.raises(ValueError):
        decide(sd, act, final_allocation="nope")
    for mode in ("policy", "exact"):
        assert get_solver("masac-uara", zero_action=True, final_allocation=mode).solve(inst).feasible
    with pytest.raises(ValueError):
        get_solver("masac-uara", final_allocation="nope")


def test_paper_semantics_is_the_policys_shares_then_pairwise_swaps():
    """``masac`` as the paper runs it: the policy's Y, Z on the Max-SINR association, then TMA's seat swaps;
    swaps keep each server's device count and the seats' shares, and I never rises above the start."""
    from uara.rl.environment import policy_shares
    from uara.solvers.core.moves import masked_argmax

    inst = random_instance(40, 5, seed=3)
    sd = slot_data(inst, 0)
    sol = get_solver("masac", zero_action=True).solve(inst)
    dec = sol.slots[0]
    start = masked_argmax(sd.snr, sd.usable)
    y0, z0 = policy_shares(sd, np.zeros((40, ACT_DIM)), start)
    np.testing.assert_array_equal(np.bincount(dec.association, minlength=5), np.bincount(start, minlength=5))
    np.testing.assert_allclose(np.sort(dec.bandwidth_share), np.sort(y0))  # seats moved, shares kept
    np.testing.assert_allclose(np.sort(dec.compute_share), np.sort(z0))
    i0 = evaluate(sd, start, y0, z0).objective
    assert sol.evaluations[0].objective <= i0 and dec.info["swaps"] > 0
    # the zero-action prior's shares are decide()'s policy-allocation shares on the same association
    ref = decide(sd, np.zeros((40, ACT_DIM)), final_allocation="policy", max_moves=0)
    np.testing.assert_allclose(y0, ref.bandwidth_share)
    np.testing.assert_allclose(z0, ref.compute_share)


def test_checkpoint_round_trip(tmp_path):
    args = MASACArgs(hidden=16)
    torch.manual_seed(0)
    actor = Actor(hidden=16)
    path = save_policy(tmp_path / "a.pt", actor, args, {"step": 7})
    pol = load_policy(path)
    obs = np.random.default_rng(0).normal(size=(9, OBS_DIM)).astype(np.float32)
    with torch.no_grad():
        expect = torch.tanh(actor(torch.as_tensor(obs))[0]).numpy()
    np.testing.assert_allclose(pol.act(obs), expect, rtol=1e-6)
    assert pol.meta["step"] == 7 and pol.meta["hidden"] == 16
    (tmp_path / "bad.pt").write_text("nope")
    with pytest.raises(ValueError):
        load_policy(tmp_path / "bad.pt")
    with pytest.raises(ValueError):
        load_policy(tmp_path / "missing.pt")


def test_one_policy_feasible_on_several_sizes(tmp_path):
    torch.manual_seed(0)
    path = save_policy(tmp_path / "p.pt", Actor(), MASACArgs())
    solver = get_solver("masac", policy=str(path))
    for m, e in ((30, 4), (60, 8), (97, 13), (180, 20)):
        inst = random_instance(m, e, slots=2, seed=m)
        sol = solver.solve(inst, seed=0)
        assert sol.feasible, sol.violations
        for t, dec in enumerate(sol.slots):
            sd = slot_data(inst, t)
            ev = evaluate(sd, dec.association, dec.bandwidth_share, dec.compute_share)
            assert ev.feasible
            sums = np.bincount(dec.association, weights=dec.bandwidth_share, minlength=e)
            assert (sums <= 1 + 1e-9).all()
            assert device_features(sd).shape == (m, OBS_DIM)


def test_shipped_policy_loads_by_default():
    from uara.solvers.p1.masac import default_policy_path

    if not default_policy_path().is_file():
        pytest.skip("no shipped policy in this checkout")
    inst = random_instance(30, 4, seed=0)
    sol = get_solver("masac").solve(inst)
    assert sol.feasible


def test_each_masac_back_end_loads_its_own_shipped_policy():
    """masac (the paper's semantics) loads policies/masac.pt, masac-uara policies/masac_uara.pt; each was trained
    under its own semantics, and the checkpoint says which (results/masac/README.md)."""
    from uara.solvers.p1.masac import default_policy_path, default_uara_policy_path

    if not (default_policy_path().is_file() and default_uara_policy_path().is_file()):
        pytest.skip("no shipped policies in this checkout")
    paper, uara_ = get_solver("masac"), get_solver("masac-uara")
    assert paper.policy().meta["args"]["final_allocation"] == "policy"
    assert uara_.policy().meta["args"]["final_allocation"] == "exact"
    assert default_uara_policy_path().name == "masac_uara.pt" and default_policy_path().name == "masac.pt"


def test_missing_policy_is_one_line_error(tmp_path):
    from uara.errors import SolverError

    with pytest.raises(SolverError, match="no policy checkpoint"):
        get_solver("masac", policy=str(tmp_path / "nope.pt")).solve(random_instance(10, 2, seed=0))


def test_train_flags_are_generated_from_the_dataclass():
    """Every MASACArgs field is a `uara train` flag with its docstring as help; values round-trip."""
    import argparse
    from dataclasses import fields

    from uara.cli import build_parser
    from uara.cli.train import hyperparameters
    from uara.rl.train_args import field_docs

    parser = build_parser()
    args = parser.parse_args(["train", "masac", "--steps", "7", "--gamma", "0.5", "--no-autotune",
                              "--train-m", "10,20", "--eval-sizes", "10x2,20x3"])
    hp = hyperparameters(args)
    assert hp.total_steps == 7 and hp.gamma == 0.5 and hp.autotune is False
    assert hp.train_m == (10, 20) and hp.eval_sizes == ((10, 2), (20, 3))
    assert hp.hidden == MASACArgs().hidden  # unset flags keep the dataclass defaults
    docs = field_docs(MASACArgs)
    assert docs["gamma"] == "discount per slot"
    sub = next(a for a in parser._subparsers._group_actions[0].choices.values() if a.prog.endswith("train"))
    dests = {a.dest for a in sub._actions}
    assert {f"hp_{f.name}" for f in fields(MASACArgs)} <= dests
    with pytest.raises(Exception, match="--batch-size must be >= 1"):
        hyperparameters(parser.parse_args(["train", "masac", "--batch-size", "0"]))
    assert isinstance(args, argparse.Namespace)
