"""Hold the PSD simulator against real, timed runs (:mod:`uara.psd.real_runner`).

1. **Calibration** (its own prompts): from the timestamps of real runs, per protocol, the draft time
   per token t_d (mean of the phone's draft passes, payload work included), the verification time
   t_call + (m + 1) t_v (least squares over the server's passes; payload work included), and the
   per-message overhead the link adds beyond rate and delay (sender-side framing, loopback, receiver
   parsing: the mean of receive time - (end of transmission + delay), each direction).
2. **Prediction** (other prompts): for each validation run, :func:`uara.psd.simulator.simulate` with
   the run's own output length and the draft's teacher-forced match trace on the run's output, the
   setting's protocol (frame header included), rate and delay, and the calibrated times.
3. **Comparison**: per setting, the mean measured and predicted end-to-end latency over the prompts,
   and the error; written as ``uara-psd-validation/1``.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Sequence

import numpy as np

from uara.psd.protocols import Protocol
from uara.psd.shaped_link import HEADER_BITS
from uara.psd.simulator import Decoding, Timing, simulate

VALIDATION_FORMAT = "uara-psd-validation/1"


def frame_protocol(spec: str) -> Protocol:
    """The protocol as the runner sends it: the 32-byte frame header on every message."""
    p = Protocol.parse(spec)
    return Protocol(p.name, p.k, p.prob_bits, HEADER_BITS)


def _link_overheads(rec: dict[str, Any]) -> tuple[list[float], list[float]]:
    """receive - (end of transmission + delay) for every delivered frame, up and down."""
    delay = rec["setting"]["one_way_delay_s"]
    up = [srv[1] - (tx[2] + delay) for tx, srv in zip(rec["uplink"], rec["server"])]
    down = [ph[0] - (tx[2] + delay) for tx, ph in zip(rec["downlink"], rec["phone"]["verdict"])]
    return up, down


def _send_overheads(rec: dict[str, Any]) -> list[float]:
    """Payload building after the block's last draft token: handed to the link - end of last draft pass."""
    ends = [e for _, e in rec["phone"]["draft"]]
    out = []
    for tx in rec["uplink"]:
        before = [e for e in ends if e <= tx[0]]
        if before:
            out.append(tx[0] - before[-1])
    return out


def calibrate(records: Sequence[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per protocol: t_d, t_v, t_call and the per-message overhead (module docstring, step 1)."""
    by: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        by[Protocol.parse(r["setting"]["protocol"]).spec].append(r)
    out = {}
    for proto, recs in by.items():
        draft = [e - s for r in recs for s, e in r["phone"]["draft"]]
        xs, ys = [], []
        for r in recs:
            for row in r["server"]:
                if row[0] == "verify":
                    xs.append(row[3] + 1)
                    ys.append(row[6] - row[5])
        a = np.vstack([np.ones(len(xs)), np.asarray(xs, float)]).T
        (t_call, t_v), *_ = np.linalg.lstsq(a, np.asarray(ys), rcond=None)
        ups, downs, sends = [], [], []
        for r in recs:
            u, d = _link_overheads(r)
            ups += u
            downs += d
            sends += _send_overheads(r)
        out[proto] = {"draft_s_per_token": float(np.mean(draft)), "verify_s_per_position": float(max(t_v, 0.0)),
                      "verify_s_per_call": float(max(t_call, 0.0)), "uplink_overhead_s": float(np.mean(ups)),
                      "downlink_overhead_s": float(np.mean(downs)), "send_overhead_s": float(np.mean(sends)),
                      "draft_passes": len(draft), "verify_passes": len(xs)}
    return out


def predict(rec: dict[str, Any], match: np.ndarray, cal: dict[str, float], vocab: int) -> float:
    """The simulator's latency for one real run (module docstring, step 2)."""
    s = rec["setting"]
    extra = cal["send_overhead_s"] + 0.5 * (cal["uplink_overhead_s"] + cal["downlink_overhead_s"])
    timing = Timing(draft_s_per_token=cal["draft_s_per_token"], verify_s_per_position=cal["verify_s_per_position"],
                    verify_s_per_call=cal["verify_s_per_call"], uplink_bps=s["bandwidth_bps"],
                    downlink_bps=s["bandwidth_bps"], link_latency_s=s["one_way_delay_s"] + max(extra, 0.0))
    dec = Decoding(mode=s["mode"], draft_length=s["draft_length"], pre_verify=s["pre_verify"],
                   protocol=frame_protocol(s["protocol"]), vocab=vocab, max_draft_length=max(64, s["draft_length"]))
    n = len(rec["output"])
    trace = np.zeros((1, n + s["draft_length"] + 2), dtype=bool)
    trace[0, : len(match)] = match
    return float(simulate(np.array([n]), trace, timing, dec).latency_s[0])


def setting_key(s: dict[str, Any]) -> tuple:
    return (Protocol.parse(s["protocol"]).spec, float(s["bandwidth_bps"]), float(s["one_way_delay_s"]), s["mode"],
            int(s["draft_length"]))


def compare(records: Sequence[dict[str, Any]], predicted: Sequence[float]) -> list[dict[str, Any]]:
    """Per setting: prompts, mean measured and predicted latency, the error in percent."""
    groups: dict[tuple, list[tuple[float, float]]] = defaultdict(list)
    for r, p in zip(records, predicted):
        groups[setting_key(r["setting"])].append((r["latency_s"], p))
    rows = []
    for (proto, bw, delay, mode, g), pairs in groups.items():
        meas, pred = np.mean([m for m, _ in pairs]), np.mean([p for _, p in pairs])
        rows.append({"protocol": proto, "bandwidth_bps": bw, "one_way_delay_s": delay, "mode": mode,
                     "draft_length": g, "prompts": len(pairs), "predicted_s": float(pred), "measured_s": float(meas),
                     "error_pct": float(100 * (pred - meas) / meas),
                     "per_prompt_abs_err_pct_median": float(np.median([abs(p - m) / m * 100 for m, p in pairs]))})
    return rows


def summary(rows: Sequence[dict[str, Any]]) -> dict[str, float]:
    err = np.abs([r["error_pct"] for r in rows])
    return {"median_abs_err_pct": float(np.median(err)), "p95_abs_err_pct": float(np.percentile(err, 95)),
            "max_abs_err_pct": float(err.max()), "settings": len(rows)}
