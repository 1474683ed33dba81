"""The seed paper's Fig. 2, recomputed from profiles with the timeline simulator.

Panel (a): latency and its critical-path breakdown against the fixed draft
length gamma, SD and PSD, at one uplink rate. Panel (b): total latency
against the uplink rate at each mode's best gamma, with the saturation rate:
the lowest rate whose latency is within ``saturation_tol`` (default 5 %) of
the latency at the highest rate swept.

The setup (:class:`Fig2Setup`) is the project's reading of the paper's, which
gives no link or server timings (docs/psd.md): a phone drafting GPT2 at an
effective 70 GFLOP/s (~4 ms per token); a GPU verifying with GPT2-XL at an
effective 25 TFLOP/s plus 60 ms per verification call (a GPT2-XL forward
pass on a GPU is launch/memory bound, nearly constant in the block size);
20 ms one-way link latency; 100 Mbit/s downlink; panel (a) at 100 Mbit/s
uplink; the profiles' protocol and uplink streaming. The round overhead
2 * 20 + 60 = 100 ms is what sets the best gamma near 100 ms / 4 ms = 25
(PEARL's rule: draft length = verification round time / draft time).
Every task of a sweep point uses the same acceptance traces and lengths
(common random numbers), so differences between points are not noise.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from uara.errors import UaraError
from uara.io import atomic_write_json
from uara.psd.workload.profiles import Profile
from uara.psd.simulation.simulator import CATEGORIES, Timing, simulate


@dataclass(frozen=True)
class Fig2Setup:
    """Speeds and sweeps of Fig. 2 (see the module docstring)."""

    device_flops: float = 70e9
    server_flops: float = 25e12
    verify_s_per_call: float = 0.060
    uplink_bps: float = 100e6
    downlink_bps: float = 100e6
    link_latency_s: float = 0.020
    queue_s: float = 0.0
    gammas: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 18, 20, 25, 30, 35, 40, 50)
    rates_bps: tuple[float, ...] = tuple(float(r) * 1e6 for r in (1, 2, 5, 10, 15, 20, 30, 40, 50, 60, 70, 80,
                                                                  100, 120, 150, 200, 300, 500))
    n_tasks: int = 400
    seed: int = 0
    protocol: str | None = None
    saturation_tol: float = 0.05


def _tasks(prof: Profile, setup: Fig2Setup, gmax: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(setup.seed)
    n_out = prof.output_tokens.sample(rng, setup.n_tasks)
    n_prompt = prof.prompt_tokens.sample(rng, setup.n_tasks)
    length = int(n_out.max()) + gmax + 1
    ntr = len(prof.acceptance.trace_list)
    index = rng.integers(ntr, size=setup.n_tasks) if ntr else None
    match = prof.acceptance.sample(setup.n_tasks, length, rng, index=index)
    ctx = prof.context_tokens(n_prompt, n_out)
    return {"n_out": n_out, "match": match, "f_d": prof.draft.flops_per_token(ctx),
            "f_t": prof.target.flops_per_token(ctx)}


def _run(prof: Profile, tk: Mapping[str, np.ndarray], setup: Fig2Setup, mode: str, gamma: int,
         rate: float) -> dict[str, float]:
    dec = prof.decoding(mode=mode, draft_length=gamma, protocol=setup.protocol)
    res = simulate(tk["n_out"], tk["match"], Timing(
        draft_s_per_token=tk["f_d"] / setup.device_flops, verify_s_per_position=tk["f_t"] / setup.server_flops,
        verify_s_per_call=setup.verify_s_per_call,
        uplink_bps=rate, downlink_bps=setup.downlink_bps, link_latency_s=setup.link_latency_s,
        queue_s=setup.queue_s), dec)
    s = res.summary()
    return {"latency_s": s["latency_mean_s"], "p95_s": s["latency_p95_s"],
            **{c: s[f"critical_{c}_s"] for c in CATEGORIES},
            "device_busy_s": s["device_busy_s"], "server_busy_s": s["server_busy_s"],
            "device_idle_s": s["device_idle_s"], "tokens_per_round": s["tokens_per_round"],
            "rounds": s["rounds"], "uplink_bits": s["uplink_bits"]}


def compute(profiles: Mapping[str, Profile], setup: Fig2Setup = Fig2Setup(),
            modes: Sequence[str] = ("sd", "psd")) -> dict[str, Any]:
    """Both panels for every profile (keyed by task type). JSON-ready."""
    if not profiles:
        raise UaraError("figure2: no profiles")
    out: dict[str, Any] = {"setup": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(setup).items()},
                           "profiles": {}}
    gmax = max(setup.gammas)
    for ttype, prof in profiles.items():
        tk = _tasks(prof, setup, gmax)
        entry: dict[str, Any] = {"profile": prof.name, "alpha": prof.acceptance.alpha,
                                 "protocol": (setup.protocol or prof.protocol.spec),
                                 "bits_per_draft_token": prof.decoding(protocol=setup.protocol).protocol.token_bits(prof.vocab),
                                 "draft_s_per_token": float(np.mean(tk["f_d"]) / setup.device_flops),
                                 "mean_output_tokens": float(np.mean(tk["n_out"])), "modes": {}}
        for mode in modes:
            by_g = [{"gamma": g, **_run(prof, tk, setup, mode, g, setup.uplink_bps)} for g in setup.gammas]
            best = min(by_g, key=lambda r: r["latency_s"])
            by_r = [{"rate_bps": r, **_run(prof, tk, setup, mode, best["gamma"], r)} for r in setup.rates_bps]
            floor = by_r[-1]["latency_s"]
            sat = next((r["rate_bps"] for r in by_r if r["latency_s"] <= (1 + setup.saturation_tol) * floor), None)
            entry["modes"][mode] = {"vs_gamma": by_g, "best_gamma": best["gamma"], "best_latency_s": best["latency_s"],
                                    "vs_rate": by_r, "saturation_rate_bps": sat}
        out["profiles"][ttype] = entry
    return out


def plot(data: Mapping[str, Any], out_dir: str | Path) -> list[Path]:
    """PNG files: ``figure2a_<type>.png`` (breakdown vs gamma), ``figure2b.png`` (latency vs rate)."""
    from uara.psd.measure.hf import require

    require("matplotlib", "plotting Fig. 2")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = []
    colors = {"device": "#4C72B0", "uplink": "#DD8452", "queue": "#937860", "server": "#55A868", "downlink": "#C44E52"}
    for ttype, entry in data["profiles"].items():
        modes = list(entry["modes"])
        fig, axes = plt.subplots(1, len(modes), figsize=(5.5 * len(modes), 4), sharey=True, squeeze=False)
        for ax, mode in zip(axes[0], modes):
            rows = entry["modes"][mode]["vs_gamma"]
            x = np.arange(len(rows))
            bottom = np.zeros(len(rows))
            for c in CATEGORIES:
                v = np.array([r[c] for r in rows])
                if np.any(v > 0):
                    ax.bar(x, v, bottom=bottom, color=colors[c], label=c, width=0.8)
                    bottom += v
            ax.plot(x, [r["device_busy_s"] for r in rows], "k.--", lw=1, label="phone busy")
            ax.set_xticks(x, [str(r["gamma"]) for r in rows], fontsize=7)
            bg = entry["modes"][mode]["best_gamma"]
            ax.set_title(f"{mode.upper()} ({entry['profile']}): best gamma {bg}")
            ax.set_xlabel("draft length gamma")
        axes[0][0].set_ylabel("mean latency per task (s), critical path")
        axes[0][-1].legend(fontsize=7)
        fig.tight_layout()
        p = out_dir / f"figure2a_{ttype}.png"
        fig.savefig(p, dpi=120)
        plt.close(fig)
        files.append(p)
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for ttype, entry in data["profiles"].items():
        for mode, style in (("sd", "--"), ("psd", "-")):
            if mode not in entry["modes"]:
                continue
            m = entry["modes"][mode]
            rows = m["vs_rate"]
            line, = ax.plot([r["rate_bps"] / 1e6 for r in rows], [r["latency_s"] for r in rows], style, marker=".",
                            label=f"{ttype} {mode.upper()} (gamma {m['best_gamma']})")
            if m["saturation_rate_bps"]:
                ax.axvline(m["saturation_rate_bps"] / 1e6, color=line.get_color(), lw=0.6, ls=":")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("uplink data rate (Mbit/s)")
    ax.set_ylabel("mean latency per task (s)")
    ax.set_title("Latency vs data rate (dotted: saturation, within 5 % of the floor)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    p = out_dir / "figure2b.png"
    fig.savefig(p, dpi=120)
    plt.close(fig)
    files.append(p)
    return files


def write(profiles: Mapping[str, Profile], out_dir: str | Path, setup: Fig2Setup = Fig2Setup()) -> dict[str, Any]:
    """Compute, write ``figure2.json`` and the PNGs into ``out_dir``."""
    data = compute(profiles, setup)
    out_dir = Path(out_dir)
    atomic_write_json(out_dir / "figure2.json", data)
    data["files"] = [str(p) for p in plot(data, out_dir)]
    return data
