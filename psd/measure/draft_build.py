"""Build a same-tokenizer draft for a target by on-policy distillation on CPU.

No small model shares SmolLM2's tokenizer offline, so the draft is built here:

1. **Data.** The target answers training prompts greedily (HumanEval and
   MT-bench ``train`` splits, plus templated instructions; never the ``eval``
   splits that profiles are measured on). Its greedy tokens are the labels:
   for greedy speculative decoding a draft token is accepted iff it equals the
   target's argmax, so cross-entropy on the target's own greedy output is the
   acceptance objective itself.
2. **Model.** A shallow copy of the target: the same config with
   ``num_hidden_layers = len(layers)``, its blocks initialised from the
   target's blocks ``layers`` (the candidate set with the lowest held-out
   cross-entropy before training), the target's token embedding and final
   norm copied (embedding frozen). The output head is untied and
   **vocabulary-pruned** (as in FR-Spec, Zhao et al. 2025): it keeps the
   target's embedding rows of the tokens that occur in the training answers
   (the set S) and zeros elsewhere, so a token outside S scores exactly 0 and
   is proposed only if every token of S scores below 0.
3. **Training.** AdamW on the copied blocks and final norm; cross-entropy
   over S plus one constant-0 "other" logit (what the zeroed rows give), on
   answer tokens only (prompts cut to their last ``max_prompt_tokens``); a
   linear-decay schedule; stopped by a **CPU-time** budget
   (``time.process_time``), so a loaded machine gets the same amount of work;
   every ``eval_every`` steps the held-out greedy agreement is measured and
   the best checkpoint is kept (early stopping). Generation is also bounded
   by CPU time and resumable (``train_data.json`` in the output folder).

Everything runs with ``torch.set_num_threads(threads)`` (default 1) and is
seeded. The result is a normal Hugging Face folder (``save_pretrained``,
fp16 weights, with the tokenizer) plus ``build_info.json`` (seed, layers,
data size, times, held-out agreement before/after). The weights are not
committed to the repository: run ``uara psd build-draft`` to rebuild them.
"""

from __future__ import annotations

import copy
import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from uara.errors import UaraError
from uara.model.shared.formats import DRAFT_BUILD_FORMAT
from uara.psd.measure import prompts as P
from uara.psd.measure.hf import load_model, require

#: candidate block sets tried for the initialisation (indices into the target's blocks)
DEFAULT_LAYER_CANDIDATES = ("0,1,2,3", "0,27,28,29")


@dataclass
class DraftBuildConfig:
    """Every knob of a draft build (recorded in ``build_info.json``)."""

    target: str = "smollm2"
    output: str = "~/.cache/uara/drafts/smollm2-135m-draft4"
    seed: int = 0
    threads: int = 1
    layer_candidates: tuple[str, ...] = DEFAULT_LAYER_CANDIDATES
    n_synthetic: int = 600
    max_new_tokens: int = 128
    gen_batch: int = 24
    gen_cpu_s: float = 600.0
    eval_every: int = 20
    train_cpu_s: float = 480.0
    lr: float = 1e-3
    batch_tokens: int = 2048
    max_prompt_tokens: int = 96
    holdout: float = 0.08


@dataclass
class _Sample:
    prompt: list[int]
    answer: list[int]


def _generate(model: Any, tok: Any, prompts: Sequence[P.Prompt], cfg: DraftBuildConfig, data_path: Path,
              log) -> tuple[list[_Sample], float]:
    """Greedy answers of the target, resumable: ``data_path`` keeps the samples,
    the ids of the prompts done and the CPU seconds spent so far."""
    torch = require("torch")
    data = json.loads(data_path.read_text()) if data_path.is_file() else {}
    samples = [_Sample(s["prompt"], s["answer"]) for s in data.get("samples", [])]
    # files from the first build kept no ids: their samples are the first prompts of the same order
    done = set(data.get("done", [p.id for p in prompts[: len(samples)]]))
    spent = float(data.get("gen_cpu_s", data.get("gen_s", 0.0)))
    todo = [p for p in prompts if p.id not in done]
    tok.padding_side = "left"
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    eos = tok.eos_token_id
    for b in range(0, len(todo), cfg.gen_batch):
        if spent >= cfg.gen_cpu_s:
            break
        c0 = time.process_time()
        chunk = todo[b:b + cfg.gen_batch]
        texts = [P.render(p, tok) for p in chunk]
        enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.no_grad():
            gen = model.generate(**enc, max_new_tokens=cfg.max_new_tokens, do_sample=False, pad_token_id=pad)
        width = enc["input_ids"].shape[1]
        for r, p in enumerate(chunk):
            ids = enc["input_ids"][r][enc["attention_mask"][r].bool()].tolist()
            ans = gen[r, width:].tolist()
            if eos in ans:
                ans = ans[: ans.index(eos) + 1]
            if len(ans) >= 2:
                samples.append(_Sample(ids, ans))
            done.add(p.id)
        spent += time.process_time() - c0
        data_path.write_text(json.dumps({"gen_cpu_s": spent, "done": sorted(done),
                                         "samples": [asdict(s) for s in samples]}))
        log(f"generated {len(samples)} answers, {sum(len(s.answer) for s in samples)} tokens, cpu {spent:.0f} s")
    return samples, spent


def _make_draft(target: Any, layers: list[int]) -> Any:
    """A shallow copy of ``target`` keeping blocks ``layers``; embeddings/head/norm frozen copies."""
    cfg = copy.deepcopy(target.config)
    cfg.num_hidden_layers = len(layers)
    if hasattr(cfg, "quantization_config"):
        delattr(cfg, "quantization_config")
    for attr in ("layer_types",):
        if getattr(cfg, attr, None) is not None:
            setattr(cfg, attr, [getattr(target.config, attr)[i] for i in layers])
    draft = type(target)(cfg)
    sd = target.state_dict()
    new = {}
    for k, v in sd.items():
        if k.startswith("model.layers."):
            idx = int(k.split(".")[2])
            if idx in layers:
                new[k.replace(f"model.layers.{idx}.", f"model.layers.{layers.index(idx)}.", 1)] = v.clone()
        else:
            new[k] = v.clone()
    missing, unexpected = draft.load_state_dict(new, strict=False)
    missing = [m for m in missing if "lm_head" not in m]
    if missing or unexpected:
        raise UaraError(f"draft init: missing {missing[:3]}, unexpected {unexpected[:3]}")
    draft.tie_weights()
    for name, p in draft.named_parameters():
        p.requires_grad_(name.startswith("model.layers.") or name.startswith("model.norm"))
    return draft


def _truncate(samples: list[_Sample], max_prompt: int) -> list[_Sample]:
    return [_Sample(s.prompt[-max_prompt:], s.answer) for s in samples]


def _prune_head(draft: Any, keep: list[int]) -> None:
    """Untie the output head and zero every row outside ``keep`` (frozen)."""
    torch = require("torch")
    emb = draft.model.embed_tokens.weight.detach()
    head = torch.zeros_like(emb)
    idx = torch.tensor(keep, dtype=torch.long)
    head[idx] = emb[idx]
    draft.config.tie_word_embeddings = False
    draft.lm_head = torch.nn.Linear(emb.shape[1], emb.shape[0], bias=False)
    draft.lm_head.weight = torch.nn.Parameter(head, requires_grad=False)


def _batches(samples: list[_Sample], batch_tokens: int, rng: np.random.Generator):
    """Length-bucketed batches: (input_ids, labels, mask) with labels -100 outside answers."""
    torch = require("torch")
    order = sorted(range(len(samples)), key=lambda i: len(samples[i].prompt) + len(samples[i].answer))
    groups, cur, cur_max = [], [], 0
    for i in order:
        n = len(samples[i].prompt) + len(samples[i].answer)
        if cur and max(cur_max, n) * (len(cur) + 1) > batch_tokens:
            groups.append(cur)
            cur, cur_max = [], 0
        cur.append(i)
        cur_max = max(cur_max, n)
    if cur:
        groups.append(cur)
    rng.shuffle(groups)
    for g in groups:
        width = max(len(samples[i].prompt) + len(samples[i].answer) for i in g)
        ids = torch.zeros((len(g), width), dtype=torch.long)
        lab = torch.full((len(g), width), -100, dtype=torch.long)
        mask = torch.zeros((len(g), width), dtype=torch.long)
        for r, i in enumerate(g):
            s = samples[i]
            seq = s.prompt + s.answer
            ids[r, : len(seq)] = torch.tensor(seq)
            lab[r, len(s.prompt): len(seq)] = torch.tensor(s.answer)
            mask[r, : len(seq)] = 1
        yield ids, lab, mask


def agreement(model: Any, samples: list[_Sample], batch_tokens: int = 4096) -> tuple[float, float]:
    """Teacher-forced (agreement, cross-entropy): the fraction of answer tokens equal
    to ``model``'s argmax, and the mean cross-entropy (nats) of the answer tokens."""
    torch = require("torch")
    hit = tot = 0
    ce = 0.0
    with torch.no_grad():
        for ids, lab, mask in _batches(samples, batch_tokens, np.random.default_rng(0)):
            logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1]
            pred = logits.argmax(-1)
            tgt = lab[:, 1:]
            ok = tgt != -100
            hit += int((pred[ok] == tgt[ok]).sum())
            tot += int(ok.sum())
            ce += float(torch.nn.functional.cross_entropy(logits[ok], tgt[ok], reduction="sum"))
    return hit / max(tot, 1), ce / max(tot, 1)


@dataclass
class _Distillation:
    """What the distillation loop did (for ``build_info.json``)."""

    step: int = 0
    seen: int = 0
    epoch: int = 0
    losses: list[float] = field(default_factory=list)
    history: list[dict[str, float]] = field(default_factory=list)
    best_acc: float = -1.0
    best_step: int = 0
    best_state: dict[str, Any] | None = None
    train_s: float = 0.0
    train_cpu_s: float = 0.0


def _distil(draft: Any, w_s: Any, to_s: Any, params: list[Any], train_t: list[_Sample], hold_t: list[_Sample],
            cfg: DraftBuildConfig, rng: np.random.Generator, log) -> _Distillation:
    """Train the draft's blocks on the target's greedy answers for ``train_cpu_s`` CPU seconds:
    cross-entropy over the pruned vocabulary S (+ one "other" class) through the frozen head rows
    ``w_s``, AdamW with 10 warm-up steps and a linear decay in CPU time, gradient clipping at 1;
    held-out agreement every ``eval_every`` steps keeps the best state."""
    torch = require("torch")
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.0)
    draft.train()
    run = _Distillation()
    c0, t0 = time.process_time(), time.time()
    used = lambda: time.process_time() - c0  # noqa: E731
    while used() < cfg.train_cpu_s:
        run.epoch += 1
        for ids, lab, mask in _batches(train_t, cfg.batch_tokens, rng):
            frac = min(1.0, used() / cfg.train_cpu_s)
            for g in opt.param_groups:
                g["lr"] = cfg.lr * min(1.0, (run.step + 1) / 10) * max(0.05, 1.0 - frac)
            h = draft.model(input_ids=ids, attention_mask=mask).last_hidden_state[:, :-1]
            tgt = lab[:, 1:]
            ok = tgt != -100
            logits = h[ok] @ w_s.T
            logits = torch.cat([logits, logits.new_zeros(logits.shape[0], 1)], dim=1)
            loss = torch.nn.functional.cross_entropy(logits, to_s[tgt[ok]])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
            run.step += 1
            run.seen += int(ok.sum())
            run.losses.append(float(loss.detach()))
            if run.step % 10 == 0:
                log(f"epoch {run.epoch} step {run.step} loss {np.mean(run.losses[-10:]):.3f} tokens {run.seen} "
                    f"cpu {used():.0f} s wall {time.time() - t0:.0f} s")
            if run.step % cfg.eval_every == 0:
                draft.eval()
                acc, ce = agreement(draft, hold_t)
                draft.train()
                run.history.append({"step": run.step, "cpu_s": used(), "heldout_agreement": acc, "heldout_ce": ce})
                log(f"  held-out agreement {acc:.3f}, cross-entropy {ce:.2f}")
                if acc > run.best_acc:
                    run.best_acc, run.best_step = acc, run.step
                    run.best_state = {k: v.detach().clone() for k, v in draft.state_dict().items()}
            if used() >= cfg.train_cpu_s:
                break
    run.train_s, run.train_cpu_s = time.time() - t0, used()
    return run


def _training_data(cfg: DraftBuildConfig, target: Any, tok: Any, out_dir: Path, rng: np.random.Generator,
                   log) -> tuple[list[_Sample], list[_Sample], float]:
    """The target's greedy answers to the training prompts (HumanEval and MT-bench train splits plus
    synthetic instructions, shuffled, length-sorted in windows), split into (train, held-out)."""
    pr = P.humaneval("train") + P.mtbench("train", turn=0) + P.mtbench("train", turn=1)
    pr += P.synthetic_instructions(cfg.n_synthetic, cfg.seed)
    pr = [pr[i] for i in rng.permutation(len(pr))]
    w = cfg.gen_batch * 4  # sort windows by length: less left padding, types still mixed
    pr = [q for k in range(0, len(pr), w) for q in sorted(pr[k:k + w], key=lambda q: len(q.text))]
    samples, gen_s = _generate(target, tok, pr, cfg, out_dir / "train_data.json", log)
    n_hold = max(4, int(cfg.holdout * len(samples)))
    perm = rng.permutation(len(samples))
    return [samples[i] for i in perm[n_hold:]], [samples[i] for i in perm[:n_hold]], gen_s


def _initial_layers(cfg: DraftBuildConfig, target: Any, hold: list[_Sample], log) -> tuple[list[int], dict[str, Any]]:
    """The candidate block set whose draft has the lowest held-out cross-entropy before training."""
    scores = {}
    for cand in cfg.layer_candidates:
        layers = [int(x) for x in cand.split(",")]
        if max(layers) >= target.config.num_hidden_layers:
            continue
        acc, ce = agreement(_make_draft(target, layers), hold[:16])
        scores[cand] = {"agreement": acc, "cross_entropy": ce}
        log(f"init layers {cand}: held-out agreement {acc:.3f}, cross-entropy {ce:.2f}")
    best = min(scores, key=lambda c: scores[c]["cross_entropy"])
    return [int(x) for x in best.split(",")], scores


def build_draft(cfg: DraftBuildConfig, log=print) -> dict[str, Any]:
    """Run the whole build; returns the ``build_info`` dict (also written next to the weights)."""
    torch = require("torch", "building a draft model")
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    out_dir = Path(cfg.output).expanduser()
    out_dir.mkdir(parents=True, exist_ok=True)
    t_start = time.time()
    target, tok, ref = load_model(cfg.target)
    train, hold, gen_s = _training_data(cfg, target, tok, out_dir, rng, log)
    layers, scores = _initial_layers(cfg, target, hold, log)
    draft = _make_draft(target, layers)
    del target
    vocab_s = sorted({t for s in train for t in s.answer})
    _prune_head(draft, vocab_s)
    torch_s = torch.tensor(vocab_s, dtype=torch.long)
    to_s = torch.full((draft.config.vocab_size,), len(vocab_s), dtype=torch.long)  # "other" = len(S)
    to_s[torch_s] = torch.arange(len(vocab_s))
    w_s = draft.lm_head.weight.detach()[torch_s]  # (|S|, d), frozen
    params = [p for p in draft.parameters() if p.requires_grad]
    hold_t = _truncate(hold, 10**9)
    run = _distil(draft, w_s, to_s, params, _truncate(train, cfg.max_prompt_tokens), hold_t, cfg, rng, log)
    draft.eval()
    after, after_ce = agreement(draft, hold_t)
    best_step = run.best_step
    if run.best_state is not None and run.best_acc > after:  # early stopping: keep the best checkpoint
        draft.load_state_dict(run.best_state)
        after, after_ce = agreement(draft, hold_t)
    else:
        best_step = run.step
    log(f"held-out agreement of the kept draft (step {best_step}): {after:.3f} (cross-entropy {after_ce:.2f})")
    draft.half().save_pretrained(out_dir)
    tok.save_pretrained(out_dir)
    info = {
        "format": DRAFT_BUILD_FORMAT,
        "config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(cfg).items()},
        "target": ref.label,
        "layers": layers,
        "init_agreement": scores,
        "heldout_agreement": after,
        "kept_step": best_step,
        "history": run.history,
        "heldout_cross_entropy": after_ce,
        "n_train_answers": len(train),
        "n_heldout_answers": len(hold),
        "train_answer_tokens": int(sum(len(s.answer) for s in train)),
        "train_steps": run.step,
        "train_tokens_seen": run.seen,
        "epochs": run.epoch,
        "final_loss": float(np.mean(run.losses[-20:])) if run.losses else math.nan,
        "pruned_vocab": len(vocab_s),
        "gen_cpu_s": gen_s,
        "train_s": run.train_s,
        "train_cpu_s": run.train_cpu_s,
        "total_s": time.time() - t_start,
        "trainable_params": int(sum(p.numel() for p in params)),
        "torch_threads": cfg.threads,
    }
    (out_dir / "build_info.json").write_text(json.dumps(info, indent=1))
    return info


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for f in DraftBuildConfig.__dataclass_fields__.values():
        if f.name == "layer_candidates":
            ap.add_argument("--layer-candidates", nargs="+", default=list(f.default))
        else:
            ap.add_argument("--" + f.name.replace("_", "-"), type=type(f.default), default=f.default)
    a = ap.parse_args(argv)
    cfg = DraftBuildConfig(**{k: (tuple(v) if k == "layer_candidates" else v) for k, v in vars(a).items()})
    info = build_draft(cfg, log=lambda s: print(s, flush=True))
    print(json.dumps({k: info[k] for k in ("layers", "heldout_agreement", "total_s")}))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
