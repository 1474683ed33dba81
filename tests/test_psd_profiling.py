"""Real speculative decoding with tiny random Hugging Face pairs: lossless,
consistent with the match traces the simulator replays, and the profile CLI."""

from __future__ import annotations

import json
import string

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from uara.psd.workload.profiles import load_profile  # noqa: E402
from uara.psd.measure.profiling import greedy_reference, match_trace, speculative_generate  # noqa: E402
from uara.psd.simulation.simulator import Decoding, Timing, simulate  # noqa: E402

VOCAB = 96
torch.set_num_threads(1)  # tiny models; more threads only add contention


def _pair(noise: float, seed: int = 0):
    """A random 2-layer GPT2 target and a draft = target + noise (same vocabulary)."""
    torch.manual_seed(seed)
    cfg = transformers.GPT2Config(n_layer=2, n_head=2, n_embd=32, vocab_size=VOCAB, n_positions=256,
                                  initializer_range=0.3, bos_token_id=1, eos_token_id=1)
    target = transformers.GPT2LMHeadModel(cfg).eval()
    draft = transformers.GPT2LMHeadModel(cfg).eval()
    with torch.no_grad():
        for p, q in zip(draft.parameters(), target.parameters()):
            p.copy_(q + noise * q.std() * torch.randn_like(q))
    return draft, target


@pytest.mark.parametrize("mode", ["sd", "psd"])
def test_greedy_speculative_decoding_is_lossless_and_matches_the_trace(mode):
    # float64: the teacher-forced trace and the incremental decoder then agree on every argmax
    draft, target = (m.double() for m in _pair(noise=0.3))
    rng = np.random.default_rng(0)
    alphas = []
    for g in (1, 3, 6):
        for _ in range(4):
            prompt = rng.integers(2, VOCAB, size=int(rng.integers(3, 12))).tolist()
            with torch.no_grad():
                ref = greedy_reference(target, prompt, 40, set())
                out, blocks, (dc, tc) = speculative_generate(draft, target, prompt, draft_length=g, mode=mode,
                                                             max_new_tokens=40)
                trace = match_trace(draft, prompt, out)
            assert out == ref  # token for token
            assert tc == len(blocks)  # one target forward per verified block
            alphas.append(trace.mean())
            # the simulator, replaying this trace, takes the same rounds as the real decoder
            padded = np.concatenate([trace, np.zeros(g + 2, dtype=bool)])[None, :]
            sim = simulate(len(out), padded, Timing(0.004, 0.001, link_latency_s=0.01), Decoding(mode, g))
            assert sim.rounds[0] == len(blocks)
            # every block's accepted count is the run of matches from its start
            for a, m, k in blocks:
                if a + m < len(trace):
                    run = 0
                    while run < m and trace[a + run]:
                        run += 1
                    assert k == run
    assert 0.1 < np.mean(alphas) < 0.95  # both accept and reject paths were exercised


def test_identical_draft_accepts_everything():
    draft, target = _pair(noise=0.0)
    with torch.no_grad():
        out, blocks, _ = speculative_generate(draft, target, [5, 6, 7], draft_length=5, mode="sd", max_new_tokens=30)
    assert all(k == m for _, m, k in blocks)
    assert len(blocks) == 5  # 6 tokens per round: 30 / 6


def _save_pair(tmp_path, noise):
    from tokenizers import Tokenizer, models, pre_tokenizers

    chars = list(string.ascii_letters + string.digits + " .,:;!?()[]{}_-+=*/\n'\"#<>")
    vocab = {"<unk>": 0, "<eos>": 1}
    for c in chars:
        vocab.setdefault(c, len(vocab))
    assert len(vocab) <= VOCAB
    tk = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.Split("", "isolated")
    tok = transformers.PreTrainedTokenizerFast(tokenizer_object=tk, unk_token="<unk>", eos_token="<eos>")
    draft, target = _pair(noise)
    paths = {}
    for name, model in (("draft", draft), ("target", target)):
        paths[name] = tmp_path / name
        model.save_pretrained(paths[name])
        tok.save_pretrained(paths[name])
    return paths


def test_profile_cli_on_a_local_pair(tmp_path, monkeypatch):
    from uara.cli import main

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    paths = _save_pair(tmp_path, noise=0.5)
    prompts = tmp_path / "p.jsonl"
    prompts.write_text("\n".join(json.dumps({"article": f"the article number {k} says hello"}) for k in range(6)))
    out = tmp_path / "prof.json"
    rc = main(["psd", "profile", "--draft", str(paths["draft"]), "--target", str(paths["target"]),
               "--prompts", f"jsonl:{prompts}", "--split", "all", "--output", str(out), "--max-new-tokens", "24",
               "--draft-length", "4", "--mode", "sd"])
    assert rc == 0
    prof = load_profile(out)
    assert prof.task_type == "summarisation" and prof.provenance["kind"] == "measured"
    assert prof.provenance["sample_size"] == 6 == len(prof.acceptance.trace_list)
    assert prof.measured["lossless"] == {"checked": 6, "passed": 6, "failures": []}
    assert prof.measured["blocks_consistent_with_trace"] == prof.measured["blocks_checked"] > 0
    traces = np.concatenate(prof.acceptance.trace_list)
    assert prof.acceptance.alpha == pytest.approx(traces.mean())
    assert prof.draft.vocab == prof.target.vocab == VOCAB
    assert prof.target.n_layers == 2 and prof.target.d_model == 32
    assert all(v <= 24 for v in prof.output_tokens.params["values"])


def test_mismatched_vocabularies_are_refused(tmp_path):
    from uara.errors import UaraError
    from uara.psd.measure.profiling import _check_pair

    d, t = _pair(0.1)
    cfg = transformers.GPT2Config(n_layer=1, n_head=2, n_embd=32, vocab_size=VOCAB + 4)
    other = transformers.GPT2LMHeadModel(cfg)
    with pytest.raises(UaraError, match="vocabularies differ"):
        _check_pair(other, t, None, None)
