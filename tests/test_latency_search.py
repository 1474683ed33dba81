"""Latency-aware UARA (docs/latency_aware.md): the split of a slot's latency by server is exact, the search
equals the exhaustive back-end on tiny instances under both server models, it is never worse than its start,
its objective is the simulator's latency and never below the certified floor, and draft lengths travel
through solution records and the simulator with clear errors."""

from __future__ import annotations

import time
from pathlib import Path
from dataclasses import replace

import numpy as np
import pytest

from uara.errors import SolutionError, SolverError, UaraError
from uara.model.instance import Instance
from uara.model.solution import Solution
from uara.psd.latency import slot_latency, solution_latency
from uara.psd.latency_floor import solution_floor
from uara.psd.latency_surrogate import sequential_rounds
from uara.psd.server_configs import Config, slot_tasks, score_configs
from uara.psd.simulation.simulator import simulate, Timing
from uara.scenario.random_instance import random_instance
from uara.solvers import get_solver

MODELS = ("batched", "reserved")


def _with_model(inst: Instance, model: str) -> Instance:
    return replace(inst, params=replace(inst.params, server_model=model))


@pytest.mark.parametrize("model", MODELS)
def test_the_split_by_server_is_exact(model: str) -> None:
    """Each server's devices simulated on their own (one virtual server per configuration, every length in one
    call) have exactly the latencies of the whole slot's simulation."""
    inst = _with_model(random_instance(14, 3, seed=5, slots=1), model)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 3, 14)
    y = np.array([1.0 / np.sum(x == x[i]) for i in range(14)])
    g = rng.integers(1, 9, 14)
    whole = slot_latency(inst, 0, x, y, y, draft_length=g).per_device_s
    st = slot_tasks(inst, 0)
    cfgs = [Config(j, np.flatnonzero(x == j), g[x == j], y[x == j], y[x == j]) for j in range(3)]
    split = np.zeros(14)
    for c, lat in zip(cfgs, score_configs(st, cfgs)):
        split[c.devices] = lat
    np.testing.assert_array_equal(split, whole)
    assert not np.allclose(whole, slot_latency(inst, 0, x, y, y).per_device_s)  # the lengths matter


@pytest.mark.parametrize("model,seed", [("batched", 3), ("batched", 6), ("reserved", 6), ("reserved", 7)])
def test_search_equals_the_exhaustive_back_end_on_tiny_instances(model: str, seed: int) -> None:
    inst = _with_model(random_instance(5, 3, seed=seed, slots=1), model)
    exact = get_solver("latency-brute-force", draft_lengths="2,4,6").solve(inst)
    # a budget of restarts, not of time: the same search on any machine, however loaded
    found = get_solver("latency-search", draft_lengths="2,4,6", slot_time_s=600.0).solve(inst)
    best, got = exact.slots[0].info["objective_s"], found.slots[0].info["objective_s"]
    assert got == pytest.approx(best, rel=1e-9)
    assert exact.slots[0].info["optimal"] and exact.slots[0].info["simulated_configs"] > 1000
    # both objectives are the simulator's mean latency of the returned decision
    for sol, value in ((exact, best), (found, got)):
        assert solution_latency(inst, sol)["mean_s"] == pytest.approx(value, rel=1e-12)


def test_the_exhaustive_objective_is_below_every_fixed_length_decision() -> None:
    """The optimum over lengths {2, 4, 6} is at most the best P1 baseline at the task's own length 4."""
    inst = random_instance(5, 3, seed=1, slots=1)
    exact = get_solver("latency-brute-force", draft_lengths="2,4,6").solve(inst)
    for name in ("max-sinr", "max-compute", "tma"):
        assert exact.slots[0].info["objective_s"] <= solution_latency(inst, get_solver(name).solve(inst))["mean_s"]


@pytest.fixture(scope="module")
def m30() -> Instance:
    return Instance.load("instances/m30_e8.json").slot_subset(range(1))


def test_search_on_a_shipped_instance_beats_its_start_and_stays_above_the_floor(m30: Instance) -> None:
    sol = get_solver("latency-search", slot_time_s=600.0, max_calls=6).solve(m30)
    info = sol.slots[0].info
    assert info["objective_s"] <= info["start_objective_s"]
    lat = solution_latency(m30, sol)
    assert lat["mean_s"] == pytest.approx(info["objective_s"], rel=1e-12)
    assert lat["mean_s"] >= solution_floor(m30, 1)["floor_mean_s"]
    for name in info["start"].split(","):
        assert lat["mean_s"] <= solution_latency(m30, get_solver(name).solve(m30))["mean_s"] + 1e-12
    assert sol.slots[0].draft_length is not None and sol.feasible
    assert info["surrogate"]["batches_checked"] >= 1 and info["surrogate"]["rank_correlation"] > 0.5


def test_search_honours_the_time_limit(m30: Instance) -> None:
    limit = 4.0
    t0 = time.perf_counter()
    get_solver("latency-search").solve(Instance.load("instances/m60_e8.json").slot_subset(range(2)), time_limit=limit)
    assert time.perf_counter() - t0 <= 1.2 * limit


def test_sequential_rounds_are_the_simulators_sd_rounds(m30: Instance) -> None:
    st = slot_tasks(m30, 0)
    rounds = sequential_rounds(st, [1, 3, 8])
    for g in (1, 3, 8):
        dec = replace(st.decoding[0], mode="sd", draft_length=g, max_draft_length=64)
        res = simulate(st.n_out, st.match, Timing(draft_s_per_token=1e-3, verify_s_per_position=1e-3), dec)
        np.testing.assert_array_equal(res.rounds, rounds[:, g])


def test_draft_lengths_round_trip_and_bad_ones_name_the_field(m30: Instance) -> None:
    sol = get_solver("latency-search", slot_time_s=1.0, restarts=0).solve(m30)
    back = Solution.from_dict(sol.to_dict(), m30)
    np.testing.assert_array_equal(back.slots[0].draft_length, sol.slots[0].draft_length)
    assert solution_latency(m30, back)["mean_s"] == solution_latency(m30, sol)["mean_s"]
    record = sol.to_dict()
    record["slots"][0]["draft_length"][3] = 0
    with pytest.raises(SolutionError, match=r"slots\[0\]\.draft_length\[3\]"):
        Solution.from_dict(record, m30)
    with pytest.raises(UaraError, match=r"draft_length: expected 30 values"):
        slot_latency(m30, 0, np.zeros(30, int), np.full(30, 0.1), np.full(30, 0.1), draft_length=[4])
    with pytest.raises(SolverError, match="draft_lengths"):
        get_solver("latency-search", draft_lengths="0-3")
    with pytest.raises(SolverError, match="starts"):
        get_solver("latency-search", starts="pipeline-dp")


def test_the_exhaustive_back_end_refuses_what_it_cannot_enumerate(m30: Instance) -> None:
    with pytest.raises(SolverError, match="max_configs"):
        get_solver("latency-brute-force").solve(m30)


def test_the_reserved_model_uses_the_compute_share_rule() -> None:
    """Under reserved the share rule also sets z; the search's decision is P1-feasible (shares sum to 1)."""
    inst = _with_model(random_instance(8, 2, seed=2, slots=1), "reserved")
    sol = get_solver("latency-search", slot_time_s=2.0).solve(inst)
    assert sol.feasible
    x = sol.slots[0].association
    for j in range(2):
        assert sol.slots[0].compute_share[x == j].sum() == pytest.approx(1.0) or not (x == j).any()


def test_the_shipped_latency_aware_comparison_says_what_it_claims() -> None:
    """results/latency_aware: on every shipped instance latency-search's latency is at most every other back-end's
    and no method is below the certified floor; the search's stored decisions re-score to their rows."""
    import pandas as pd

    from uara.model.verify import verify_solution
    from uara.io import read_json

    root = Path("results/latency_aware")
    search = pd.read_parquet(root / "search" / "results.parquet").set_index("instance")
    others = pd.concat([pd.read_parquet(root / part / "results.parquet") for part in ("p1", "tkslt", "fixed_length")])
    assert set(search.index) == {p.stem for p in Path("instances").glob("*.json")}
    for inst, row in search.iterrows():
        rest = others[others["instance"] == inst]
        assert len(rest) >= 10 and row["latency_mean_s"] <= rest["latency_mean_s"].min() + 1e-12, inst
        floor = row["latency_floor_mean_s"]
        assert (rest["latency_mean_s"] >= floor).all() and row["latency_mean_s"] >= floor
    row = search.loc["m30_e8"]
    inst = Instance.load(row["instance_file"])
    record = read_json(root / "search" / row["solution_file"])["solution"]
    verify_solution(record, inst)
    assert solution_latency(inst, record)["mean_s"] == pytest.approx(row["latency_mean_s"], rel=1e-12)
