"""One path for "is this run honest?": `uara validate`, the comparison runner and episodes
reject the same tampered records with the same one-line message (uara.model.verify)."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import numpy as np
import pytest

from uara.errors import SolutionError
from uara.experiments.grid import RunSpec
from uara.experiments.table import validate_and_row
from uara.experiments.worker import RunResult
from uara.experiments.episode import rescore_episode, run_episode
from uara.io import dumps_json
from uara.model.instance import Instance
from uara.model.solution import Status, aggregate_status, relative_gap
from uara.model.verify import verify_solution
from uara.scenario.random_instance import random_instance
from uara.solvers import get_solver


def _wrong_fingerprint(rec: dict) -> None:
    rec["instance_fingerprint"] = "0" * 64


def _slot_objective(rec: dict) -> None:
    rec["slots"][0]["objective"] *= 1.01


def _shares_sum_to_1_1(rec: dict) -> None:
    slot = rec["slots"][0]
    assoc = np.asarray(slot["association"])
    j = int(assoc[0])
    on_j = assoc == j
    y = np.asarray(slot["bandwidth_share"], float)
    y[on_j] *= 1.1 / y[on_j].sum()
    slot["bandwidth_share"] = y.tolist()


TAMPERINGS = {"wrong fingerprint": _wrong_fingerprint, "one slot's objective": _slot_objective,
              "shares summing to 1.1": _shares_sum_to_1_1}


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    """A one-slot instance (so an episode's slot 0 is the static slot 0), its static solution and its episode."""
    inst = random_instance(8, 3, slots=1, seed=3)
    path = tmp_path_factory.mktemp("verify") / "inst.json"
    inst.save(path)
    inst = Instance.load(path)
    sol = get_solver("max-sinr").solve(inst, seed=0)
    static = json.loads(dumps_json(sol.to_dict()))
    episode = json.loads(dumps_json(run_episode(inst, "max-sinr", seed=0, latency=False).to_dict()))
    assert episode["slots"][0]["association"] == static["slots"][0]["association"]
    return path, inst, static, episode


def _via_validate(path, rec, tmp_path) -> str:
    f = tmp_path / "sol.json"
    f.write_text(json.dumps(rec))
    r = subprocess.run([sys.executable, "-m", "uara", "validate", str(f), "-i", str(path)], capture_output=True, text=True)
    assert r.returncode == 2, r.stdout + r.stderr
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    return r.stderr.strip().removeprefix("uara: error: ")


def _via_runner(path, inst, rec, mode: str) -> str:
    spec = RunSpec(str(path), inst.fingerprint(), "max-sinr", 0, mode=mode, latency=False)
    row = validate_and_row(RunResult(spec, rec, 0.1))
    assert row["status"] == "error" and row["feasible"] is False
    return row["error"].removeprefix("validation: ")


def _via_episode(inst, rec) -> str:
    with pytest.raises(SolutionError) as exc:
        rescore_episode(rec, inst)
    return str(exc.value)


@pytest.mark.parametrize("name", list(TAMPERINGS))
def test_validate_runner_and_episodes_reject_the_same_tampering_with_the_same_message(records, tmp_path, name):
    path, inst, static, episode = records
    tamper = TAMPERINGS[name]
    bad_static, bad_episode = copy.deepcopy(static), copy.deepcopy(episode)
    tamper(bad_static)
    tamper(bad_episode)
    messages = {
        "validate": _via_validate(path, bad_static, tmp_path),
        "runner": _via_runner(path, inst, bad_static, "static"),
        "runner (episode)": _via_runner(path, inst, bad_episode, "episode"),
        "episode": _via_episode(inst, bad_episode),
    }
    assert len(set(messages.values())) == 1, messages
    field = {"wrong fingerprint": "instance_fingerprint", "one slot's objective": "slots[0].objective",
             "shares summing to 1.1": "slots[0]: infeasible"}[name]
    assert messages["validate"].startswith(field), messages


def test_untampered_records_pass_everywhere(records, tmp_path):
    path, inst, static, episode = records
    assert verify_solution(static, inst).objective == pytest.approx(static["objective"], rel=1e-12)
    assert rescore_episode(episode, inst) == pytest.approx(episode["objective"], rel=1e-12)
    spec = RunSpec(str(path), inst.fingerprint(), "max-sinr", 0, latency=False)
    assert validate_and_row(RunResult(spec, static, 0.1))["status"] == "feasible"


@pytest.mark.parametrize("value, field", [
    (0.5, "slots[0].association[2]"), ("1", "slots[0].association[2]"), (True, "slots[0].association[2]"),
    (7, "slots[0].association[2]"),
])
def test_fractional_string_or_out_of_range_associations_are_rejected(records, value, field):
    _, inst, static, _ = records
    bad = copy.deepcopy(static)
    bad["slots"][0]["association"][2] = value
    with pytest.raises(SolutionError, match=field.replace("[", r"\[").replace("]", r"\]")):
        verify_solution(bad, inst)


def test_a_bound_above_the_incumbent_is_rejected(records):
    _, inst, static, _ = records
    bad = copy.deepcopy(static)
    bad["slots"][0]["lower_bound"] = bad["slots"][0]["objective"] * 1.001
    with pytest.raises(SolutionError, match=r"slots\[0\]\.lower_bound"):
        verify_solution(bad, inst)


def test_one_status_aggregation_and_one_gap():
    assert aggregate_status([Status.OPTIMAL, Status.OPTIMAL]) is Status.OPTIMAL
    assert aggregate_status([Status.OPTIMAL, Status.FEASIBLE]) is Status.FEASIBLE
    assert aggregate_status([Status.OPTIMAL, Status.ITERATION_LIMIT]) is Status.ITERATION_LIMIT
    assert aggregate_status([Status.TIME_LIMIT, Status.ERROR]) is Status.ERROR
    assert aggregate_status([]) is Status.FEASIBLE
    assert relative_gap(110.0, 100.0, 10.0) == pytest.approx(0.1)
    assert relative_gap(110.0, None, 10.0) is None
    assert relative_gap(100.0, 100.0 + 1e-12, 10.0) == 0.0


def test_solution_statuses_use_the_shared_aggregation(records):
    """An episode of a solver ending 'optimal' on every slot is 'optimal' (episodes used to say 'feasible')."""
    _, inst, _, _ = records
    ep = run_episode(inst, "brute-force", seed=0, latency=False)
    assert ep.status is Status.OPTIMAL
