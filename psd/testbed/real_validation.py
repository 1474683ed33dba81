"""Hold the PSD simulator against real, timed runs (:mod:`uara.psd.testbed.real_runner`).

1. **Calibration** (its own prompts): from the timestamps of real runs, per protocol, the draft time
   per token t_d (mean of the phone's draft passes, payload work included), the verification time
   t_call + (m + 1) t_v (least squares over the server's passes; payload work included), and the
   per-message overhead the link adds beyond rate and delay (sender-side framing, loopback, receiver
   parsing: the mean of receive time - (end of transmission + delay), each direction).
2. **Prediction** (other prompts): for each validation run, :func:`uara.psd.simulation.simulator.simulate` with
   the run's own output length and the draft's teacher-forced match trace on the run's output, the
   setting's protocol (frame header included), rate and delay, and the calibrated times.
3. **Comparison**: per setting, the mean measured and predicted end-to-end latency over the prompts,
   and the error; written as ``PSD_VALIDATION_FORMAT``.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Sequence

import numpy as np

from uara.psd.simulation.protocols import Protocol
from uara.psd.testbed.shaped_link import HEADER_BITS
from uara.psd.simulation.simulator import Decoding, Timing, simulate

from uara.model.shared.formats import PSD_VALIDATION_FORMAT as VALIDATION_FORMAT  # noqa: E402


def frame_protocol(spec: str) -> Protocol:
    """The protocol as the runner sends it: the 32-byte frame header on every message."""
    p = Protocol.parse(spec)
    return Protocol(p.name, p.k, p.prob_bits, HEADER_BITS)


def _link_overheads(rec: dict[str, Any]) -> list[float]:
    """receive - due time of the frames a receiver was idle for (up and down): the wake-up and loopback cost.
    Frames that came due while the receiver was busy wait in its queue, which the simulator models itself."""
    out = [row[1] - row[8] for row in rec["server"] if row[0] == "verify" and row[9]]
    out += [v[0] - v[5] for v in rec["phone"]["verdict"] if v[6]]
    return out


def _send_overheads(rec: dict[str, Any]) -> list[float]:
    """Payload building after the block's last draft token: handed to the link - end of last draft pass."""
    ends = [e for _, e in rec["phone"]["draft"]]
    out = []
    for tx in rec["uplink"]:
        before = [e for e in ends if e <= tx[0]]
        if before:
            out.append(tx[0] - before[-1])
    return out


def line_fit_nonneg_slope(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(intercept, slope) of y = a + b x by least squares with b >= 0: when the free slope is negative it sits
    on its bound and the intercept is the mean of y."""
    (a, b), *_ = np.linalg.lstsq(np.vstack([np.ones_like(x), x]).T, y, rcond=None)
    if b < 0:
        return float(y.mean()), 0.0
    return float(a), float(b)


def _verify_fit(records: Sequence[dict[str, Any]]) -> tuple[float, float, dict[str, float]]:
    """t_call + (m + 1) t_v by least squares with t_v >= 0 over every protocol's verification passes, plus each
    protocol's mean residual (the target-side payload work of split and pearl). On this CPU a pass over 2..5
    positions costs the same (t_v = 0): clipping a negative unconstrained slope without refitting the
    intercept over-predicted every verification by |t_v| (m + 1), ~7 ms of ~100 (the first validation)."""
    rows = [(Protocol.parse(r["setting"]["protocol"]).spec, row[3] + 1, row[6] - row[5])
            for r in records for row in r["server"] if row[0] == "verify"]
    t_call, t_v = line_fit_nonneg_slope(np.array([p for _, p, _ in rows], float), np.array([t for _, _, t in rows], float))
    resid = defaultdict(list)
    for (proto, p, t) in rows:
        resid[proto].append(t - (t_call + p * t_v))
    return float(t_call), float(t_v), {k: float(np.mean(v)) for k, v in resid.items()}


def calibrate(records: Sequence[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per protocol and mode: t_d, t_v, t_call and the per-message overheads (module docstring, step 1)."""
    t_call, t_v, extra = _verify_fit(records)
    by: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        by[calibration_key(r["setting"])].append(r)
    overhead = float(np.mean([o for r in records for o in _link_overheads(r)] or [0.0]))
    out = {}
    for key, recs in by.items():
        proto = key.split("/")[0]
        draft = [e - s for r in recs for s, e in r["phone"]["draft"]]
        sends = [o for r in recs for o in _send_overheads(r)]
        out[key] = {"draft_s_per_token": float(np.mean(draft)), "verify_s_per_position": max(t_v, 0.0),
                    "verify_s_per_call": max(t_call + extra.get(proto, 0.0), 0.0), "link_overhead_s": overhead,
                    "send_overhead_s": float(np.mean(sends)) if sends else 0.0, "draft_passes": len(draft)}
    return out


def calibration_key(setting: dict[str, Any]) -> str:
    """Times are calibrated per protocol and mode (drafting next to a verifying server is slower: interference)."""
    return f"{Protocol.parse(setting['protocol']).spec}/{setting['mode']}"


def predict(rec: dict[str, Any], match: np.ndarray, cal: dict[str, float], vocab: int, *,
            atomic_passes: bool = True) -> float:
    """The simulator's latency for one real run (module docstring, step 2)."""
    s = rec["setting"]
    extra = 0.5 * cal["send_overhead_s"] + cal["link_overhead_s"]  # the send work split over both directions
    timing = Timing(draft_s_per_token=cal["draft_s_per_token"], verify_s_per_position=cal["verify_s_per_position"],
                    verify_s_per_call=cal["verify_s_per_call"], uplink_bps=s["bandwidth_bps"],
                    downlink_bps=s["bandwidth_bps"], link_latency_s=s["one_way_delay_s"] + max(extra, 0.0))
    dec = Decoding(mode=s["mode"], draft_length=s["draft_length"], pre_verify=s["pre_verify"],
                   protocol=frame_protocol(s["protocol"]), vocab=vocab, max_draft_length=max(64, s["draft_length"]),
                   atomic_passes=atomic_passes)
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
