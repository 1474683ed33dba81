"""Profiles, the P1 task fields drawn from them, and end-to-end latency of a slot."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from uara.errors import UaraError
from uara.model.instance import Task
from uara.psd.workload.flops import GPT2, GPT2_XL
from uara.psd.latency import LatencyOptions, slot_latency, solution_latency
from uara.psd.workload.profiles import list_profiles, load_profile, load_profile_set
from uara.psd.workload.tasks import sample_tasks
from uara.scenario.random_instance import random_instance


def test_flops_per_token_of_the_paper_pair():
    assert GPT2.flops_per_token(512) == pytest.approx(0.27e9, rel=0.02)
    assert 3.1e9 <= GPT2_XL.flops_per_token(300) <= 3.3e9
    # the formula, term by term
    assert GPT2.flops_per_token(0) == 2 * GPT2.n_non_embedding + 2 * 768 * 50257


def test_shipped_profiles_load_and_declare_their_source():
    names = list_profiles()
    assert {"gpt2_code", "gpt2_summarisation", "gpt2_chat"} <= set(names)
    for n in names:
        p = load_profile(n)
        assert p.provenance["kind"] in ("declared", "measured")
        if p.provenance["kind"] == "measured":
            assert p.provenance["sample_size"] == len(p.acceptance.trace_list) > 0
            assert p.measured["lossless"]["passed"] == p.measured["lossless"]["checked"]
        else:
            assert p.provenance["source"]
        assert 0.0 < p.acceptance.alpha < 1.0
    s = load_profile_set("gpt2")
    assert sorted(s) == ["chat", "code", "summarisation"]
    # the default protocol puts ~200 kbit on the air per draft token
    assert 190e3 < s["code"].protocol.token_bits(s["code"].vocab) < 210e3


def test_profile_roundtrip_and_field_errors(tmp_path):
    p = load_profile("gpt2_code")
    path = p.save(tmp_path / "x.json")
    q = load_profile(path)
    assert q.to_dict() == p.to_dict()
    base = json.loads(path.read_text())
    cases = [
        (("acceptance", "alpha"), 1.5, "x.json.acceptance.alpha"),
        (("decoding", "protocol"), "topk", "decoding.protocol"),
        (("decoding", "draft_length"), 0, "x.json.decoding.draft_length"),
        (("models", "target", "vocab"), 100, "x.json.models"),
        (("output_tokens", "kind"), "poisson", "x.json.output_tokens.kind"),
        (("task_type",), "poetry", "x.json.task_type"),
        (("provenance", "source"), "", "x.json.provenance.source"),
    ]
    for keys, value, msg in cases:
        d = copy.deepcopy(base)
        node = d
        for k in keys[:-1]:
            node = node[k]
        node[keys[-1]] = value
        bad = tmp_path / "x.json"
        bad.write_text(json.dumps(d))
        with pytest.raises(UaraError, match=msg.replace(".", r"\.")):
            load_profile(bad)
    with pytest.raises(UaraError, match="profile not found"):
        load_profile("no_such_profile")


def test_sample_tasks_magnitudes_and_determinism():
    profs = load_profile_set("gpt2")
    types = ["code"] * 40 + ["summarisation"] * 40
    t1 = sample_tasks(profs, types, 7)
    t2 = sample_tasks(profs, types, 7)
    assert [t.to_dict() for t in t1] == [t.to_dict() for t in t2]
    assert [t.type for t in t1] == types
    code = [t for t in t1 if t.type == "code"]
    a = np.array([t.flops_device for t in code]) / 70e9
    f_es = np.array([t.flops_server for t in code])
    assert 0.3 < a.mean() < 3.0            # a_i ~ 1 s on a 70 GFLOP/s phone
    assert 3e11 < f_es.mean() < 3e12       # f^ES ~ 1 TFLOP
    for t in code:
        psd = t.psd
        assert t.flops_device == pytest.approx(psd["drafted_tokens"] * psd["draft_flops_per_token"])
        assert t.flops_server == pytest.approx(psd["verified_positions"] * psd["target_flops_per_token"])
        assert psd["drafted_tokens"] >= psd["output_tokens"] * 0.5
        # everything that went up is at least the accepted drafts' payload
        assert t.bits >= psd["bits_per_draft_token"] * psd["output_tokens"] * 0.5
    for t in sample_tasks(profs, ["code"] * 5, 7, protocol="ids"):  # 16-bit ids only
        assert 16 * t.psd["output_tokens"] * 0.5 <= t.bits <= 16 * t.psd["drafted_tokens"] + 1e-9
    with pytest.raises(UaraError, match="no profile for task type"):
        sample_tasks(profs, ["poetry"], 0)


def test_task_sampler_of_uara_tasks():
    from uara.scenario.task_sources import get_task_sampler

    s = get_task_sampler("psd", profiles="gpt2", weights={"code": 1.0, "chat": 0.0}, protocol="topk:64")
    tasks = s(np.random.default_rng(0), 6)
    assert {t.type for t in tasks} == {"code"}
    assert s.describe()["model"] == "psd:gpt2"
    with pytest.raises(UaraError, match="unknown"):
        get_task_sampler("psd", profile="gpt2")


def _instance(m=9, e=3, seed=3, protocol="topk:64"):
    inst = random_instance(m, e, seed=seed)
    types = [t.type for t in inst.slots[0].tasks]
    inst.slots[0].tasks = sample_tasks(load_profile_set("gpt2"), types, seed, protocol=protocol)
    return inst


def test_slot_latency_behaves():
    from uara.model.formulation import slot_data

    inst = _instance()
    sd = slot_data(inst, 0)
    x = np.argmax(sd.rate_bps, axis=1)
    y = np.full(9, 0.2)
    z = np.full(9, 0.2)
    base = slot_latency(inst, 0, x, y, z)
    assert base.per_device_s.shape == (9,) and np.isfinite(base.per_device_s).all()
    assert base.mean_s == pytest.approx(base.per_device_s.mean())
    assert base.p95_s >= np.median(base.per_device_s)
    np.testing.assert_allclose(sum(base.breakdown[f"critical_{c}_s"] for c in
                                   ("device", "uplink", "queue", "server", "downlink")), base.per_device_s)
    # same decisions, same latency (acceptance is replayed from each task's seed)
    np.testing.assert_array_equal(slot_latency(inst, 0, x, y, z).per_device_s, base.per_device_s)
    # more bandwidth and more compute never hurt (common random numbers)
    more = slot_latency(inst, 0, x, y * 4, z * 4)
    assert np.all(more.per_device_s <= base.per_device_s + 1e-12)
    assert more.mean_s < base.mean_s
    # phone compute bounds the latency from below: it drafts at least the output tokens
    dev = np.array([t.psd["draft_flops_per_token"] * t.psd["output_tokens"] for t in inst.slots[0].tasks])
    assert np.all(base.per_device_s >= 0.5 * dev / inst.device_flops)
    # a zero share is an infinite latency, flagged, not an exception
    z0 = z.copy()
    z0[2] = 0.0
    y0 = y.copy()
    y0[5] = 0.0
    reserved = LatencyOptions(server_model="reserved")
    r = slot_latency(inst, 0, x, y0, z0, options=reserved)
    assert r.infinite.tolist() == [i in (2, 5) for i in range(9)]
    # the batched server reserves no share: only the zero bandwidth is infinite
    batched = slot_latency(inst, 0, x, y0, z0, options=LatencyOptions(server_model="batched"))
    assert batched.infinite.tolist() == [i == 5 for i in range(9)]
    assert np.isinf(r.mean_s) and np.isfinite(r.mean_finite_s)
    d = r.to_dict()
    assert d["infinite"] == [2, 5]


def test_slot_latency_errors_name_the_field():
    inst = _instance()
    x, y, z = np.zeros(9, int), np.full(9, 0.1), np.full(9, 0.1)
    with pytest.raises(UaraError, match=r"association\[0\]"):
        slot_latency(inst, 0, x - 1, y, z)
    with pytest.raises(UaraError, match=r"bandwidth_share\[0\]"):
        slot_latency(inst, 0, x, y - 1, z)
    with pytest.raises(UaraError, match="compute_share"):
        slot_latency(inst, 0, x, y, z[:3])
    with pytest.raises(UaraError, match="slot_index"):
        slot_latency(inst, 5, x, y, z)


def test_solution_latency_and_tasks_without_psd_fields():
    inst = random_instance(6, 2, seed=1)
    inst.slots[0].tasks = [Task(t.type, 4e5, 7e10, 1e12) for t in inst.slots[0].tasks]  # no psd fields
    sol = {"slots": [{"association": [0, 1, 0, 1, 0, 1], "bandwidth_share": [0.3] * 6,
                      "compute_share": [0.3] * 6}]}
    out = solution_latency(inst, sol)
    assert set(out) >= {"mean_s", "p95_s", "per_device_s", "infinite", "per_slot"}
    assert len(out["per_device_s"]) == 6 and np.isfinite(out["mean_s"])
    assert any("without psd fields" in n for n in out["notes"])
    json.dumps(out)  # JSON-ready
