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


class _NullSender:
    def __init__(self):
        self.frames = []

    def send(self, frame):
        self.frames.append(frame)


def _verdict_rows(ids, accept, bonus):
    """Target logits over positions a-1 .. a+m-1 whose greedy tokens accept ``accept`` drafts, then ``bonus``."""
    greedy = list(ids[:accept]) + [bonus] + [0] * (len(ids) - accept)
    rows = np.zeros((len(ids) + 1, VOCAB))
    rows[np.arange(len(greedy)), greedy] = 1.0
    return rows


def test_server_follows_the_phones_lineage_after_an_unsent_abandoned_block():
    """The trace that deadlocked a fresh-clone CI run: a bonus token contradicts a block the phone had begun
    and abandoned unsent (the phone alone starts lineage 1), its next block is rejected, and a block drafted
    before that verdict arrives must be dropped as stale, not verified against the correction."""
    from uara.psd.testbed.payloads import up_payload
    from uara.psd.simulation.protocols import Protocol
    from uara.psd.testbed.real_runner import Server
    from uara.psd.testbed.shaped_link import KIND_BLOCK, Frame

    prompt = list(range(10, 20))
    job = Job("p", prompt, LinkSetting("ids", 2e6, 0.002, "psd", 4), max_new_tokens=24)
    down = _NullSender()
    srv = Server(None, job, down, VOCAB)

    def block(a, ids, lineage):
        return Frame(KIND_BLOCK, lineage=lineage, a=a, m=len(ids), payload=up_payload(Protocol.parse("ids"), ids, None, VOCAB))

    def verify(f, ids, accept, bonus):
        seq = srv.prepare(f)
        assert seq is not None
        srv.finish(f, seq, _verdict_rows(ids, accept, bonus), 0.0)
        return down.frames[-1]

    v = verify(block(10, [5, 6], 0), [5, 6], 2, 7)        # all accepted, bonus 7 at position 12
    assert (v.k, v.token) == (2, 7) and srv.known == prompt + [5, 6, 7]
    # the phone had drafted 8 at position 12, sees the bonus 7, abandons that block unsent: lineage 1
    f = block(13, [9], 1)
    v = verify(f, [9], 0, 4)                              # rejected: the phone resets to lineage 2
    assert v.k == 0 and srv.lineage == 2
    stale = block(14, [3, 3], 1)                          # drafted after 9 before the verdict came
    assert srv.is_stale(stale) and srv.prepare(stale) is None
    assert srv.known == prompt + [5, 6, 7, 4]
    fresh = block(14, [2], 2)                             # the phone's next block, after the correction 4
    v = verify(fresh, [2], 1, 1)
    assert v.k == 1 and srv.known == prompt + [5, 6, 7, 4, 2, 1]


def test_a_silent_link_raises_instead_of_hanging():
    import socket

    from uara.psd.testbed.shaped_link import LinkStalled, Receiver

    a, b = socket.socketpair()
    try:
        with pytest.raises(LinkStalled, match="no frame for 0.05 s"):
            Receiver(a, stall_s=0.05).wait()
    finally:
        a.close()
        b.close()
