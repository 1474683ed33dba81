"""Real batched verification (uara.psd.testbed.batched_target) and the concurrent runner
(uara.psd.testbed.concurrent_runner) on tiny local models; the full campaign is results/psd/contention."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from uara.psd.testbed.batched_target import BatchedTarget  # noqa: E402
from uara.psd.testbed.concurrent_runner import record_trace, run_concurrent  # noqa: E402
from uara.psd.testbed.contention_campaign import (calibrate_contention, compare_runs, contention_summary,  # noqa: E402
                                                  target_cost_of)
from uara.psd.testbed.real_runner import LinkSetting  # noqa: E402

VOCAB = 128


def _tiny(seed, base=None, noise=0.0, kv_heads=2):
    torch.manual_seed(seed)
    cfg = transformers.LlamaConfig(vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                   num_attention_heads=4, num_key_value_heads=kv_heads, max_position_embeddings=256,
                                   tie_word_embeddings=True)
    model = transformers.LlamaForCausalLM(cfg).eval()
    if base is not None:
        model.load_state_dict({k: v + noise * torch.randn_like(v) for k, v in base.state_dict().items()})
    return model


def test_batched_pass_equals_each_sequence_alone():
    """Left-padded caches, right-padded queries and the attention mask give each client the logits it would
    get alone, pass after pass, with caches kept, cropped after a rejection and grown."""
    model = _tiny(0)
    bt = BatchedTarget(model)
    rng = np.random.default_rng(0)
    base = {c: rng.integers(0, VOCAB, 60).tolist() for c in range(4)}
    length = {c: int(rng.integers(4, 12)) for c in range(4)}
    worst, batches = 0.0, 0
    with torch.no_grad():
        for _ in range(15):
            reqs = []
            for c in range(4):
                if rng.random() < 0.3:
                    continue
                n = min(length[c] + int(rng.integers(1, 6)), 59)
                seq = list(base[c][:n])
                if rng.random() < 0.25:  # a rejection: the tail differs from what was cached
                    seq[-2:] = rng.integers(0, VOCAB, 2).tolist()
                reqs.append((c, seq, max(1, n - int(rng.integers(1, 5)))))
                length[c] = n
            if not reqs:
                continue
            batches += len(reqs) > 1
            for (c, seq, start), rows in zip(reqs, bt.logits(reqs)):
                alone = model(input_ids=torch.tensor([seq])).logits[0, start:len(seq)].numpy()
                assert rows.shape == alone.shape
                worst = max(worst, float(np.abs(alone - rows).max()))
    assert batches > 3
    assert worst < 1e-4


@pytest.fixture(scope="module")
def contention(tmp_path_factory):
    d = tmp_path_factory.mktemp("tiny_contention")
    target = _tiny(0)
    draft = _tiny(1, base=target, noise=0.03)
    target.save_pretrained(d / "target")
    gen = np.random.default_rng(1)
    prompts = [(f"p{k}", gen.integers(0, VOCAB, 8).tolist()) for k in range(4)]
    with torch.no_grad():
        traces = [record_trace(draft, target, pid, ids, 24, set()) for pid, ids in prompts]
    runs = []
    for k, n in enumerate((1, 2, 3, 1, 2, 4)):
        jobs = [{"prompt_id": prompts[(k + i) % 4][0], "prompt_ids": prompts[(k + i) % 4][1], "eos": [],
                 "max_new_tokens": 16 + 2 * i, "setting": LinkSetting("ids" if k % 2 else "topk:8", 2e6, 0.002,
                                                                      "psd", 3).__dict__} for i in range(n)]
        runs.append({"run": k, "split": "calibration" if k < 3 else "validation", "jobs": jobs})
    records = run_concurrent(str(d / "target"), traces, runs, str(d / "runs.jsonl"), vocab=VOCAB, cores=(None, None))
    return target, {t.prompt_id: t.__dict__ for t in traces}, records


def test_concurrent_runs_are_lossless_and_batched(contention):
    _, traces, records = contention
    assert len(records) == 1 + 2 + 3 + 1 + 2 + 4
    assert all(r["lossless"] for r in records)
    assert max(p[2] for r in records for p in r["passes"]) >= 2  # some pass served several clients
    for r in records:  # every verification a client saw was a pass the server logged
        assert len(r["server"]) >= 1 and r["latency_s"] > 0
        assert r["clients"] == len({x["client"] for x in records if x["run"] == r["run"]})


def test_contention_analysis_predicts_every_validation_client(contention):
    target, traces, records = contention
    cost, f_pos = target_cost_of(target)
    assert cost.kv_bytes_per_token == 2 * 2 * 2 * 16 * 4  # 2 x layers x kv heads x head dim x fp32
    cal = calibrate_contention([r for r in records if r["split"] == "calibration"], traces, cost, f_pos)
    assert cal["pass"]["pass_overhead_s"] > 0 and cal["single_request"]["passes"] > 0
    val = [r for r in records if r["split"] == "validation"]
    rows, per_client = compare_runs(val, traces, cal, cost, VOCAB)
    assert len(per_client) == len(val)
    assert {r["clients"] for r in rows} == {1, 2, 4}
    assert all(np.isfinite(c["predicted_s"]) and np.isfinite(c["reserved_predicted_s"]) for c in per_client)
    s = contention_summary(rows)
    assert s["settings"] == len(rows) and "reserved" in s
