"""The real two-process runner (uara.psd.testbed.real_runner) on two tiny local models over a shaped link,
checked against the PSD simulator (issue 15's test; the full validation is results/psd/validation)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from uara.psd.testbed.real_runner import Job, LinkSetting, run_pair  # noqa: E402
from uara.psd.testbed.real_validation import calibrate, calibration_key, compare, predict  # noqa: E402
from uara.psd.simulation.simulator import Decoding, Timing, simulate  # noqa: E402

VOCAB = 256


def _tiny(path, seed, base=None, noise=0.0):
    torch.manual_seed(seed)
    cfg = transformers.LlamaConfig(vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                   num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=256,
                                   tie_word_embeddings=True)
    model = transformers.LlamaForCausalLM(cfg)
    if base is not None:  # a draft that agrees with the target often, not always
        state = {k: v + noise * torch.randn_like(v) for k, v in base.state_dict().items()}
        model.load_state_dict(state)
    model.save_pretrained(path)
    return model


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("tiny")
    target = _tiny(d / "target", 0)
    draft = _tiny(d / "draft", 1, base=target, noise=0.02)
    gen = torch.Generator().manual_seed(0)
    prompts = [[int(t) for t in torch.randint(0, VOCAB, (10,), generator=gen)] for _ in range(3)]
    settings = [LinkSetting("ids", 2e6, 0.002, "sd", 4), LinkSetting("topk:8", 2e6, 0.002, "psd", 4),
                LinkSetting("full@4", 20e6, 0.003, "sd", 3), LinkSetting("pearl", 50e6, 0.002, "psd", 4)]
    jobs = [Job(f"p{i}", p, s, max_new_tokens=24) for s in settings for i, p in enumerate(prompts)]
    records = run_pair(str(d / "draft"), str(d / "target"), jobs, str(d / "runs.jsonl"))
    return draft, records


def test_every_real_run_is_lossless_and_timestamped(runs):
    _, records = runs
    assert len(records) == 12
    for r in records:
        assert r["lossless"] and len(r["output"]) == 24
        assert r["latency_s"] > 0
        draft = r["phone"]["draft"]
        assert all(e > s for s, e in draft) and all(b[0] >= a[1] for a, b in zip(draft, draft[1:]))


def test_the_link_is_shaped_as_set(runs):
    """Each frame occupies the link 8 B / rate, FIFO, and nothing is released before its due time."""
    _, records = runs
    for r in records:
        s = r["setting"]
        for handed, start, end, nbytes, _ in r["uplink"]:
            assert start >= handed - 1e-9
        tx = [(start, end, n) for _, start, end, n, _ in r["uplink"]]
        full = [(a, b, n) for a, b, n in tx if b - a > 0]
        assert any(abs((b - a) - 8 * n / s["bandwidth_bps"]) < 1e-9 for a, b, n in full)
        assert all(b1 <= a2 + 1e-9 for (_, b1, _), (a2, _, _) in zip(tx, tx[1:]))
        for (_, _, end, _, _), srv in zip(r["uplink"], r["server"]):
            assert srv[1] >= end + s["one_way_delay_s"] - 1e-6


def test_sd_rounds_equal_the_simulator_and_the_latency_is_predicted(runs):
    """SD is deterministic given the acceptance trace: the real verification calls equal the simulator's
    rounds exactly; with times calibrated on the runs the mean latency of each setting is predicted
    (loose bound: tiny models make millisecond passes, where scheduling jitter is large)."""
    from uara.psd.measure.profiling import match_trace

    draft, records = runs
    cal = calibrate(records)
    predicted = []
    for r in records:
        with torch.no_grad():
            match = match_trace(draft, r["prompt_ids"], r["output"])
        c = cal[calibration_key(r["setting"])]
        predicted.append(predict(r, match, c, VOCAB))
        if r["setting"]["mode"] == "sd":
            s = r["setting"]
            trace = np.zeros((1, 64), dtype=bool)
            trace[0, : len(match)] = match
            sim = simulate(np.array([len(r["output"])]), trace, Timing(draft_s_per_token=1e-3, verify_s_per_position=1e-4),
                           Decoding(mode="sd", draft_length=s["draft_length"], protocol="ids", vocab=VOCAB))
            verified = sum(1 for row in r["server"] if row[0] == "verify")
            assert verified == int(sim.rounds[0])
    for row in compare(records, predicted):
        assert abs(row["error_pct"]) < 25, row
