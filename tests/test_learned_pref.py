"""The learned-preference solver (learned-pref): pair features, priced insertion, the decision, imitation
training, the checkpoint, the teacher file and `uara train pref`."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from uara.cli import main  # noqa: E402
from uara.errors import UaraError  # noqa: E402
from uara.model.allocation import exact_allocation, group_values  # noqa: E402
from uara.model.evaluator import evaluate  # noqa: E402
from uara.model.formulation import slot_data  # noqa: E402
from uara.rl.imitation import ImitationArgs, make_examples, nll_and_accuracy, train_preferences  # noqa: E402
from uara.rl.pair_features import PAIR_DIM, PAIR_FEATURES, pair_features, zero_preferences  # noqa: E402
from uara.rl.preference import PreferenceNet, load_preference_policy, save_preference_policy  # noqa: E402
from uara.scenario.random_instance import random_instance  # noqa: E402
from uara.solvers import get_solver  # noqa: E402
from uara.solvers.core.insertion import insertion_costs, priced_insertion  # noqa: E402
from uara.solvers.p1.masac import default_preference_path, preference_decision  # noqa: E402


def _slot(m=14, e=4, seed=3, slot=0):
    inst = random_instance(m, e, slots=1, seed=seed)
    return inst, slot_data(inst, slot)


def _value(sd, assoc):
    al = exact_allocation(sd, assoc)
    return evaluate(sd, assoc, al.bandwidth_share, al.compute_share).objective - sd.constant


def test_pair_features_are_finite_zero_off_the_usable_pairs_and_relative_to_the_best_server():
    _, sd = _slot(40, 6, seed=8)
    x, mask = pair_features(sd)
    assert x.shape == (40, 6, PAIR_DIM) and x.dtype == np.float32 and np.isfinite(x).all()
    np.testing.assert_array_equal(mask, sd.usable & np.isfinite(sd.uplink_s_full))
    assert np.all(x[~mask] == 0.0)
    for name in ("log_b_rel", "log_s_rel", "log_join_rel"):
        col = x[..., PAIR_FEATURES.index(name)]
        np.testing.assert_allclose(np.where(mask, col, np.inf).min(axis=1), 0.0, atol=1e-6)
        assert (col[mask] >= -1e-6).all()
    best = sd.max_sinr_association()
    assert (x[np.arange(40), best, PAIR_FEATURES.index("is_max_sinr")] == 1).all()
    np.testing.assert_array_equal(np.where(mask, zero_preferences(sd), -np.inf).argmax(axis=1), best)


def test_insertion_costs_of_an_empty_system_are_the_exact_single_device_values():
    _, sd = _slot(12, 3, seed=5)
    m, e = sd.num_devices, sd.num_servers
    join = insertion_costs(sd, np.arange(m), np.zeros(e), np.zeros(e))
    for j in range(e):
        ok = sd.usable[:, j]
        exact = group_values(sd, np.flatnonzero(ok), np.full(ok.sum(), j), np.arange(ok.sum()), int(ok.sum()))
        np.testing.assert_allclose(join[ok, j], exact, rtol=1e-9)
        assert np.isinf(join[~ok, j]).all()


def test_priced_insertion_stays_within_the_candidates_and_one_candidate_forces_the_association():
    _, sd = _slot(30, 5, seed=2)
    rng = np.random.default_rng(0)
    usable = sd.usable & np.isfinite(sd.uplink_s_full)
    forced = np.array([rng.choice(np.flatnonzero(u)) for u in usable])
    one = np.zeros_like(usable)
    one[np.arange(30), forced] = True
    np.testing.assert_array_equal(priced_insertion(sd, one), forced)
    two = one.copy()
    for i in range(30):
        two[i, rng.choice(np.flatnonzero(usable[i]))] = True
    assoc = priced_insertion(sd, two, chunk=1)
    assert two[np.arange(30), assoc].all()
    with pytest.raises(ValueError, match="no usable candidate"):
        priced_insertion(sd, np.zeros_like(usable))


def test_the_decision_is_feasible_and_a_local_optimum_of_single_moves_when_every_server_is_a_candidate():
    _, sd = _slot(10, 3, seed=11)
    dec = preference_decision(sd, zero_preferences(sd), candidates=sd.num_servers, swaps=False)
    ev = evaluate(sd, dec.association, dec.bandwidth_share, dec.compute_share)
    assert not ev.violations
    base = ev.objective - sd.constant
    for i in range(sd.num_devices):
        for j in np.flatnonzero(sd.usable[i]):
            a = dec.association.copy()
            a[i] = j
            assert _value(sd, a) >= base - 1e-9 * abs(base)


def test_imitation_learns_a_teacher_that_is_a_function_of_the_features():
    """Teacher = Max-SINR (the argmax of a feature): the network must reproduce it on held-out slots."""
    pairs, groups = [], []
    for seed in range(12):
        _, sd = _slot(20, 4, seed=100 + seed)
        pairs.append((sd, sd.max_sinr_association()))
        groups.append(f"s{seed}")
    examples = make_examples(pairs, groups)
    untrained, _ = nll_and_accuracy(PreferenceNet(), examples)
    res = train_preferences(examples, ImitationArgs(steps=300, eval_every=100, val_fraction=0.25, lr=1e-2))
    _, acc = nll_and_accuracy(res.net, examples)
    assert acc > 0.95 and res.curve[-1]["val_accuracy"] > 0.9
    assert res.curve[-1]["val_nll"] < float(untrained.detach())
    with pytest.raises(UaraError, match="unusable pair"):
        sd0, assoc = pairs[0]
        bad = assoc.copy()
        bad[0] = int(np.flatnonzero(~sd0.usable[0])[0]) if (~sd0.usable[0]).any() else sd0.num_servers
        make_examples([(sd0, bad)], ["x"])


def test_checkpoint_round_trip_and_one_line_errors(tmp_path):
    net = PreferenceNet(hidden=(8,))
    path = save_preference_policy(tmp_path / "p.pt", net, {"note": "t"})
    pol = load_preference_policy(path)
    _, sd = _slot()
    with torch.no_grad():
        x, mask = pair_features(sd)
        want = np.where(mask, net(torch.as_tensor(x)).numpy(), -np.inf)
    np.testing.assert_allclose(pol.preferences(sd), want, rtol=1e-6)
    assert pol.meta["note"] == "t"
    blob = torch.load(path, weights_only=True)
    blob["features"] = ["other"]
    torch.save(blob, tmp_path / "q.pt")
    with pytest.raises(UaraError, match="other features"):
        load_preference_policy(tmp_path / "q.pt")
    (tmp_path / "r.pt").write_text("not a checkpoint")
    with pytest.raises(UaraError, match="cannot read preference checkpoint"):
        load_preference_policy(tmp_path / "r.pt")


def test_the_shipped_checkpoint_loads_and_its_solver_is_feasible_and_never_worse_than_its_insertion():
    pol = load_preference_policy(default_preference_path())
    assert pol.meta["teacher"] == "relax" and pol.meta["examples"] > 0
    inst, sd = _slot(40, 6, seed=77)
    dec = get_solver("learned-pref").solve_slot(sd, _ctx(inst))
    ev = evaluate(sd, dec.association, dec.bandwidth_share, dec.compute_share)
    assert not ev.violations
    prefs = pol.preferences(sd)
    from uara.solvers.core.local_search import candidate_mask

    start = priced_insertion(sd, candidate_mask(-prefs, np.isfinite(prefs), 3))
    assert ev.objective - sd.constant <= _value(sd, start) + 1e-9


def _ctx(inst):
    from uara.solvers.base import SolveContext

    return SolveContext(seed=0, slot=0, rng=np.random.default_rng(0), deadline=None, threads=1, instance=inst)


def test_uara_train_pref_resumes_its_teacher_file_and_its_policy_solves(tmp_path, capsys):
    teacher, out = tmp_path / "t.json", tmp_path / "p.pt"
    argv = ["train", "pref", "--pref-sizes", "12x3", "--pref-seeds", "5,6", "--pref-slots", "1", "--pref-steps",
            "20", "--teacher-limit", "3", "--teacher-file", str(teacher), "--output", str(out), "--no-progress"]
    assert main(argv) == 0
    doc = json.loads(teacher.read_text())
    assert len(doc["rows"]) == 2 and doc["teacher"] == "relax"
    capsys.readouterr()
    assert main(argv) == 0  # every row is there: nothing is solved again
    assert "[1/" not in capsys.readouterr().out
    other = [v if v != "3" else "4" for v in argv]  # --teacher-limit 4: another teacher run, refused
    assert main(other) != 0
    err = capsys.readouterr().err.strip()
    assert "pass the same --teacher and --teacher-limit" in err and len(err.splitlines()) == 1
    inst = random_instance(12, 3, slots=1, seed=9)
    inst.save(tmp_path / "i.json")
    assert main(["solve", str(tmp_path / "i.json"), "--solver", "learned-pref", "-o", f"policy={out}",
                 "--output", str(tmp_path / "s.json")]) == 0
    assert main(["validate", "--instance", str(tmp_path / "i.json"), str(tmp_path / "s.json")]) == 0


@pytest.mark.parametrize("flags, message", [
    (["--pref-sizes", "12by3"], "--pref-sizes"),
    (["--pref-seeds", "a"], "--pref-seeds"),
    (["--teacher-limit", "3", "--teacher", "relax", "--pref-slots", "0"], "--pref-slots"),
])
def test_uara_train_pref_refuses_bad_flags_in_one_line(tmp_path, capsys, flags, message):
    code = main(["train", "pref", "--teacher-file", str(tmp_path / "t.json"), "--output", str(tmp_path / "p.pt"),
                 *flags])
    err = capsys.readouterr().err.strip()
    assert code != 0 and message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "p.pt").exists() and not (tmp_path / "t.json").exists()


def _insertion_repricing_everything(sd, candidates, chunk):
    """Reference: priced insertion that re-prices every server after each chunk."""
    from uara.solvers.core.insertion import insertion_order

    m, e = sd.num_devices, sd.num_servers
    order = insertion_order(sd)
    root = np.sqrt(sd.server_work_s)
    total, mu, assoc = np.zeros(e), np.zeros(e), np.full(m, -1)
    for start in range(0, m, chunk):
        ids = order[start:start + chunk]
        best = np.where(candidates[ids], insertion_costs(sd, ids, total, mu), np.inf).argmin(axis=1)
        assoc[ids] = best
        np.add.at(total, best, root[ids, best])
        placed = order[:start + len(ids)]
        _, mu = group_values(sd, placed, assoc[placed], assoc[placed], e, return_prices=True)
    return assoc


@pytest.mark.parametrize("chunk", [1, 3])
def test_priced_insertion_reprices_only_what_changed_and_gets_the_same_association(chunk):
    from uara.solvers.core.local_search import candidate_mask

    _, sd = _slot(40, 6, seed=21)
    r = zero_preferences(sd)
    cand = candidate_mask(-r, np.isfinite(r), 3)
    np.testing.assert_array_equal(priced_insertion(sd, cand, chunk=chunk), _insertion_repricing_everything(sd, cand, chunk))


def test_learned_pref_refuses_bad_options_in_one_line():
    from uara.errors import SolverError

    for opts, word in (({"search": "everywhere"}, "option search"), ({"candidates": 0}, "option candidates"),
                       ({"max_steps": -1}, "option max_steps")):
        with pytest.raises(SolverError, match=word):
            get_solver("learned-pref", **opts)
