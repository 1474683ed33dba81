"""Episodes: the state rolls forward with the solver's own decisions; records re-score independently."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from uara.cli import main
from uara.model.dynamics import roll_forward
from uara.experiments.episode import rescore_episode, run_episode, slot_seed
from uara.errors import SolutionError
from uara.model.instance import Instance
from uara.scenario.random_instance import random_instance


@pytest.fixture
def inst() -> Instance:
    return random_instance(6, 2, slots=4, seed=5, name="ep")


def test_episode_rolls_state_with_own_decisions(inst: Instance) -> None:
    ep = run_episode(inst, "tma", seed=0, latency=False)
    assert len(ep.slots) == 4
    np.testing.assert_allclose(ep.slots[0].battery, inst.slots[0].battery)
    for a, b in zip(ep.slots, ep.slots[1:]):
        dec = a.solution.slots[0]
        state = replace(inst.slots[a.t], battery=a.battery, queue_s=a.queue_s)
        out = roll_forward(inst, state, dec.association, dec.bandwidth_share)
        np.testing.assert_allclose(b.battery, np.maximum(out.next_battery, 1e-3))
        np.testing.assert_allclose(b.queue_s, out.next_queue_s)
        assert (b.battery <= a.battery + 1e-15).all()  # batteries only drain
    data = json.loads(json.dumps(ep.to_dict()))
    assert rescore_episode(data, inst) == pytest.approx(ep.objective, rel=1e-12)
    # a different method drains differently: the state depends on the decisions
    ep2 = run_episode(inst, "max-sinr", seed=0, latency=False)
    assert not np.array_equal(ep2.slots[-1].battery, ep.slots[-1].battery)


def test_tampered_episode_is_rejected(inst: Instance) -> None:
    data = json.loads(json.dumps(run_episode(inst, "max-sinr+exact", latency=False).to_dict()))
    bad = json.loads(json.dumps(data))
    bad["slots"][2]["state"]["battery"][0] = 1.0
    with pytest.raises(SolutionError, match="does not follow"):
        rescore_episode(bad, inst)
    bad = json.loads(json.dumps(data))
    bad["slots"][1]["objective"] += 1.0
    with pytest.raises(SolutionError, match="evaluator computes"):
        rescore_episode(bad, inst)


def test_episode_seeds(inst: Instance) -> None:
    assert len({slot_seed(s, t) for s in range(5) for t in range(5)}) == 25
    a = run_episode(inst, "random", seed=3, latency=False)
    b = run_episode(inst, "random", seed=3, latency=False)
    assert a.objective == b.objective


def test_cli_simulate_and_compare_episode_mode(inst: Instance, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("pandas")
    f = inst.save(tmp_path / "ep.json")
    out = tmp_path / "ep_out.json"
    assert main(["simulate", str(f), "--solver", "tma", "--no-latency", "-O", str(out)]) == 0
    text = capsys.readouterr().out
    assert text.count("feasible") >= 4 and "total" in text
    assert rescore_episode(json.loads(out.read_text()), inst) > 0
    assert main(["simulate", str(f), "--solver", "nope"]) == 2
    from uara.experiments.comparison import compare
    from uara.experiments.table import load_table

    res = compare([f], ["random", "tma"], [0], tmp_path / "cmp", mode="episode", executor="serial")
    df = load_table(tmp_path / "cmp")
    assert res.errors == 0 and (df["mode"] == "episode").all()
    assert df["gap"].isna().all() and df["battery_end_mean"].notna().all()
    ep = run_episode(inst, "tma", seed=0, latency=False)
    assert df[df["solver"] == "tma"]["objective"].iloc[0] == pytest.approx(ep.objective, rel=1e-12)


def test_a_batched_episode_carries_what_its_own_server_left_unfinished(inst: Instance) -> None:
    """Under the batched server the backlog of slot t + 1 is what slot t's batched simulation of this
    method's decisions had not finished at the slot end, max(0, b_j - tau), not P1's Lindley sum; the record
    re-scores by re-simulating, and a tampered backlog is caught."""
    short = replace(inst, params=replace(inst.params, server_model="batched", slot_s=0.05))
    ep = run_episode(short, "max-sinr", seed=1)
    assert ep.server_model == "batched"
    carried = 0.0
    for a, b in zip(ep.slots, ep.slots[1:]):
        busy = np.asarray(a.latency["per_slot"][0]["server_busy_until_s"])
        np.testing.assert_allclose(b.queue_s, np.maximum(0.0, busy - 0.05), rtol=1e-12, atol=1e-15)
        dec = a.solution.slots[0]
        lindley = roll_forward(short, replace(short.slots[a.t], battery=a.battery, queue_s=a.queue_s),
                               dec.association, dec.bandwidth_share).next_queue_s
        assert not np.allclose(b.queue_s, lindley)
        carried += float(b.queue_s.sum())
    assert carried > 0
    data = json.loads(json.dumps(ep.to_dict()))
    assert data["server_model"] == "batched"
    assert rescore_episode(data, short) == pytest.approx(ep.objective, rel=1e-12)
    data["slots"][2]["state"]["queue_s"][0] += 0.01
    with pytest.raises(SolutionError, match="does not follow"):
        rescore_episode(data, short)
    other = run_episode(short, "tma", seed=1, latency=False)
    assert not np.allclose(other.slots[-1].queue_s, ep.slots[-1].queue_s)
