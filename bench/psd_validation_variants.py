"""Re-predict the real runs of results/psd/validation with model variants, from runs.jsonl (no new runs).

    python bench/psd_validation_variants.py results/psd/validation

Variants: the validated model (atomic draft passes, calibrated per protocol and mode), the same with
interruptible passes (the simulator's default before the real runs), and with one draft time per
protocol (no interference term). Writes variants.json and prints one summary line per variant.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from uara.io import atomic_write_json
from uara.psd.testbed.real_validation import calibrate, calibration_key, compare, predict, summary


def main(folder: str, draft: str = "~/.cache/uara/drafts/smollm2-135m-draft4") -> None:
    import torch

    from uara.psd.measure.profiling import match_trace
    from uara.psd.measure.hf import load_weights

    out = Path(folder)
    val = json.loads((out / "validation.json").read_text())
    records = [json.loads(line) for line in (out / "runs.jsonl").open()]
    cal_ids = set(val["prompts"]["calibration"])
    cal_recs = [r for r in records if r["prompt_id"] in cal_ids]
    val_recs = [r for r in records if r["prompt_id"] not in cal_ids]
    model = load_weights(str(Path(draft).expanduser()))
    vocab = int(model.config.vocab_size)
    traces = {}
    for r in val_recs:
        key = (r["prompt_id"], tuple(r["output"]))
        if key not in traces:
            with torch.no_grad():
                traces[key] = match_trace(model, r["prompt_ids"], r["output"])
    cal = calibrate(cal_recs)
    pooled = calibrate([{**r, "setting": {**r["setting"], "mode": "any"}} for r in cal_recs])
    variants = {
        "validated (atomic passes, per protocol and mode)": lambda r, m: predict(r, m, cal[calibration_key(r["setting"])], vocab),
        "interruptible passes": lambda r, m: predict(r, m, cal[calibration_key(r["setting"])], vocab, atomic_passes=False),
        "one draft time per protocol": lambda r, m: predict(
            r, m, pooled[calibration_key({**r["setting"], "mode": "any"})], vocab),
    }
    result = {}
    for name, fn in variants.items():
        rows = compare(val_recs, [fn(r, traces[(r["prompt_id"], tuple(r["output"]))]) for r in val_recs])
        result[name] = {"summary": summary(rows), "settings": rows}
        s = result[name]["summary"]
        print(f"{name:<50} median |err| {s['median_abs_err_pct']:.2f} %, p95 {s['p95_abs_err_pct']:.2f} %, "
              f"max {s['max_abs_err_pct']:.2f} %")
    atomic_write_json(out / "variants.json", result)


if __name__ == "__main__":
    main(*sys.argv[1:])
