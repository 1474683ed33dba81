"""pipeline-dp's table of batch durations: the alternating recursion of two micro-batches stepped in
scalar form against its max-plus matrix, and the fill that skips batches the MBS memory cannot hold
against the full fill and the evaluator's per-batch duration."""

from dataclasses import replace

import numpy as np
import pytest

from uara.model.pipeline import micro_batch_alternation as mba
from uara.model.pipeline.batch_rounds import RoundsLaw
from uara.model.pipeline.serving_latency import batch_memory_bytes, single_batch_duration_s, user_terms
from uara.scenario.pipeline_builder import random_pipeline_instance
from uara.solvers import get_solver
from uara.solvers.pipeline import ordering
from uara.solvers.pipeline.ordering import OrderedTerms


def _random_recursion(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Coefficients (s_a, s_b, v_a, v_b, up, dn) over several orders of magnitude (either node the
    bottleneck, or the link), a start state x(1) and exponents e from 0 to 300."""
    rng = np.random.default_rng(seed)
    coef = 10.0 ** rng.uniform(-4, 0, (6, n))
    coef[:, : n // 4] = coef[:, :1]                   # repeated candidates: equal coefficients
    x = np.sort(rng.uniform(0, 2, (4, n)), axis=0)
    e = rng.integers(0, 300, n)
    e[:5] = [0, 1, 2, 12, 13]
    return coef, x, e


def _stepped(coef: np.ndarray, x: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x(e + 1) and x(e + 2) by plain stepping of the matrix recursion, candidate by candidate."""
    a = mba.alternation_matrix(coef)
    out, nxt = np.empty_like(x), np.empty_like(x)
    for q in range(x.shape[1]):
        cur = x[:, q][None, :]
        for _ in range(int(e[q])):
            cur = mba.maxplus_vec(a[q:q + 1], cur)
        out[:, q], nxt[:, q] = cur[0], mba.maxplus_vec(a[q:q + 1], cur)[0]
    return out, nxt


@pytest.mark.parametrize("settle_steps, compact_below", [(12, 0.5), (0, 0.5), (3, 1.0), (12, 0.0)])
def test_the_settled_recursion_equals_plain_stepping(monkeypatch, settle_steps, compact_below):
    """Extrapolating from the periodic regime, repeated squaring (all candidates at SETTLE_STEPS = 0) and
    any compaction give x(e + 1) and x(e + 2) of plain max-plus stepping to 1e-12."""
    monkeypatch.setattr(mba, "SETTLE_STEPS", settle_steps)
    monkeypatch.setattr(mba, "COMPACT_BELOW", compact_below)
    coef, x, e = _random_recursion(300, seed=settle_steps)
    got, got_next = mba.rounds_state(coef, x, e)
    want, want_next = _stepped(coef, x, e)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    np.testing.assert_allclose(got_next, want_next, rtol=1e-12)


def test_the_scalar_step_is_the_matrix_step():
    coef, x, _ = _random_recursion(200, seed=7)
    step = mba.alternation_step(coef, x)
    np.testing.assert_allclose(step, mba.maxplus_vec(mba.alternation_matrix(coef), x.T).T, rtol=1e-14)
    assert np.all(step[1] >= step[0]) and np.all(step[3] >= step[2])   # b after a on each node


def test_suffix_rounds_from_a_start_are_the_tail_of_all_suffixes():
    rng = np.random.default_rng(3)
    o = rng.integers(1, 300, 50)
    law = RoundsLaw.of(o, rng.uniform(0.3, 0.95, 50).round(2), 4)
    order = np.argsort(o)
    for j, start in ((50, 0), (50, 31), (17, 16), (30, 29), (30, 5)):
        np.testing.assert_array_equal(law.expected_max_suffixes(order, j, start),
                                      law.expected_max_suffixes(order, j)[start:])


def _tight_memory_instance(users: int, fit: int):
    """A random instance whose MBS holds the weights plus the KV cache of about ``fit`` average users."""
    inst = random_pipeline_instance(users, seed=5)
    need = batch_memory_bytes(inst, inst.prompt_tokens[:fit].sum(), inst.output_tokens[:fit].sum(), 8, fit)
    return replace(inst, mbs=replace(inst.mbs, memory_bytes=float(need)))


def test_batches_that_do_not_fit_are_inf_and_the_others_the_evaluator_s_duration():
    """Every entry of the table is min over (gamma, micro-batches) of the evaluator's duration of that batch
    (1e-12), inf exactly where no choice fits; some batches fit and some do not."""
    inst = _tight_memory_instance(24, fit=6)
    terms = user_terms(inst)
    order = np.arange(inst.num_users)
    lengths = [0, 2, 4, 8]
    ot = OrderedTerms(inst, order, terms, lengths)
    js = range(1, inst.num_users + 1)
    infeasible = 0
    for j, (t, _, _) in zip(js, ot.best_durations_block(js, lengths, True)):
        for i in range(j):
            want = min(single_batch_duration_s(inst, terms, order[i:j], g, s)
                       for g in lengths for s in ((1, 2) if g > 0 and j - i >= 2 else (1,)))
            if np.isinf(want):
                infeasible += 1
                assert np.isinf(t[i])
            else:
                assert t[i] == pytest.approx(want, rel=1e-12)
    assert 0 < infeasible < inst.num_users * (inst.num_users + 1) // 2


def test_skipping_unfit_batches_leaves_the_table_and_the_schedule_unchanged(monkeypatch):
    """The fill that evaluates only batches that fit gives the values of evaluating every batch (each then
    inf by the duration's own memory check; the expected maxima sum over fewer rounds that add exact zeros,
    so the floats agree to rounding), and pipeline-dp the same schedule."""
    inst = _tight_memory_instance(60, fit=12)
    order = np.arange(inst.num_users)
    lengths = [0, 1, 3, 5]
    js = range(1, inst.num_users + 1)
    skipped = OrderedTerms(inst, order, user_terms(inst), lengths).best_durations_block(js, lengths, True)
    sol = get_solver("pipeline-dp").solve(inst)
    monkeypatch.setattr(ordering, "batch_fits", lambda _inst, prompt, *_: np.ones(np.shape(prompt), dtype=bool))
    full = OrderedTerms(inst, order, user_terms(inst), lengths).best_durations_block(js, lengths, True)
    assert any(np.isinf(t).any() for t, _, _ in skipped)
    for (t, g, s), (t1, g1, s1) in zip(skipped, full):
        np.testing.assert_allclose(t, t1, rtol=1e-13)
        assert np.array_equal(np.isinf(t), np.isinf(t1))
        fin = np.isfinite(t)
        np.testing.assert_array_equal(g[fin], g1[fin])
        np.testing.assert_array_equal(s[fin], s1[fin])
    again = get_solver("pipeline-dp").solve(inst)
    assert again.decision.batches == sol.decision.batches
    assert again.evaluation.objective_s == pytest.approx(sol.evaluation.objective_s, rel=1e-12)
