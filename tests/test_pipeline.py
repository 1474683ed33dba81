"""The pipelined serving problem (docs/pipeline.md): format, model, closed forms, DP, simulation, CLI."""

from __future__ import annotations

import itertools
import json
from dataclasses import replace

import numpy as np
import pytest

from uara.cli import main
from uara.errors import InstanceError, SolutionError, SolverError
from uara.model.pipeline import (PipelineInstance, ServingDecision, evaluate_schedule, sequential_shares,
                                 static_shares)
from uara.model.pipeline.schedule import upload_ready_s
from uara.model.pipeline.serving_latency import rounds_needed, single_batch_duration_s, user_terms
from uara.model.pipeline.serving_solution import verify_serving_solution
from uara.psd.simulation.serving_events import simulate_serving
from uara.scenario.pipeline_builder import random_pipeline_instance
from uara.solvers import get_solver


def _random_decision(inst: PipelineInstance, rng: np.random.Generator) -> ServingDecision:
    k = inst.num_users
    perm = rng.permutation(k)
    cuts = sorted(rng.choice(np.arange(1, k), size=int(rng.integers(0, k)), replace=False)) if k > 1 else []
    batches = [[int(u) for u in b] for b in np.split(perm, cuts)]
    g = [int(rng.choice(inst.speculation_lengths)) for _ in batches]
    split = [2 if len(b) >= 2 and gg > 0 and rng.random() < 0.6 else 1 for b, gg in zip(batches, g)]
    if rng.random() < 0.5:
        return ServingDecision(batches, g, split, sequential_shares(inst, batches), "sequential")
    y = rng.dirichlet(np.ones(k)) * rng.uniform(0.5, 1.0)
    return ServingDecision(batches, g, split, y, "static")


# ------------------------------------------------------------------ closed-form bandwidth vs a convex solve
def test_static_closed_form_matches_a_general_convex_solve():
    cp = pytest.importorskip("cvxpy")
    rng = np.random.default_rng(3)
    for trial in range(4):
        inst = random_pipeline_instance(int(rng.integers(3, 9)), seed=trial)
        dec = _random_decision(inst, rng)
        c = (inst.link.token_bits * inst.prompt_tokens + inst.link.header_bits) / inst.rate_bps
        scale = c.mean()  # a well-scaled problem for the conic solver; the closed form does not care
        c = c / scale
        w = np.array([len(b) for b in dec.batches], float)
        y = cp.Variable(inst.num_users, pos=True)
        rho = [cp.max(cp.hstack([c[u] * cp.inv_pos(y[u]) for u in b])) for b in dec.batches]
        prob = cp.Problem(cp.Minimize(sum(wm * r for wm, r in zip(w, rho))), [cp.sum(y) <= 1])
        prob.solve(solver=cp.CLARABEL, tol_gap_rel=1e-9, tol_gap_abs=1e-12, tol_feas=1e-9)
        closed = static_shares(inst, dec.batches)
        got = float(w @ upload_ready_s(inst, replace(dec, shares=closed, bandwidth_mode="static"))) / scale
        assert got == pytest.approx(prob.value, rel=1e-6)
        assert closed.sum() == pytest.approx(1.0, rel=1e-12)
        assert got <= prob.value * (1 + 1e-9)  # nothing the solver finds beats the closed form


def test_sequential_closed_form_reaches_the_band_time_bound_for_every_batch():
    """rho_m = sum_{n<=m} A_n: no allocation (random static ones here) finishes any prefix of batches earlier."""
    rng = np.random.default_rng(5)
    inst = random_pipeline_instance(8, seed=2)
    c = (inst.link.token_bits * inst.prompt_tokens + inst.link.header_bits) / inst.rate_bps
    for _ in range(20):
        dec = _random_decision(inst, rng)
        seq = upload_ready_s(inst, replace(dec, shares=sequential_shares(inst, dec.batches), bandwidth_mode="sequential"))
        bound = np.cumsum([c[b].sum() for b in dec.batches])
        np.testing.assert_allclose(seq, bound, rtol=1e-12)
        other = upload_ready_s(inst, replace(dec, shares=rng.dirichlet(np.ones(8)), bandwidth_mode="static"))
        assert np.all(np.maximum.accumulate(other) >= bound * (1 - 1e-12))


def test_sequential_shares_match_a_convex_solve_of_each_batch():
    cp = pytest.importorskip("cvxpy")
    inst = random_pipeline_instance(5, seed=4)
    c = (inst.link.token_bits * inst.prompt_tokens + inst.link.header_bits) / inst.rate_bps
    c = c / c.mean()
    batch = [0, 2, 3]
    y = cp.Variable(3, pos=True)
    prob = cp.Problem(cp.Minimize(cp.max(cp.hstack([c[u] * cp.inv_pos(y[i]) for i, u in enumerate(batch)]))), [cp.sum(y) <= 1])
    prob.solve(solver=cp.CLARABEL)
    closed = sequential_shares(inst, [batch, [1, 4]])
    assert float((c[batch] / closed[batch]).max()) == pytest.approx(prob.value, rel=1e-6)


# ------------------------------------------------------------------ DP against brute force
@pytest.mark.parametrize("objective", ["sum", "makespan"])
def test_dp_equals_brute_force_on_its_decision_space(objective):
    rng = np.random.default_rng(11)
    for trial in range(12):
        k = int(rng.integers(1, 9))
        inst = replace(random_pipeline_instance(k, seed=100 + trial), objective=objective)
        opts = {"bandwidth": str(rng.choice(["closed-form", "uniform"])), "pipelining": bool(rng.random() < 0.7)}
        dp = get_solver("pipeline-dp", **opts).solve(inst)
        bf = get_solver("pipeline-brute-force", **opts).solve(inst)
        assert dp.feasible and bf.feasible
        assert dp.objective_s == pytest.approx(bf.objective_s, rel=1e-9), (trial, k, opts)


def test_every_ordered_partition_is_never_worse_and_proves_optimality():
    for seed in (1, 2):
        inst = random_pipeline_instance(6, seed=seed)
        dp = get_solver("pipeline-dp").solve(inst)
        full = get_solver("pipeline-brute-force", space="all").solve(inst)
        assert full.objective_s <= dp.objective_s * (1 + 1e-12)
        assert full.status.value == "optimal" and full.lower_bound_s == pytest.approx(full.objective_s, rel=1e-12)


def test_each_batch_taking_its_shortest_choice_is_optimal_for_a_fixed_batching():
    """The lemma behind the DP: C_m grows with every T_n, so per-batch argmin of (gamma, split) is optimal;
    checked by enumerating every combination of choices."""
    inst = replace(random_pipeline_instance(4, seed=7), speculation_lengths=(0, 2, 4))
    terms = user_terms(inst)
    batches = [[1, 3], [0, 2]]
    choices = [[(g, s) for g in inst.speculation_lengths for s in ((1, 2) if g > 0 else (1,))] for _ in batches]
    y = sequential_shares(inst, batches)
    best = min(evaluate_schedule(inst, ServingDecision(batches, [c[0] for c in combo], [c[1] for c in combo], y)).objective_s
               for combo in itertools.product(*choices))
    argmin = [min(ch, key=lambda c: single_batch_duration_s(inst, terms, np.array(b), *c)) for b, ch in zip(batches, choices)]
    got = evaluate_schedule(inst, ServingDecision(batches, [c[0] for c in argmin], [c[1] for c in argmin], y)).objective_s
    assert got == pytest.approx(best, rel=1e-12)


# ------------------------------------------------------------------ analytic vs event-driven
def _deterministic_acceptance(inst, rng):
    """alpha in {0, 1}: every round commits 1 or gamma + 1 tokens, so every user's rounds are certain and the
    event-driven replay must reproduce the recursion exactly."""
    users = tuple(replace(u, alpha=float(rng.integers(2))) for u in inst.users)
    return replace(inst, users=users)


def test_analytic_latency_agrees_with_the_event_driven_simulation():
    rng = np.random.default_rng(0)
    for trial in range(60):
        inst = _deterministic_acceptance(random_pipeline_instance(int(rng.integers(1, 9)), seed=int(rng.integers(1000))), rng)
        if rng.random() < 0.3:  # compute-bound passes and slow fronthaul: other regimes of the recursion
            inst = replace(inst, sbs=replace(inst.sbs, flops=inst.sbs.flops / 200),
                           link=replace(inst.link, fronthaul_bps=2e5, fronthaul_latency_s=0.02))
        dec = _random_decision(inst, rng)
        ev = evaluate_schedule(inst, dec)
        tr = simulate_serving(inst, dec)
        np.testing.assert_allclose(tr.completion_s, ev.completion_s, rtol=1e-9)
        np.testing.assert_allclose(tr.batch_start_s, ev.batch_start_s, rtol=1e-9, atol=1e-12)


def test_a_batchs_expected_duration_matches_replays_that_sample_every_users_rounds():
    """With random acceptance the replay draws each user's rounds; one batch of one micro-batch has a duration
    affine in its rounds, so the mean over draws converges to the analytic T at the expected maximum (within
    4 standard errors); charging the largest of the users' expected rounds would under-charge it."""
    for seed, same in ((2, False), (5, True)):
        inst = random_pipeline_instance(8, seed=seed)
        if same:  # eight users alike: the slowest of eight draws is well above one user's mean
            inst = replace(inst, users=tuple(replace(u, output_tokens=256, alpha=0.8) for u in inst.users))
        members = np.arange(8)
        terms = user_terms(inst)
        dec = ServingDecision([list(members)], [4], [1], sequential_shares(inst, [list(members)]))
        traces = [simulate_serving(inst, dec, r) for r in range(300)]
        durations = np.array([t.batch_end_s[0] - t.batch_start_s[0] for t in traces])
        analytic = single_batch_duration_s(inst, terms, members, 4, 1)
        assert abs(durations.mean() - analytic) <= 4 * durations.std() / np.sqrt(durations.size)
        law = terms.rounds_law(4)
        assert terms.batch_rounds(members, 4) >= law.expected()[members].max() - 1e-9
        if same:
            assert terms.batch_rounds(members, 4) > law.expected()[0] + 2
            assert terms.batch_rounds(members, 4) > rounds_needed(inst.output_tokens, inst.alpha, 4).max() + 2

def test_two_micro_batches_overlap_drafting_and_verification():
    """When both nodes are busy, splitting a batch lets the SBS draft one half while the MBS verifies
    the other: the simulation shows the two nodes busy at the same time and the batch finishes sooner."""
    inst = random_pipeline_instance(8, seed=3)
    inst = replace(inst, sbs=replace(inst.sbs, flops=inst.sbs.flops / 40), mbs=replace(inst.mbs, flops=inst.mbs.flops / 40))
    y = sequential_shares(inst, [list(range(8))])
    one = evaluate_schedule(inst, ServingDecision([list(range(8))], [4], [1], y))
    two = evaluate_schedule(inst, ServingDecision([list(range(8))], [4], [2], y))
    assert two.objective_s < one.objective_s
    tr = simulate_serving(inst, ServingDecision([list(range(8))], [4], [2], y))
    sbs = [(s, e) for n, s, e, _ in tr.passes if n == "sbs"]
    mbs = [(s, e) for n, s, e, w in tr.passes if n == "mbs" and "verify" in w]
    overlap = sum(max(0.0, min(e1, e2) - max(s1, s2)) for s1, e1 in sbs for s2, e2 in mbs)
    assert overlap > 0.2 * tr.busy_s("sbs")


# ------------------------------------------------------------------ degenerate cases
def test_one_user_one_batch_is_single_user_speculative_decoding_as_uara_psd_computes_it():
    from uara.psd.simulation.simulator import Decoding, Timing, simulate
    from uara.model.pipeline.serving_latency import pass_time_s

    base = random_pipeline_instance(1, seed=5)
    user = replace(base.users[0], alpha=1.0, output_tokens=37, prompt_tokens=1)  # the target prefill ends before the first drafts arrive
    inst = replace(base, users=(user,), link=replace(base.link, header_bits=0.0),
                   sbs=replace(base.sbs, flops=base.sbs.flops / 100, memory_bandwidth_bytes_per_s=1e18, pass_overhead_s=0.0),
                   mbs=replace(base.mbs, memory_bandwidth_bytes_per_s=1e18, pass_overhead_s=0.003))
    terms = user_terms(inst)
    for g in (1, 3, 4, 7):
        if g not in inst.speculation_lengths:
            continue
        total = single_batch_duration_s(inst, terms, np.array([0]), g, 1)
        prefill = float(pass_time_s(inst.sbs, inst.draft, terms.draft_prefill_flops[0]))
        t_d = float(inst.draft.flops(inst.prompt_tokens[0] + 0.5 * user.output_tokens)) / inst.sbs.flops
        t_v = float(inst.target.flops(inst.prompt_tokens[0] + 0.5 * user.output_tokens)) / inst.mbs.flops
        ref = simulate(np.array([user.output_tokens]), np.ones((1, 256), bool),
                       Timing(draft_s_per_token=t_d, verify_s_per_position=t_v, verify_s_per_call=0.003,
                              uplink_bps=inst.link.fronthaul_bps, downlink_bps=inst.link.fronthaul_bps,
                              link_latency_s=inst.link.fronthaul_latency_s),
                       Decoding(mode="sd", draft_length=g, protocol="ids", vocab=2 ** inst.link.token_bits))
        assert total - prefill == pytest.approx(float(ref.latency_s[0]), rel=1e-9)


def test_speculation_length_zero_is_autoregressive_serving():
    from uara.model.pipeline.serving_latency import pass_time_s

    inst = random_pipeline_instance(3, seed=8)
    terms = user_terms(inst)
    members = np.arange(3)
    link = inst.link
    expect = (link.fronthaul_latency_s + (link.token_bits * inst.prompt_tokens.sum() + link.header_bits) / link.fronthaul_bps
              + float(pass_time_s(inst.mbs, inst.target, terms.target_prefill_flops.sum()))
              + inst.output_tokens.max() * float(pass_time_s(inst.mbs, inst.target, terms.target_flops.sum()))
              + link.fronthaul_latency_s + (link.token_bits * inst.output_tokens.sum() + link.header_bits) / link.fronthaul_bps)
    assert single_batch_duration_s(inst, terms, members, 0, 1) == pytest.approx(expect, rel=1e-12)
    assert np.array_equal(rounds_needed(inst.output_tokens, inst.alpha, 0), inst.output_tokens.astype(int))
    ad = get_solver("pipeline-ad").solve(inst)
    assert set(ad.decision.speculation_length) == {0}
    assert ad.objective_s == pytest.approx(get_solver("pipeline-dp", lengths="0").solve(inst).objective_s, rel=1e-12)


def test_acceptance_one_needs_ceil_output_over_gamma_plus_one_rounds():
    assert rounds_needed(np.array([10, 11]), np.array([1.0, 1.0]), 4).tolist() == [2, 3]
    assert rounds_needed(np.array([10]), np.array([0.0]), 4).tolist() == [10]


# ------------------------------------------------------------------ formats, records, errors
def test_round_trip_fingerprint_and_schema(tmp_path):
    inst = random_pipeline_instance(5, seed=9)
    path = tmp_path / "p.json"
    inst.save(path)
    again = PipelineInstance.load(path)
    assert again.fingerprint() == inst.fingerprint() and again.to_dict() == json.loads(path.read_text())
    assert random_pipeline_instance(5, seed=9).to_dict() == inst.to_dict()  # seeded
    jsonschema = pytest.importorskip("jsonschema")
    from importlib import resources

    schema = json.loads(resources.files("uara.model").joinpath("schema/pipeline-instance.schema.json").read_text())
    jsonschema.validate(inst.to_dict(), schema)
    bad = inst.to_dict()
    bad["users"][1]["alpha"] = 1.5
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


def test_solution_records_are_verified_and_tampering_is_caught():
    inst = random_pipeline_instance(4, seed=2)
    rec = json.loads(json.dumps(get_solver("pipeline-dp").solve(inst).to_dict()))
    verify_serving_solution(rec, inst)
    rec["objective_s"] *= 0.9
    with pytest.raises(SolutionError, match="objective_s"):
        verify_serving_solution(rec, inst)
    rec = json.loads(json.dumps(get_solver("pipeline-dp").solve(inst).to_dict()))
    rec["decision"]["batches"][0].append(rec["decision"]["batches"][0][0])
    with pytest.raises(SolutionError, match="infeasible: user"):
        verify_serving_solution(rec, inst)


@pytest.mark.parametrize("path, value, message", [
    (("users", 2, "alpha"), 1.5, "users[2].alpha: 1.5 is outside [0, 1]"),
    (("users", 0, "rate_bps"), -3.0, "users[0].rate_bps: -3.0 is outside the plausible range [1000, 1e+12] bit/s"),
    (("users", 0, "rate_bps"), 5e-324, "users[0].rate_bps: 5e-324 is outside the plausible range"),
    (("users", 0, "rate_bps"), 1e308, "users[0].rate_bps: 1e+308 is outside the plausible range"),
    (("users", 0, "output_tokens"), 10**12, "users[0].output_tokens: expected an integer in [1, 1e+06] tokens"),
    (("users", 1, "prompt_tokens"), 2.5, "users[1].prompt_tokens: expected an integer in [1, 1e+07] tokens"),
    (("sbs", "memory_bandwidth_bytes_per_s"), 1e308, "sbs.memory_bandwidth_bytes_per_s: 1e+308 is outside"),
    (("mbs", "flops"), 1e-300, "mbs.flops: 1e-300 is outside the plausible range"),
    (("link", "fronthaul_latency_s"), 1e6, "link.fronthaul_latency_s: 1000000.0 is outside the plausible range"),
    (("sbs", "flops"), "fast", "sbs.flops: expected a number, got str"),
    (("link", "fronthaul_bps"), None, "link.fronthaul_bps: is null"),
    (("models", "target", "weight_bytes"), 0, "models.target.weight_bytes: 0.0 is outside the plausible range"),
    (("objective",), "mean", "objective: expected one of sum, makespan"),
    (("speculation_lengths",), [4, 4], "speculation_lengths: repeated values"),
    (("users", 0, "colour"), "red", "users[0].colour: unknown field"),
])
def test_bad_inputs_get_one_line_errors_naming_the_field(tmp_path, capsys, path, value, message):
    d = random_pipeline_instance(3, seed=1).to_dict()
    node = d
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(InstanceError) as err:
        PipelineInstance.from_dict(d)
    assert str(err.value).startswith(message)
    f = tmp_path / "bad.json"
    f.write_text(json.dumps(d))
    out = tmp_path / "sol.json"
    assert main(["solve", str(f), "-O", str(out)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"uara: error: {message}")
    assert not out.exists()


def test_solvers_refuse_the_other_family_and_bad_options(tmp_path, capsys):
    from uara.scenario.random_instance import random_instance

    with pytest.raises(SolverError, match="pipeline instances"):
        get_solver("pipeline-dp").solve(random_instance(3, 2))
    with pytest.raises(SolverError, match="option 'lengths'"):
        get_solver("pipeline-dp", lengths="two")
    with pytest.raises(SolverError, match="not a candidate"):
        get_solver("pipeline-uniform", length=40).solve(random_pipeline_instance(2, seed=1))
    with pytest.raises(SolverError, match="max_users"):
        get_solver("pipeline-brute-force").solve(random_pipeline_instance(11, seed=1))
    p1 = tmp_path / "p1.json"
    random_instance(3, 2).save(p1)
    assert main(["solve", str(p1), "--solver", "pipeline-dp"]) == 2
    assert "solves pipeline instances" in capsys.readouterr().err


# ------------------------------------------------------------------ the acceptance, through the CLI
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_cli_dp_equals_brute_force_and_beats_the_uniform_benchmark(tmp_path, capsys, seed):
    f = tmp_path / "p.json"
    assert main(["build", "--problem", "pipeline", "--users", "7", "--channel", "free-space", "--seed", str(seed),
                 "--output", str(f)]) == 0
    capsys.readouterr()
    got = {}
    for solver in ("pipeline-dp", "pipeline-brute-force", "pipeline-uniform"):
        assert main(["solve", str(f), "--solver", solver, "--json", "-q"]) == 0
        got[solver] = json.loads(capsys.readouterr().out)
    dp, bf, uni = (got[s]["objective_s"] for s in ("pipeline-dp", "pipeline-brute-force", "pipeline-uniform"))
    assert dp == pytest.approx(bf, rel=1e-9)
    assert dp <= uni
    # the check replays 16 draws of every user's rounds: it agrees with the expected-rounds model to sampling error
    assert got["pipeline-dp"]["info"]["event_driven_objective_s"] == pytest.approx(dp, rel=0.02)


def test_rebuild_from_provenance_is_identical(tmp_path, capsys):
    f = tmp_path / "p.json"
    assert main(["build", "--problem", "pipeline", "--users", "9", "--seed", "4", "-O", str(f)]) == 0
    assert main(["build", "--from-provenance", str(f), "--check"]) == 0
    assert "identical" in capsys.readouterr().out
    d = json.loads(f.read_text())
    d["users"][0]["alpha"] = 0.5
    f.write_text(json.dumps(d))
    assert main(["build", "--from-provenance", str(f), "--check"]) == 1


def test_compare_and_report_handle_pipeline_instances(tmp_path, capsys):
    pytest.importorskip("pandas")
    pytest.importorskip("matplotlib")
    folder = tmp_path / "inst"
    for k in (3, 6):
        assert main(["build", "--problem", "pipeline", "--users", str(k), "--seed", "1", "-O", str(folder / f"k{k}.json")]) == 0
    out = tmp_path / "out"
    assert main(["compare", str(folder), "-O", str(out), "-s", "pipeline-dp,pipeline-uniform,pipeline-max-batch", "-q"]) == 0
    import pandas as pd

    df = pd.read_csv(out / "pipeline_results.csv")
    assert len(df) == 6 and set(df["status"]) <= {"feasible", "optimal"}
    np.testing.assert_allclose(df["event_driven_objective_s"], df["objective_s"], rtol=0.02)
    for name, grp in df.groupby("instance"):
        lat = grp.set_index("solver")["mean_latency_s"]
        assert lat["pipeline-dp"] <= lat["pipeline-uniform"] and lat["pipeline-dp"] <= lat["pipeline-max-batch"]
    before = sorted(p.stat().st_mtime_ns for p in (out / "pipeline_runs").iterdir())
    assert main(["compare", str(folder), "-O", str(out), "-s", "pipeline-dp,pipeline-uniform,pipeline-max-batch", "-q"]) == 0
    assert sorted(p.stat().st_mtime_ns for p in (out / "pipeline_runs").iterdir()) == before  # reused, not redone
    capsys.readouterr()
    assert main(["report", str(out)]) == 0
    md = (out / "report.md").read_text()
    assert "Pipelined serving" in md and "pipeline-max-batch" in md
    assert main(["compare", str(folder), "-O", str(out), "-s", "tma"]) == 2
    assert "pipeline-* solvers" in capsys.readouterr().err


def test_shipped_pipeline_results_verify():
    """Every solution in results/pipeline re-scores to its row, and the claims file matches the table."""
    from pathlib import Path

    import csv

    root = Path(__file__).resolve().parent.parent / "results" / "pipeline"
    rows = list(csv.DictReader((root / "pipeline_results.csv").open()))
    assert len(rows) >= 100
    instances = {}
    for r in rows:
        if r["status"] == "infeasible":  # only a batch too large for the MBS memory (issue 23), re-checked
            assert "MBS memory" in r["error"] and r["solver"] != "pipeline-dp", r
            continue
        assert r["status"] in ("feasible", "optimal"), r
        f = root.parent.parent / r["instance_file"]
        inst = instances.setdefault(r["instance_file"], PipelineInstance.load(f))
        rec = json.loads((root.parent.parent / r["solution_file"]).read_text())
        ev = verify_serving_solution(rec, inst)
        assert ev.objective_s == pytest.approx(float(r["objective_s"]), rel=1e-12)
    claims = json.loads((root / "claims.json").read_text())
    assert claims["format"] == "uara-pipeline-claims/1"
    by = {(r["instance"], r["solver"]): float(r["mean_latency_s"] or "nan") for r in rows}
    for k in (100, 200):
        red = [1 - by[(i, "pipeline-dp")] / by[(i, "pipeline-uniform")] for i, s in by
               if i.startswith(f"k{k}_umi") and s == "pipeline-dp"]
        row = next(c for c in claims["rows"] if c["claim"] == "vs_uniform" and c["users"] == k and c["channel"] == "umi")
        got = float("nan") if row["reduction_mean_pct"] is None else row["reduction_mean_pct"]  # null: infeasible
        assert got == pytest.approx(100 * np.mean(red), rel=1e-9, nan_ok=True)
    assert all(np.isnan(by[(i, "pipeline-uniform")]) for i, _ in by if i.startswith("k200_umi"))  # infeasible


def test_batches_that_do_not_fit_the_mbs_memory_are_infeasible():
    """K = 200: every user in one batch needs more than the RTX 4090's 24 GiB (3.1 GB of GPT2-XL weights plus
    ~28 GB of KV cache); the DP never chooses such a batch, a benchmark that needs it reports infeasible, and
    every reported solution fits."""
    from uara.model.pipeline.schedule import ServingDecision, batch_peak_bytes, evaluate_schedule, sequential_shares
    from uara.scenario.pipeline_builder import random_pipeline_instance
    from uara.solvers import get_solver

    inst = random_pipeline_instance(200, seed=3)
    assert inst.mbs.memory_bytes == 24 * 2**30 and inst.target.kv_bytes_per_token == 307_200
    everyone = [list(range(200))]
    one = ServingDecision(everyone, [4], [1], sequential_shares(inst, everyone), "sequential")
    need = batch_peak_bytes(inst, one)[0]
    assert need > inst.mbs.memory_bytes
    ev = evaluate_schedule(inst, one)
    assert ev.objective_s == float("inf") and "needs" in ev.violations[0] and "MBS memory" in ev.violations[0]
    for name in ("pipeline-dp", "pipeline-uniform", "pipeline-ad", "pipeline-max-batch"):
        sol = get_solver(name).solve(inst)
        if sol.feasible:
            assert batch_peak_bytes(inst, sol.decision).max() <= inst.mbs.memory_bytes, name
        else:
            assert any("MBS memory" in v for v in sol.evaluation.violations), name
    assert get_solver("pipeline-dp").solve(inst).feasible


def test_the_duration_table_in_blocks_equals_it_row_by_row(monkeypatch):
    """pipeline-dp fills its K x K table of batch durations in vectorised blocks of pairs; each entry is the
    same float as a block of that column alone, and the schedule the same, whatever the block size."""
    import numpy as np

    from uara.model.pipeline.serving_latency import user_terms
    from uara.scenario.pipeline_builder import random_pipeline_instance
    from uara.solvers import get_solver
    from uara.solvers.pipeline import dp
    from uara.solvers.pipeline.ordering import OrderedTerms

    inst = random_pipeline_instance(40, seed=3)
    order = np.arange(inst.num_users)
    lengths = [0, 2, 4, 6]
    ot = OrderedTerms(inst, order, user_terms(inst), lengths)
    js = range(1, inst.num_users + 1)
    for j, (t, g, s) in zip(js, ot.best_durations_block(js, lengths, True)):
        t1, g1, s1 = ot.best_durations(j, lengths, True)
        np.testing.assert_array_equal(t, t1)
        np.testing.assert_array_equal(g, g1)
        np.testing.assert_array_equal(s, s1)
    whole = get_solver("pipeline-dp").solve(inst)
    monkeypatch.setattr(dp, "BLOCK_PAIRS", 7)  # many small blocks
    assert [list(r) for r in dp._blocks(10)] == [[1, 2, 3], [4], [5], [6], [7], [8], [9], [10]]
    small = get_solver("pipeline-dp").solve(inst)
    assert small.decision.batches == whole.decision.batches
    assert small.evaluation.objective_s == whole.evaluation.objective_s
