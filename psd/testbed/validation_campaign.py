"""`uara psd validate-real`: calibrate on some prompts, run the validation settings on others, compare
the simulator's predictions with the measured latencies, write results (results/psd/validation/).

    uara psd validate-real --draft ~/.cache/uara/drafts/smollm2-135m-draft4 --target smollm2 \\
        --output results/psd/validation
"""

from __future__ import annotations

import platform
import time
import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from uara.errors import UaraError
from uara.io import atomic_write_json
from uara.psd.testbed.real_runner import Job, LinkSetting, run_pair
from uara.psd.testbed.real_validation import VALIDATION_FORMAT, calibrate, calibration_key, compare, predict, summary

MBPS = 1e6
#: (protocol, rate bit/s, mode): 13 settings over 5 protocols, 3 rates, SD and PSD (delay and g below)
DEFAULT_SETTINGS = (
    [("ids", r, m) for r in (1 * MBPS, 10 * MBPS, 100 * MBPS) for m in ("sd", "psd")]
    + [("topk:64", 1 * MBPS, "sd"), ("topk:64", 100 * MBPS, "sd"), ("topk:64", 100 * MBPS, "psd")]
    + [("full@4", 10 * MBPS, "psd"), ("full@4", 100 * MBPS, "sd")]
    + [("split", 10 * MBPS, "sd"), ("pearl", 100 * MBPS, "psd")]
)
#: calibration: every (protocol, mode) the settings use, at one rate, on its own prompts
CALIBRATION_SETTINGS = [("ids", 10 * MBPS, "sd"), ("ids", 10 * MBPS, "psd"), ("topk:64", 10 * MBPS, "sd"),
                        ("topk:64", 10 * MBPS, "psd"), ("full@4", 100 * MBPS, "sd"), ("full@4", 100 * MBPS, "psd"),
                        ("split", 10 * MBPS, "sd"), ("pearl", 100 * MBPS, "psd")]


def tokenized_prompts(tok: Any, split: str, per_source: int) -> list[tuple[str, list[int]]]:
    """(id, token ids under ``tok``) of the first ``per_source`` HumanEval and MT-bench prompts of ``split``."""
    from uara.psd.measure import prompts as P

    out = []
    for prompt in P.humaneval(split, per_source) + P.mtbench(split, per_source):
        text = P.render(prompt, tok)
        ids = tok(text, add_special_tokens=text == prompt.raw)["input_ids"]
        out.append((prompt.id, [int(t) for t in ids]))
    return out


def _jobs(prompts: Sequence[tuple[str, list[int]]], settings: Sequence[tuple], delay_s: float, g: int,
          max_new: int, eos: tuple[int, ...]) -> list[Job]:
    return [Job(pid, ids, LinkSetting(proto, rate, delay_s, mode, g), max_new, eos)
            for proto, rate, mode in settings for pid, ids in prompts]


def interference(records: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Draft pass time when the target is idle (SD) vs verifying on the other core (PSD): the cost of sharing."""
    def mean_pass(mode: str) -> float:
        d = [e - s for r in records if r["setting"]["mode"] == mode and r["setting"]["protocol"] == "ids"
             for s, e in r["phone"]["draft"]]
        return float(np.mean(d)) if d else float("nan")

    sd, psd = mean_pass("sd"), mean_pass("psd")
    return {"draft_pass_s_sd": sd, "draft_pass_s_psd": psd, "psd_slowdown_pct": 100 * (psd / sd - 1)}


def run_validation(draft: str, target: str, output: str | Path, *, calibration_per_source: int = 2,
                   validation_per_source: int = 5, max_new_tokens: int = 48, delay_s: float = 0.005,
                   draft_length: int = 4, settings: Sequence[tuple] = DEFAULT_SETTINGS,
                   calibration_settings: Sequence[tuple] = CALIBRATION_SETTINGS, warmup: int = 2,
                   reuse_runs: bool = False, log=print) -> dict[str, Any]:
    """The whole protocol (module docstring); returns the ``PSD_VALIDATION_FORMAT`` record."""
    from uara.psd.measure.hf import load_tokenizer, resolve
    from uara.psd.measure.hf import load_weights

    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    tok = load_tokenizer(target)
    cal_prompts = tokenized_prompts(tok, "train", calibration_per_source)
    val_prompts = tokenized_prompts(tok, "eval", validation_per_source)
    overlap = {p for p, _ in cal_prompts} & {p for p, _ in val_prompts}
    if overlap:
        raise UaraError(f"calibration and validation prompts overlap: {sorted(overlap)[:3]}")
    eos = (int(tok.eos_token_id),) if tok.eos_token_id is not None else ()
    cal_jobs = _jobs(cal_prompts, calibration_settings, delay_s, draft_length, max_new_tokens, eos)
    val_jobs = _jobs(val_prompts, settings, delay_s, draft_length, max_new_tokens, eos)
    warm = [Job(f"warmup/{j.prompt_id}", j.prompt_ids, j.setting, j.max_new_tokens, j.eos) for j in cal_jobs[:warmup]]
    # interleaved in a seeded random order: a machine that speeds up or slows down during the session
    # (warm-up, frequency) then shifts calibration and validation alike; prompts stay disjoint
    order = np.random.default_rng(0).permutation(len(cal_jobs) + len(val_jobs))
    mixed = [(cal_jobs + val_jobs)[i] for i in order]
    runs_file = out / "runs.jsonl"
    if reuse_runs and runs_file.exists():  # re-analyse the stored runs (a calibration or model change)
        with runs_file.open(encoding="utf-8") as fh:
            records = [r for r in map(json.loads, fh) if not r["prompt_id"].startswith("warmup/")]
        previous = json.loads((out / "validation.json").read_text()) if (out / "validation.json").exists() else {}
        t_runs = previous.get("wall_time_s", {}).get("runs", float("nan"))
        log(f"re-analysing {len(records)} stored runs of {runs_file}")
    else:
        log(f"real runs: {len(warm)} warm-up (discarded) + {len(cal_jobs)} calibration + {len(val_jobs)} validation")
        records = run_pair(draft, target, warm + mixed, str(runs_file))[len(warm):]
        t_runs = time.perf_counter() - t_start
    cal_ids = {p for p, _ in cal_prompts}
    cal_recs = [r for r in records if r["prompt_id"] in cal_ids]
    val_recs = [r for r in records if r["prompt_id"] not in cal_ids]
    cal = calibrate(cal_recs)
    predicted = _predict_all(load_weights(draft), val_recs, cal)
    rows = compare(val_recs, predicted)
    record = {"format": VALIDATION_FORMAT,
              "models": {"draft": resolve(draft).label if draft == "smollm2" else str(draft), "target": resolve(target).label},
              "settings": rows, "summary": summary(rows),
              "prompts": {"calibration": [p for p, _ in cal_prompts], "validation": [p for p, _ in val_prompts]},
              "calibration": cal, "interference": interference(val_recs),
              "lossless": {"runs": len(records), "lossless": sum(bool(r["lossless"]) for r in records)},
              "protocol": {"order": "warm-up runs discarded, then calibration and validation runs interleaved "
                                    "in a seeded random order", "warmup_runs": len(warm), "max_new_tokens": max_new_tokens, "one_way_delay_s": delay_s, "draft_length": draft_length,
                           "frame_header_bytes": 40, "clock": "time.perf_counter (CLOCK_MONOTONIC), one machine",
                           "cores": "phone on core 0, server on core 1, one torch thread each"},
              "machine": {"cpu": platform.processor() or platform.machine(), "python": platform.python_version()},
              "wall_time_s": {"runs": t_runs, "analysis": time.perf_counter() - t_start}}
    atomic_write_json(out / "validation.json", record)
    _plot(rows, out / "predicted_vs_measured.png")
    return record


def _predict_all(draft_model: Any, recs: Sequence[dict[str, Any]], cal: dict[str, dict[str, float]]) -> list[float]:
    import torch

    from uara.psd.measure.profiling import match_trace

    vocab = int(draft_model.config.vocab_size)
    traces: dict[tuple, np.ndarray] = {}
    out = []
    for r in recs:
        key = (r["prompt_id"], tuple(r["output"]))
        if key not in traces:
            with torch.no_grad():
                traces[key] = match_trace(draft_model, r["prompt_ids"], r["output"])
        out.append(predict(r, traces[key], cal[calibration_key(r["setting"])], vocab))
    return out


def _plot(rows: Sequence[dict[str, Any]], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, ax = plt.subplots(figsize=(5.5, 5))
    for mode, marker in (("sd", "o"), ("psd", "s")):
        sel = [r for r in rows if r["mode"] == mode]
        ax.scatter([r["measured_s"] for r in sel], [r["predicted_s"] for r in sel], marker=marker, label=mode.upper())
        for r in sel:
            ax.annotate(f"{r['protocol']} {r['bandwidth_bps'] / 1e6:g}M", (r["measured_s"], r["predicted_s"]), fontsize=6)
    lim = [0, 1.05 * max(max(r["measured_s"], r["predicted_s"]) for r in rows)]
    ax.plot(lim, lim, "k--", lw=0.8, label="predicted = measured")
    ax.set_xlim(lim)
    ax.set_ylim(lim)
    ax.set_xlabel("measured mean latency (s)")
    ax.set_ylabel("simulator's prediction (s)")
    ax.set_title("PSD simulator vs real two-process runs")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120, metadata={"Software": None})
    plt.close(fig)
