"""Where TK-SLT's closed-form draft length agrees with the PSD simulator and where it does not (issue 24, item 5).

    python bench/draft_length_table.py [--output results/draft_length]

Grid: acceptance alpha in {0.5, 0.7, 0.8, 0.9, 0.95} x uplink {1, 10, 100} Mbit/s x top-K payload
K in {1, 16, 128} (``topk:K``: id + K (16-bit prob + id) bits per draft token). Fixed: draft 8 ms/token
(a phone's small draft), server 20 ms per verification call plus 1 ms per verified position, 10 ms one-way
link latency, 100 Mbit/s downlink. Per point, the best length in 1..16 of:

- ``closed``: :func:`uara.psd.draft_length.optimal_draft_length` (sequential SD, i.i.d. acceptance);
- ``sd``: the simulator in sequential mode, the same assumptions (it should agree);
- ``psd``: the simulator with PSD (look-ahead: the phone drafts the next block during verification)
  and pre-verify (a one-token first block), the configuration uara's instances use;

each simulated over 64 seeded i.i.d. traces of 512 tokens (common random numbers across lengths), and
the PSD latency at the closed-form length relative to PSD's best (what using the closed form costs under
PSD). Writes table.md and table.json atomically; seeded, so reruns give the same numbers.
"""

from __future__ import annotations

import argparse
import itertools
import platform
import time
from pathlib import Path

import numpy as np

from uara.io import atomic_write_json, atomic_write_text
from uara.psd.draft_length import RoundCosts, continuous_optimum, optimal_draft_length
from uara.psd.simulation.acceptance import Acceptance
from uara.psd.simulation.protocols import Protocol
from uara.psd.simulation.simulator import Decoding, Timing, simulate

ALPHAS = (0.5, 0.7, 0.8, 0.9, 0.95)
UPLINKS_BPS = (1e6, 10e6, 100e6)
TOP_K = (1, 16, 128)
LENGTHS = range(1, 17)
DRAFT_S, CALL_S, POS_S, LINK_S, DOWN_BPS, VOCAB = 0.008, 0.020, 0.001, 0.010, 100e6, 50257
N_TOKENS, N_TRACES = 512, 64


def point(alpha: float, uplink: float, k: int) -> dict:
    proto = Protocol.parse(f"topk:{k}")
    per = float(proto.up_bits(1, VOCAB) - proto.up_bits(0, VOCAB))
    down = float(proto.down_bits(4, VOCAB)) / DOWN_BPS
    costs = RoundCosts.from_link(draft_s_per_token=DRAFT_S, bits_per_token=per, header_bits=float(proto.up_bits(0, VOCAB)),
                                 uplink_bps=uplink, verify_s_per_call=CALL_S, verify_s_per_position=POS_S,
                                 downlink_s=down, link_latency_s=LINK_S)
    g_closed = int(np.clip(optimal_draft_length(alpha, costs, max(LENGTHS)), 1, max(LENGTHS)))
    match = Acceptance.iid(alpha).sample(N_TRACES, N_TOKENS + max(LENGTHS) + 1, np.random.default_rng([7, int(100 * alpha)]))
    timing = Timing(draft_s_per_token=DRAFT_S, verify_s_per_position=POS_S, verify_s_per_call=CALL_S,
                    uplink_bps=uplink, downlink_bps=DOWN_BPS, link_latency_s=LINK_S)
    mean = {}
    for mode in ("sd", "psd"):
        mean[mode] = {g: float(simulate(N_TOKENS, match, timing, Decoding(mode=mode, draft_length=g, protocol=proto,
                                                                         vocab=VOCAB, pre_verify=mode == "psd")
                                        ).latency_s.mean()) for g in LENGTHS}
    best = {mode: min(v, key=v.get) for mode, v in mean.items()}
    return {"alpha": alpha, "uplink_mbps": uplink / 1e6, "top_k": k, "bits_per_draft_token": per,
            "closed_continuous": float(continuous_optimum(alpha, costs)), "closed": g_closed,
            "sd_best": best["sd"], "psd_best": best["psd"],
            "sd_loss_at_closed_pct": 100 * (mean["sd"][g_closed] / mean["sd"][best["sd"]] - 1),
            "psd_loss_at_closed_pct": 100 * (mean["psd"][g_closed] / mean["psd"][best["psd"]] - 1),
            "psd_speedup_over_sd_pct": 100 * (1 - mean["psd"][best["psd"]] / mean["sd"][best["sd"]])}


def render(rows: list[dict], meta: dict) -> str:
    agree_sd = sum(r["closed"] == r["sd_best"] or r["sd_loss_at_closed_pct"] < 0.5 for r in rows)
    agree_psd = sum(r["closed"] == r["psd_best"] for r in rows)
    lines = [
        "# TK-SLT's closed-form draft length against the PSD simulator",
        "",
        f"Command: `{meta['command']}` ({meta['wall_s']:.0f} s on {meta['machine']}, Python {meta['python']}).",
        "Closed form: uara.psd.draft_length (sequential SD, i.i.d. acceptance; our derivation of TK-SLT's question,",
        "arXiv 2509.04576). Simulator: uara.psd.simulation.simulator, one device, a server that serves it alone.",
        f"Fixed: draft {DRAFT_S * 1e3:g} ms/token, verification {CALL_S * 1e3:g} ms per call + {POS_S * 1e3:g} ms per position, "
        f"{LINK_S * 1e3:g} ms one-way latency, {DOWN_BPS / 1e6:g} Mbit/s downlink; {N_TRACES} traces x {N_TOKENS} tokens per point.",
        "",
        f"- Sequential SD (the closed form's assumptions): the closed form is the simulator's best length, or within "
        f"0.5 % of its latency, at {agree_sd} of {len(rows)} points.",
        f"- PSD with look-ahead and pre-verify: the same length at {agree_psd} of {len(rows)} points. At low acceptance "
        "PSD's best is longer than the closed form (the next block is drafted while this one is verified, so extra "
        "draft tokens cost little time); at high acceptance it is shorter (a rejection discards the block drafted "
        "ahead, which costs more the longer blocks are; pre-verify's one-token first block also changes the "
        "round structure). `PSD loss` is what the closed form's length costs under PSD.",
        "",
        "| alpha | uplink Mbit/s | K | bits/token | g* (real) | closed | SD best | PSD best | SD loss % | PSD loss % | PSD vs SD % |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['alpha']} | {r['uplink_mbps']:g} | {r['top_k']} | {r['bits_per_draft_token']:.0f} | "
                     f"{r['closed_continuous']:.2f} | {r['closed']} | {r['sd_best']} | {r['psd_best']} | "
                     f"{r['sd_loss_at_closed_pct']:.2f} | {r['psd_loss_at_closed_pct']:.2f} | {r['psd_speedup_over_sd_pct']:.1f} |")
    lines += ["", "SD / PSD loss: latency at the closed-form length over the mode's best, minus 1. PSD vs SD: how much "
              "lower PSD's best latency is than sequential SD's best."]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--output", default="results/draft_length")
    args = ap.parse_args()
    t0 = time.perf_counter()
    rows = [point(a, u, k) for a, u, k in itertools.product(ALPHAS, UPLINKS_BPS, TOP_K)]
    meta = {"command": "python bench/draft_length_table.py", "wall_s": time.perf_counter() - t0,
            "machine": f"{platform.machine()}, {platform.platform()}", "python": platform.python_version()}
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "table.json", {"rows": rows, **meta})
    text = render(rows, meta)
    atomic_write_text(out / "table.md", text)
    print(text)


if __name__ == "__main__":
    main()
