"""Measured profiles: real speculative decoding with a local (draft, target) pair.

For each prompt:

1. **Reference**: the target's own greedy output, one token per forward pass
   with a KV cache (:func:`greedy_reference`).
2. **Speculative run**: greedy SD or PSD with the same block rules as the
   simulator (:func:`speculative_generate`: pre-verify block of 1, then g - 1,
   then g; PSD drafts the next block before the verdict on the current one;
   a rejection drops every token drafted past the error; a bonus token that
   contradicts a token drafted past a fully accepted block ends the lineage).
   Each verification is one target forward over the block. The blocks
   (start, size, accepted) are recorded.
3. **Lossless check**: the speculative output must equal the reference token
   for token (both cut at ``max_new_tokens`` and after the first EOS). A
   failure records the first differing position and the target's top-2 logit
   margin there (a near-tie flipped by a different batch shape is numerics,
   not a decoding bug, and is reported as such).
4. **Match trace**: one teacher-forced draft pass over prompt + output gives
   the draft's greedy token at every output position; ``match[x]`` = it equals
   the output token. The recorded blocks are checked against the trace: the
   accepted count of a block starting at a with size m must be
   min(first mismatch >= a - a, m).

The profile stores the traces (the simulator replays them), run lengths,
per-block accepted counts, prompt/output lengths, model shapes (FLOPs per
token) and provenance. torch and transformers are imported lazily.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from uara.errors import UaraError
from uara.psd.measure import prompts as P
from uara.psd.simulation.acceptance import next_mismatch, run_lengths, trace_to_str
from uara.psd.workload.flops import ModelShape
from uara.psd.measure.hf import CachedLM, load_model, model_shape, require
from uara.psd.workload.profiles import PROFILE_FORMAT, TASK_TYPES, Profile


@dataclass
class PromptRun:
    """Everything measured on one prompt."""

    prompt_id: str
    task_type: str
    prompt_tokens: int
    output: list[int]
    reference: list[int]
    blocks: list[tuple[int, int, int]]  # (start, size, accepted)
    trace: np.ndarray
    spec_s: float
    reference_s: float
    draft_calls: int
    target_calls: int
    first_mismatch: int | None = None
    mismatch_margin: float | None = None
    blocks_consistent: int = 0
    blocks_checked: int = 0

    @property
    def lossless(self) -> bool:
        return self.output == self.reference

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.prompt_id, "task_type": self.task_type, "prompt_tokens": self.prompt_tokens,
            "output_tokens": len(self.output), "lossless": self.lossless, "first_mismatch": self.first_mismatch,
            "mismatch_margin": self.mismatch_margin, "alpha": float(self.trace.mean()) if self.trace.size else None,
            "rounds": len(self.blocks), "tokens_per_round": len(self.output) / max(len(self.blocks), 1),
            "blocks_checked": self.blocks_checked, "blocks_consistent_with_trace": self.blocks_consistent,
            "spec_s": self.spec_s,
            "reference_s": self.reference_s, "draft_forward_calls": self.draft_calls,
            "target_forward_calls": self.target_calls,
        }


def cut_at_eos(tokens: list[int], max_new: int, eos: set[int]) -> list[int]:
    out = tokens[:max_new]
    for k, t in enumerate(out):
        if t in eos:
            return out[: k + 1]
    return out


def greedy_reference(target: Any, prompt: list[int], max_new_tokens: int, eos: set[int]) -> list[int]:
    """The target's own greedy continuation (KV cache, one token per forward)."""
    lm = CachedLM(target)
    seq = list(prompt)
    for _ in range(max_new_tokens):
        nxt = int(lm.logits(seq, len(seq) - 1)[-1].argmax())
        seq.append(nxt)
        if nxt in eos:
            break
    return seq[len(prompt):]


def block_size(index: int, g: int, mode: str, pre_verify: bool) -> int:
    """Same rule as :meth:`uara.psd.simulation.simulator.Decoding.block_size`."""
    if mode == "psd" and pre_verify:
        return 1 if index == 1 else (max(g - 1, 1) if index == 2 else g)
    return g


def speculative_generate(draft: Any, target: Any, prompt: list[int], *, draft_length: int, mode: str = "psd",
                         pre_verify: bool = True, max_new_tokens: int = 128, eos: set[int] | None = None
                         ) -> tuple[list[int], list[tuple[int, int, int]], tuple[int, int]]:
    """Greedy SD/PSD (module docstring). Returns (output, blocks, (draft calls, target calls))."""
    if mode not in ("sd", "psd"):
        raise UaraError(f"mode: expected sd or psd, got {mode!r}")
    if draft_length < 1:
        raise UaraError(f"draft_length: expected >= 1, got {draft_length}")
    eos = eos or set()
    dlm, tlm = CachedLM(draft), CachedLM(target)
    n0 = len(prompt)
    toks = list(prompt)  # committed tokens, then drafted (unverified) ones
    p = a = n0           # committed length; start of the next block (a = p - 1 when its first token is
    blk = 1              # a draft already confirmed by the previous block's bonus token)
    blocks: list[tuple[int, int, int]] = []

    def draft_to(k: int) -> None:
        while len(toks) < k:
            toks.append(int(dlm.logits(toks, len(toks) - 1)[-1].argmax()))

    while p - n0 < max_new_tokens and not (eos & set(toks[n0:p])):
        m = block_size(blk, draft_length, mode, pre_verify)
        draft_to(a + m)
        if mode == "psd":  # the next block is drafted while this one is verified
            draft_to(a + m + block_size(blk + 1, draft_length, mode, pre_verify))
        b = a + m
        t = tlm.logits(toks[:b], a - 1).argmax(-1).tolist()  # target tokens at positions a .. b
        k = 0
        while k < m and toks[a + k] == t[k]:
            k += 1
        blocks.append((a - n0, m, k))
        if k < m:  # rejection: the target's token replaces the first wrong draft
            del toks[a + k:]
            toks.append(t[k])
            p = a = a + k + 1
            blk = 1
        elif len(toks) > b and toks[b] != t[m]:  # the bonus contradicts the draft made past the block
            del toks[b:]
            toks.append(t[m])
            p = a = b + 1
            blk = 1
        elif len(toks) > b:  # the bonus confirms it: committed, and it opens the next block
            p, a = b + 1, b
            blk += 1
        else:
            toks.append(t[m])
            p = a = b + 1
            blk += 1
    return cut_at_eos(toks[n0:p], max_new_tokens, eos), blocks, (dlm.forward_calls, tlm.forward_calls)


def match_trace(draft: Any, prompt: list[int], output: list[int]) -> np.ndarray:
    """Teacher-forced: True where the draft's greedy token equals the output token, shape (len(output),)."""
    if not output:
        return np.zeros(0, dtype=bool)
    lm = CachedLM(draft)
    seq = list(prompt) + list(output)
    pred = lm.logits(seq, len(prompt) - 1).argmax(-1).tolist()[: len(output)]
    return np.array([p == o for p, o in zip(pred, output)], dtype=bool)


def _check_pair(draft: Any, target: Any, dtok: Any, ttok: Any) -> None:
    dv, tv = int(draft.config.vocab_size), int(target.config.vocab_size)
    if dv != tv:
        raise UaraError(f"draft and target vocabularies differ: {dv} vs {tv} (same tokenizer required)")
    probe = "def f(x):\n    return x + 1  # café ∑"
    if dtok(probe)["input_ids"] != ttok(probe)["input_ids"]:
        raise UaraError("draft and target tokenizers encode text differently (same tokenizer required)")


def run_prompt(draft: Any, target: Any, tok: Any, prompt: P.Prompt, *, draft_length: int, mode: str,
               pre_verify: bool, max_new_tokens: int, style: str = "auto") -> PromptRun:
    """Measure one prompt (module docstring, steps 1-4)."""
    torch = require("torch")
    text = P.render(prompt, tok, style)
    templated = text != prompt.raw
    ids = tok(text, add_special_tokens=not templated)["input_ids"]
    eos = {int(tok.eos_token_id)} if tok.eos_token_id is not None else set()
    with torch.no_grad():
        t0 = time.perf_counter()
        ref = greedy_reference(target, ids, max_new_tokens, eos)
        t1 = time.perf_counter()
        out, blocks, (dc, tc) = speculative_generate(draft, target, ids, draft_length=draft_length, mode=mode,
                                                     pre_verify=pre_verify, max_new_tokens=max_new_tokens, eos=eos)
        t2 = time.perf_counter()
        trace = match_trace(draft, ids, out)
    run = PromptRun(prompt.id, prompt.task_type, len(ids), out, ref, blocks, trace, t2 - t1, t1 - t0, dc, tc)
    if not run.lossless:
        k = next((i for i, (a, b) in enumerate(zip(out, ref)) if a != b), min(len(out), len(ref)))
        run.first_mismatch = k
        if k < len(ref):
            with torch.no_grad():
                row = CachedLM(target).logits(ids + ref[:k + 1], len(ids) + k - 1)[0]
            top2 = torch.topk(row, 2).values
            run.mismatch_margin = float(top2[0] - top2[1])
    # the recorded blocks against the trace (positions past the trace count as mismatches)
    padded = np.concatenate([trace, np.zeros(max(draft_length, 1) + 2, dtype=bool)])
    nf = next_mismatch(padded[None, :])[0]
    inside = [(a, m, k) for a, m, k in blocks if a + m < len(trace)]  # verdict fully inside the output
    run.blocks_checked = len(inside)
    run.blocks_consistent = sum(1 for a, m, k in inside if k == min(int(nf[a]) - a, m))
    return run


def profile_pair(draft_spec: str, target_spec: str, prompt_set: Sequence[P.Prompt], *, name: str,
                 task_type: str | None = None, draft_length: int = 8, mode: str = "psd", pre_verify: bool = True,
                 max_new_tokens: int = 128, protocol: str = "full@4", threads: int = 1, style: str = "auto",
                 prompts_label: str = "", progress: bool = True,
                 log: Callable[[str], None] = print) -> tuple[Profile, list[PromptRun]]:
    """Run every prompt and build a measured :class:`Profile`."""
    torch = require("torch", "profiling models")
    torch.set_num_threads(threads)
    if not prompt_set:
        raise UaraError("prompts: empty prompt set")
    types = {p.task_type for p in prompt_set}
    ttype = task_type or (types.pop() if len(types) == 1 else None)
    if ttype not in TASK_TYPES:
        raise UaraError(f"task_type: expected one of {TASK_TYPES} (prompts have {sorted({p.task_type for p in prompt_set})})")
    t_start = time.time()
    draft, dtok, dref = load_model(draft_spec)
    target, ttok, tref = load_model(target_spec)
    _check_pair(draft, target, dtok, ttok)
    it: Any = prompt_set
    if progress:
        try:
            from tqdm import tqdm

            it = tqdm(prompt_set, desc=f"profiling {name}", unit="prompt")
        except ImportError:
            pass
    runs = []
    for p in it:
        runs.append(run_prompt(draft, target, ttok, p, draft_length=draft_length, mode=mode, pre_verify=pre_verify,
                               max_new_tokens=max_new_tokens, style=style))
        if not runs[-1].lossless:
            log(f"lossless check FAILED on {p.id} at position {runs[-1].first_mismatch} "
                f"(target top-2 logit margin {runs[-1].mismatch_margin})")
    wall = time.time() - t_start
    shapes = {k: ModelShape(name=ref.label.split("/")[-1], **model_shape(m))
              for k, (m, ref) in {"draft": (draft, dref), "target": (target, tref)}.items()}
    profile = build_profile(runs, name=name, task_type=ttype, draft=shapes["draft"], target=shapes["target"],
                            draft_length=draft_length, mode=mode, pre_verify=pre_verify, protocol=protocol,
                            provenance={
                                "kind": "measured",
                                "models": {"draft": dref.label, "target": tref.label},
                                "prompts": prompts_label or f"{len(prompt_set)} prompts",
                                "prompt_ids": [p.id for p in prompt_set],
                                "sample_size": len(runs),
                                "max_new_tokens": max_new_tokens,
                                "decoding": f"greedy {mode}, draft length {draft_length}, pre_verify {pre_verify}",
                                "torch_threads": threads,
                                "wall_s": wall,
                                "date": time.strftime("%Y-%m-%d"),
                            })
    return profile, runs


def build_profile(runs: Sequence[PromptRun], *, name: str, task_type: str, draft: ModelShape, target: ModelShape,
                  draft_length: int, mode: str, pre_verify: bool, protocol: str,
                  provenance: dict[str, Any]) -> Profile:
    """A measured profile from prompt runs (traces of empty outputs are skipped)."""
    good = [r for r in runs if len(r.output) > 0]
    if not good:
        raise UaraError("profiling: every output was empty")
    traces = [r.trace for r in good]
    alpha = float(np.concatenate(traces).mean())
    rl = np.concatenate([run_lengths(t) for t in traces]) if traces else np.zeros(0, dtype=int)
    vals, counts = np.unique(rl, return_counts=True)
    acc_counts = np.zeros(draft_length + 1, dtype=int)
    for r in good:
        for _, m, k in r.blocks:
            if m == draft_length:
                acc_counts[k] += 1
    n_blocks = sum(len(r.blocks) for r in good)
    checked = sum(r.blocks_checked for r in good)
    consistent = sum(r.blocks_consistent for r in good)
    d = {
        "format": PROFILE_FORMAT, "name": name, "task_type": task_type,
        "models": {"draft": draft.to_dict(), "target": target.to_dict()},
        "prompt_tokens": {"kind": "empirical", "values": [r.prompt_tokens for r in good]},
        "output_tokens": {"kind": "empirical", "values": [len(r.output) for r in good]},
        "acceptance": {
            "model": "traces", "alpha": alpha, "traces": [trace_to_str(t) for t in traces],
            "trace_ids": [r.prompt_id for r in good],
            "run_lengths": {"values": vals.tolist(), "counts": counts.tolist()},
            "accepted_lengths": {"draft_length": draft_length, "counts": acc_counts.tolist()},
        },
        "decoding": {"mode": mode, "draft_length": draft_length, "pre_verify": pre_verify, "protocol": protocol,
                     "stream_uplink": True},
        "provenance": provenance,
        "measured": {
            "lossless": {"checked": len(runs), "passed": sum(r.lossless for r in runs),
                         "failures": [{"id": r.prompt_id, "position": r.first_mismatch,
                                       "target_top2_margin": r.mismatch_margin} for r in runs if not r.lossless]},
            "blocks": n_blocks, "blocks_checked": checked, "blocks_consistent_with_trace": consistent,
            "tokens_per_round": float(sum(len(r.output) for r in good) / max(n_blocks, 1)),
            "per_prompt": [r.to_dict() for r in runs],
        },
    }
    return Profile.from_dict(d, source=name)
