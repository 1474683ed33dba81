"""`uara psd validate-contention`: the batched server model held against real concurrent runs.

1. **Traces** (untimed setup): per prompt, the target's greedy output and the draft's recorded proposal
   and draft time at every position (:func:`~uara.psd.testbed.concurrent_runner.record_trace`).
2. **Runs**: N in {1, 2, 4, 8} clients at once against one batching target server
   (:mod:`~uara.psd.testbed.concurrent_runner`), protocols ids and topk:64, each client with its own
   prompt and output length (so requests arrive out of phase), its own shaped link. Calibration runs
   (N in {1, 2}, train-split prompts) and validation runs (every N, eval-split prompts) interleaved in a
   seeded order, after warm-up runs that are discarded.
3. **Calibration**: the pass cost t = o + max((W + kv_b C) / B_mem, P f / F) fitted to every pass of the
   calibration runs (C context tokens, P verified positions of the batch), the draft-time overshoot of the
   replay and the per-message link overhead.
4. **Prediction**: each validation run simulated by :func:`~uara.psd.simulation.batched.simulate_batched`
   from its clients' own traces (output length, teacher-forced match trace, recorded draft times); beside
   it the ``reserved`` model of the same run: each client alone on a 1/N share of the server, i.e. its
   single-request pass time (fitted on the N = 1 calibration passes) times N.
"""

from __future__ import annotations

import json
import platform
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from uara.errors import UaraError
from uara.io import atomic_write_json
from uara.model.shared.formats import PSD_VALIDATION_FORMAT
from uara.model.shared.server_model import ServerHardware, TargetCost
from uara.psd.simulation.batched import Background, BatchedServers, BatchedTasks, simulate_batched
from uara.psd.simulation.simulator import Decoding, Timing, simulate
from uara.psd.testbed.concurrent_runner import Trace, record_trace, run_concurrent
from uara.psd.testbed.real_runner import LinkSetting
from uara.psd.testbed.real_validation import _link_overheads, frame_protocol, line_fit_nonneg_slope
from uara.psd.testbed.validation_campaign import tokenized_prompts

CLIENTS = (1, 2, 4, 8)
CALIBRATION_CLIENTS = (1, 2)
PROTOCOLS = ("ids", "topk:64")


def _plan(cal: Sequence[tuple[str, list[int]]], val: Sequence[tuple[str, list[int]]], *, rate_bps: float,
          delay_s: float, g: int, repeats: int, cal_repeats: int, lengths: tuple[int, int], eos: tuple[int, ...],
          seed: int, warmup: int) -> list[dict]:
    """The runs, interleaved in a seeded order: each client a prompt of its split and an output length."""
    rng = np.random.default_rng(seed)

    def run(split: str, n: int, proto: str, prompts: Sequence[tuple[str, list[int]]]) -> dict:
        pick = rng.choice(len(prompts), size=n, replace=n > len(prompts))
        jobs = [{"prompt_id": prompts[k][0], "prompt_ids": prompts[k][1], "eos": list(eos),
                 "max_new_tokens": int(rng.integers(lengths[0], lengths[1] + 1)),
                 "setting": LinkSetting(proto, rate_bps, delay_s, "psd", g).__dict__} for k in pick]
        return {"split": split, "jobs": jobs}

    runs = [run("calibration", n, p, cal) for n in CALIBRATION_CLIENTS for p in PROTOCOLS for _ in range(cal_repeats)]
    runs += [run("validation", n, p, val) for n in CLIENTS for p in PROTOCOLS for _ in range(repeats)]
    runs = [runs[i] for i in rng.permutation(len(runs))]
    warm = [{**run("warmup", 2, "ids", cal)} for _ in range(warmup)]
    return [{**r, "run": k} for k, r in enumerate(warm + runs)]


def fit_pass_cost(passes: Sequence[Sequence[float]], weight_bytes: float, kv_bytes: float, flops_per_position: float
                  ) -> dict[str, float]:
    """o, B_mem and F of t = o + max((W + kv_b C) / B_mem, P f / F) by least squares over the passes
    (start, end, requests, positions P, context tokens C)."""
    from scipy.optimize import least_squares

    arr = np.array([[p[1] - p[0], p[3], p[4]] for p in passes], float)
    t, pos, ctx = arr[:, 0], arr[:, 1], arr[:, 2]

    def model(x: np.ndarray) -> np.ndarray:
        o, bw, f = np.exp(x)
        return o + np.maximum((weight_bytes + kv_bytes * ctx) / bw, pos * flops_per_position / f)

    x0 = np.log([max(t.min() * 0.5, 1e-4), weight_bytes / max(t.min() * 0.5, 1e-4),
                 float(np.median(pos * flops_per_position / t))])
    fit = least_squares(lambda x: model(x) - t, x0, loss="soft_l1", f_scale=0.01)
    o, bw, f = np.exp(fit.x)
    err = 100 * np.abs(model(fit.x) - t) / t
    return {"pass_overhead_s": float(o), "memory_bandwidth_bytes_per_s": float(bw), "flops": float(f),
            "passes": int(t.size), "pass_abs_err_pct_median": float(np.median(err))}


def _match(trace: dict[str, Any], n: int, width: int) -> np.ndarray:
    """The teacher-forced match trace of the first n output positions, zero-padded to ``width`` positions."""
    out = np.zeros(width, dtype=bool)
    k = min(n, len(trace["proposals"]))
    out[:k] = np.array(trace["proposals"][:k]) == np.array(trace["reference"][:k])
    return out


def predict_run(recs: Sequence[dict[str, Any]], traces: dict[str, dict], cal: dict[str, Any], cost: TargetCost,
                vocab: int) -> tuple[np.ndarray, np.ndarray]:
    """(batched, reserved) predicted latency of each client of one run (module docstring, step 4)."""
    s = recs[0]["setting"]
    n_cl = len(recs)
    dec = Decoding(mode=s["mode"], draft_length=s["draft_length"], pre_verify=s["pre_verify"],
                   protocol=frame_protocol(s["protocol"]), vocab=vocab, max_draft_length=max(64, s["draft_length"]),
                   atomic_passes=True)
    n_out = np.array([len(r["output"]) for r in recs])
    width = int(n_out.max()) + dec.max_block + 2
    match = np.stack([_match(traces[r["prompt_id"]], len(r["output"]), width) for r in recs])
    td = np.array([np.mean(traces[r["prompt_id"]]["step_s"][:max(1, len(r["output"]))]) for r in recs])
    td = td + cal["draft_overshoot_s"]
    link = s["one_way_delay_s"] + cal["link_overhead_s"]
    timing = Timing(draft_s_per_token=td, verify_s_per_position=0.0, uplink_bps=s["bandwidth_bps"],
                    downlink_bps=s["bandwidth_bps"], link_latency_s=link)
    p = cal["pass"]
    hw = ServerHardware(np.array([p["flops"]]), np.array([p["memory_bandwidth_bytes_per_s"]]), np.array([1e30]),
                        np.array([p["pass_overhead_s"]]), max_batch=max(1, n_cl))
    tasks = BatchedTasks(n_out, match, timing, dec, np.zeros(n_cl, int),
                         np.array([len(r["prompt_ids"]) for r in recs], float), np.full(n_cl, cal["flops_per_position"]))
    batched = simulate_batched([tasks], BatchedServers(hw, cost, np.zeros(1), Background.none(1)))[0].latency_s
    one = cal["single_request"]
    reserved = simulate(n_out, match, Timing(td, n_cl * one["verify_s_per_position"], n_cl * one["verify_s_per_call"],
                                             s["bandwidth_bps"], s["bandwidth_bps"], link), dec).latency_s
    return batched, reserved


def calibrate_contention(recs: Sequence[dict[str, Any]], traces: dict[str, dict], cost: TargetCost,
                         flops_per_position: float) -> dict[str, Any]:
    """Pass cost, single-request verify time, replay overshoot and link overhead from the calibration runs."""
    passes = {json.dumps(p[:2]): p for r in recs for p in r["passes"]}.values()
    fit = fit_pass_cost(list(passes), cost.weight_bytes, cost.kv_bytes_per_token, flops_per_position)
    ones = np.array([[p[3], p[1] - p[0]] for p in passes if p[2] == 1], float)
    t_call, t_v = line_fit_nonneg_slope(ones[:, 0], ones[:, 1])
    measured = [e - s_ for r in recs for s_, e in r["phone"]["draft"]]
    recorded = [float(np.mean(traces[r["prompt_id"]]["step_s"])) for r in recs]
    return {"pass": fit, "flops_per_position": flops_per_position,
            "single_request": {"verify_s_per_call": float(t_call), "verify_s_per_position": float(t_v),
                               "passes": int(len(ones))},
            "draft_overshoot_s": float(np.mean(measured) - np.mean(recorded)),
            "link_overhead_s": float(np.mean([o for r in recs for o in _link_overheads(r)] or [0.0]))}


def compare_runs(recs: Sequence[dict[str, Any]], traces: dict[str, dict], cal: dict[str, Any], cost: TargetCost,
                 vocab: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Per validation setting (clients, protocol) and per client run: measured and predicted latencies."""
    by_run: dict[int, list[dict]] = defaultdict(list)
    for r in recs:
        by_run[r["run"]].append(r)
    per_client = []
    for run_id, rs in sorted(by_run.items()):
        rs = sorted(rs, key=lambda r: r["client"])
        bat, res = predict_run(rs, traces, cal, cost, vocab)
        for r, b, q in zip(rs, bat, res):
            per_client.append({"run": run_id, "client": r["client"], "clients": r["clients"],
                               "protocol": r["setting"]["protocol"], "prompt_id": r["prompt_id"],
                               "output_tokens": len(r["output"]), "measured_s": r["latency_s"],
                               "predicted_s": float(b), "reserved_predicted_s": float(q), "lossless": r["lossless"]})
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for c in per_client:
        groups[(c["clients"], c["protocol"])].append(c)
    rows = []
    for (n, proto), cs in sorted(groups.items()):
        meas = float(np.mean([c["measured_s"] for c in cs]))
        pred = float(np.mean([c["predicted_s"] for c in cs]))
        resv = float(np.mean([c["reserved_predicted_s"] for c in cs]))
        rows.append({"clients": n, "protocol": proto, "runs": len(cs), "measured_s": meas, "predicted_s": pred,
                     "error_pct": 100 * (pred - meas) / meas, "reserved_predicted_s": resv,
                     "reserved_error_pct": 100 * (resv - meas) / meas,
                     "per_run_abs_err_pct_median": float(np.median([abs(c["predicted_s"] - c["measured_s"])
                                                                    / c["measured_s"] * 100 for c in cs]))})
    return rows, per_client


def contention_summary(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    err = np.abs([r["error_pct"] for r in rows])
    res = np.abs([r["reserved_error_pct"] for r in rows])
    return {"median_abs_err_pct": float(np.median(err)), "p95_abs_err_pct": float(np.percentile(err, 95)),
            "max_abs_err_pct": float(err.max()), "settings": len(rows),
            "clients": sorted({int(r["clients"]) for r in rows}),
            "reserved": {"median_abs_err_pct": float(np.median(res)), "p95_abs_err_pct": float(np.percentile(res, 95)),
                         "max_abs_err_pct": float(res.max())}}


def target_cost_of(model: Any) -> tuple[TargetCost, float]:
    """fp32 weights and KV bytes per token (2 x layers x kv heads x head dim x 4 B), and 2 x params FLOP per
    verified position, of the loaded target."""
    cfg = model.config
    n_params = sum(p.numel() for p in model.parameters())
    heads = int(getattr(cfg, "num_key_value_heads", None) or cfg.num_attention_heads)
    head_dim = int(getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads)
    return TargetCost(4.0 * n_params, 2.0 * cfg.num_hidden_layers * heads * head_dim * 4.0), 2.0 * n_params


def run_contention(draft: str, target: str, output: str | Path, *, rate_bps: float = 10e6, delay_s: float = 0.005,
                   draft_length: int = 4, repeats: int = 4, calibration_repeats: int = 3,
                   lengths: tuple[int, int] = (32, 64), seed: int = 0, warmup: int = 2, reuse_runs: bool = False,
                   log=print) -> dict[str, Any]:
    """The whole protocol (module docstring); returns the ``PSD_VALIDATION_FORMAT`` record."""
    import torch

    from uara.psd.measure.hf import load_tokenizer, load_weights

    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    tok = load_tokenizer(target)
    cal_prompts, val_prompts = tokenized_prompts(tok, "train", 3), tokenized_prompts(tok, "eval", 5)
    if {p for p, _ in cal_prompts} & {p for p, _ in val_prompts}:
        raise UaraError("calibration and validation prompts overlap")
    eos = (int(tok.eos_token_id),) if tok.eos_token_id is not None else ()
    target_model = load_weights(target)
    vocab = int(target_model.config.vocab_size)
    cost, f_pos = target_cost_of(target_model)
    traces_file, runs_file = out / "traces.jsonl", out / "runs.jsonl"
    if reuse_runs and traces_file.exists() and runs_file.exists():
        traces = {t["prompt_id"]: t for t in map(json.loads, traces_file.read_text().splitlines())}
        records = [json.loads(line) for line in runs_file.read_text().splitlines()]
        t_traces = t_runs = float("nan")
        log(f"re-analysing {len(records)} stored client runs of {runs_file}")
    else:
        torch.set_num_threads(1)
        draft_model = load_weights(draft)
        traces = {}
        with torch.no_grad():
            for pid, ids in cal_prompts + val_prompts:
                traces[pid] = record_trace(draft_model, target_model, pid, ids, lengths[1], set(eos)).__dict__
        traces_file.write_text("".join(json.dumps(t) + "\n" for t in traces.values()))
        t_traces = time.perf_counter() - t_start
        runs = _plan(cal_prompts, val_prompts, rate_bps=rate_bps, delay_s=delay_s, g=draft_length, repeats=repeats,
                     cal_repeats=calibration_repeats, lengths=lengths, eos=eos, seed=seed, warmup=warmup)
        log(f"traces of {len(traces)} prompts in {t_traces:.0f} s; {len(runs)} concurrent runs "
            f"({warmup} warm-up, discarded)")
        records = run_concurrent(target, [Trace(**t) for t in traces.values()], runs, str(runs_file), vocab=vocab)
        t_runs = time.perf_counter() - t_start - t_traces
    records = [r for r in records if r["split"] != "warmup"]
    cal_recs = [r for r in records if r["split"] == "calibration"]
    val_recs = [r for r in records if r["split"] == "validation"]
    cal = calibrate_contention(cal_recs, traces, cost, f_pos)
    rows, per_client = compare_runs(val_recs, traces, cal, cost, vocab)
    record = {
        "format": PSD_VALIDATION_FORMAT, "kind": "contention",
        "models": {"draft": str(draft), "target": str(target)},
        "server_model": "batched", "settings": rows, "summary": contention_summary(rows), "runs": per_client,
        "prompts": {"calibration": [p for p, _ in cal_prompts], "validation": [p for p, _ in val_prompts]},
        "calibration": cal, "target_cost": {"weight_bytes": cost.weight_bytes, "kv_bytes_per_token": cost.kv_bytes_per_token},
        "lossless": {"runs": len(records), "lossless": sum(bool(r["lossless"]) for r in records)},
        "protocol": {"clients": list(CLIENTS), "calibration_clients": list(CALIBRATION_CLIENTS), "protocols": list(PROTOCOLS),
                     "rate_bps": rate_bps, "one_way_delay_s": delay_s, "mode": "psd", "draft_length": draft_length,
                     "output_tokens": list(lengths), "seed": seed, "warmup_runs": warmup,
                     "load": "trace-driven: each client replays its draft's recorded proposals and draft times",
                     "order": "calibration and validation runs interleaved in a seeded random order",
                     "cores": "server on core 1 (one torch thread), all clients on core 0"},
        "machine": {"cpu": platform.processor() or platform.machine(), "python": platform.python_version(),
                    "torch": torch.__version__},
        "wall_time_s": {"traces": t_traces, "runs": t_runs, "total": time.perf_counter() - t_start}}
    atomic_write_json(out / "validation.json", record)
    return record
