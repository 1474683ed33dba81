"""The figures of a P1 report (Fig. 5, Fig. 6, runtime, anytime curves, per-device latency), each
saved atomically as PNG under ``figures/``; each returns its relative path and a note (why a panel
is missing), never raising for missing data."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from uara.errors import UaraError
from uara.experiments.report.tables import (base_rows, report_deps, solver_order, solver_order_names, stored_solution,
                                            sweep_rows)
from uara.io import atomic_save_figure


def _log_axes(ax: Any, xlabel: str, ylabel: str, title: str, legend_size: int = 8) -> None:
    """Log x axis, labels with units, grid, legend and title: the finish every line figure shares."""
    ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=legend_size)
    ax.set_title(title)


# ---------------------------------------------------------------------- figures
def _save(fig: Any, path: Path) -> str:
    atomic_save_figure(fig, path, dpi=110, bbox_inches="tight", metadata=None)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return f"figures/{path.name}"


def _pick_fixed(df: Any, vary: str, fixed: str) -> tuple[Any, Any]:
    """The value of ``fixed`` with the most distinct values of ``vary`` (and the rows at it)."""
    if not len(df):
        return None, df
    counts = df.groupby(fixed)[vary].nunique()
    val = counts.idxmax()
    return val, df[df[fixed] == val]


_STYLES = [("o", "-"), ("s", "--"), ("^", "-."), ("D", ":"), ("v", "-"), ("P", "--"), ("X", "-."), ("*", ":"), ("h", "-")]


def _plain_ticks(axis: Any, values: Sequence[Any]) -> None:
    """Ticks at the data's own values, written plainly (not 6 x 10^0) on a log axis."""
    from matplotlib.ticker import FixedLocator, NullFormatter, NullLocator, ScalarFormatter

    axis.set_major_locator(FixedLocator([float(v) for v in values]))
    axis.set_major_formatter(ScalarFormatter())
    axis.set_minor_locator(NullLocator())
    axis.set_minor_formatter(NullFormatter())


def fig5(df: Any, figdir: Path) -> tuple[str | None, str]:
    """Latency vs M and vs E, one line per solver (distinct marker and dash, so equal lines stay visible),
    log axes, a band of +-1 standard deviation over instance builds and seeds where there are several; PSD latency on top,
    P1's objective per device below. A panel with a single size says so instead of drawing a point."""
    _, plt = report_deps()
    b = base_rows(df)
    if not len(b) or (b["M"].nunique() < 2 and b["E"].nunique() < 2):
        return None, "all runs are on one instance size: no curve to draw"
    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5))
    notes = []
    for col, (vary, fixed) in enumerate((("M", "E"), ("E", "M"))):
        val, sub = _pick_fixed(b, vary, fixed)
        for row, (metric, label) in enumerate((("latency_mean_s", "mean end-to-end latency (s), PSD simulator"),
                                               ("ctrl_per_device", "P1: (I - C) per device and slot"))):
            ax = axes[row][col]
            d = sub.dropna(subset=[metric]) if len(sub) else sub
            xlabel = f"number of {'devices M' if vary == 'M' else 'servers E'}" + (f" ({fixed} = {val})" if val is not None else "")
            ax.set_xlabel(xlabel)
            ax.set_ylabel(label)
            if not len(d) or d[vary].nunique() < 2:
                why = "not available" if not len(d) else f"one value of {vary} only ({vary} = {int(d[vary].iloc[0])}): no curve"
                ax.text(0.5, 0.5, why, ha="center", va="center", transform=ax.transAxes)
                if len(d):
                    notes.append(f"only one value of {vary} at {fixed} = {val}")
                continue
            for k, s_name in enumerate(solver_order(d)):
                # one value per (size, instance build, seed): the band spans builds and seeds
                per_run = d[d["solver"] == s_name].groupby([vary, "instance", "seed"], observed=True)[metric].mean()
                g = per_run.groupby(level=0).agg(["mean", "std", "min"]).sort_index()
                marker, dash = _STYLES[k % len(_STYLES)]
                x = g.index.astype(float)
                line, = ax.plot(x, g["mean"].values, marker=marker, linestyle=dash, label=s_name, alpha=0.9)
                if g["std"].notna().any():
                    lo = np.maximum(g["mean"] - g["std"].fillna(0), g["min"])  # never below the data (log axes)
                    ax.fill_between(x, lo.values, (g["mean"] + g["std"].fillna(0)).values, alpha=0.12,
                                    color=line.get_color())
            ax.set_xscale("log")
            ax.set_yscale("log")
            _plain_ticks(ax.xaxis, sorted(d[vary].unique()))
            ax.grid(alpha=0.3, which="both")
            ax.legend(fontsize=8)
    fig.suptitle("Fig. 5: average latency vs number of devices and servers (bands: +-1 sd over builds and seeds)")
    note = "; ".join(sorted(set(notes)))
    return _save(fig, figdir / "fig5_latency_vs_size.png"), note


def fig6(df: Any, figdir: Path) -> tuple[str | None, str]:
    """Energy weight w vs latency and energy, high- vs low-battery devices (one instance, see sweep_rows);
    one row of panels per energy model in the sweep (eq. 8 as printed, transmit power x uplink time)."""
    _, plt = report_deps()
    d = sweep_rows(df)
    if d.empty:
        return None, "no energy-weight sweep in this table (run with --param energy_weight=20,40,60,80,100)"
    inst = d["instance"].iloc[0]
    if (d["params"] != "{}").any():  # the sweep's own runs (not the main grid's runs at the instance's w)
        d = d[d["params"] != "{}"]
    models = sorted(d["energy_model"].fillna("paper").unique()) if "energy_model" in d else ["paper"]
    colors = {s: f"C{k}" for k, s in enumerate(solver_order(d))}  # one colour per solver in every panel
    fig, axes = plt.subplots(len(models), 2, figsize=(11, 4.2 * len(models)), squeeze=False)
    # the paper's split (B >= 0.8 / B <= 0.2) where the table has it, else B >= 0.5 / B < 0.5
    paper_split = all(c in d for c in ("energy_j_b80", "energy_j_b20", "latency_b80_s", "latency_b20_s")) \
        and d["energy_j_b80"].notna().any() and d["energy_j_b20"].notna().any()
    hi_e, lo_e, hi_l, lo_l = (("energy_j_b80", "energy_j_b20", "latency_b80_s", "latency_b20_s") if paper_split
                              else ("energy_j_high", "energy_j_low", "latency_high_s", "latency_low_s"))
    split = "B >= 0.8 solid, B <= 0.2 dashed" if paper_split else "high battery B >= 0.5 solid, low dashed"
    lat_metric = d[[hi_l, lo_l]].notna().any().any()
    for row, model in enumerate(models):
        dm = d[d["energy_model"].fillna("paper") == model] if "energy_model" in d else d
        ax_l, ax_e = axes[row]
        for s in solver_order(dm):
            g = dm[dm["solver"] == s].groupby("energy_weight")
            color = colors[s]
            if lat_metric:
                ax_l.plot(g[hi_l].mean().index, g[hi_l].mean().values, "-o", color=color, label=f"{s} high B")
                ax_l.plot(g[lo_l].mean().index, g[lo_l].mean().values, "--s", color=color, label=f"{s} low B")
            else:
                ax_l.plot(g["uplink_mean_s"].mean().index, g["uplink_mean_s"].mean().values, "-o", color=color, label=s)
            ax_e.plot(g[hi_e].mean().index, g[hi_e].mean().values, "-o", color=color, label=f"{s} high B")
            ax_e.plot(g[lo_e].mean().index, g[lo_e].mean().values, "--s", color=color, label=f"{s} low B")
        ax_l.set_ylabel("mean end-to-end latency (s), PSD" if lat_metric else "mean uplink time T_i (s), P1 (PSD latency unavailable)")
        ax_e.set_ylabel("mean energy per device and slot (J)")
        what = "eq. 8 as printed" if model == "paper" else "transmit power x uplink time"
        for ax in (ax_l, ax_e):
            ax.set_xlabel("energy weight w")
            ax.set_title(f"energy model: {model} ({what})", fontsize=9)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7, ncol=2)
    fig.suptitle(f"Fig. 6: energy weight vs latency and energy ({inst}; {split})")
    fig.tight_layout()
    note = "" if lat_metric else "PSD latency unavailable: left panel shows P1's uplink time instead"
    return _save(fig, figdir / "fig6_energy_weight.png"), note


def fig_runtime(df: Any, figdir: Path) -> str:
    """Wall time per run (the solve itself: optional packages are imported before the clock starts)
    vs instance size M x E, one point per instance and solver (mean over seeds; instances of equal
    size stay separate points), log-log."""
    _, plt = report_deps()
    d = df[df["status"] != "error"].copy()
    d["size"] = d["M"].astype(float) * d["E"].astype(float)
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for k, s_name in enumerate(solver_order(d)):
        g = d[d["solver"] == s_name].groupby(["instance", "size"], observed=True)["wall_time_s"].mean().reset_index()
        g = g.sort_values("size")
        marker, dash = _STYLES[k % len(_STYLES)]
        ax.plot(g["size"], g["wall_time_s"].clip(lower=1e-5), marker=marker, linestyle=dash, label=s_name, alpha=0.85)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("instance size M x E (devices x servers)")
    ax.set_ylabel("wall time per run (s)")
    ax.grid(alpha=0.3, which="both")
    if len(d):
        ax.legend(fontsize=8)
    ax.set_title("Runtime vs instance size (one point per instance)")
    return _save(fig, figdir / "runtime_vs_size.png")


def fig_anytime(df: Any, root: Path, figdir: Path) -> tuple[str | None, str]:
    """Incumbent and proven bound against time for the solvers that record a trace (exact, price, relax),
    on the instance where most of them ran, slot 0, from the solutions stored in ``runs/``; both as
    I - C relative to the best bound found."""
    _, plt = report_deps()
    rows = df[(df["mode"] == "static") & df["solution_file"].notna() & (df["status"] != "error")]
    traces: dict[str, list[dict[str, float]]] = {}
    inst_name = None
    for name, g in rows.groupby("instance", observed=True):
        found: dict[str, list[dict[str, float]]] = {}
        for _, r in g.iterrows():
            try:
                sol = stored_solution(root / str(r["solution_file"]))
            except UaraError:
                continue
            trace = (sol.get("info") or {}).get("trace")
            if trace and trace[0] and str(r["solver"]) not in found:
                found[str(r["solver"])] = trace[0]
        if len(found) > len(traces):
            traces, inst_name = found, name
    if not traces:
        return None, "no solver recorded an anytime trace (exact, price and relax do)"
    const = float(rows[rows["instance"] == inst_name]["constant"].iloc[0]) / max(int(rows[rows["instance"] == inst_name]["slots"].iloc[0]), 1)
    best_lb = max((p["bound"] for t in traces.values() for p in t if p.get("bound") is not None and math.isfinite(p["bound"])), default=None)
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for k, (s_name, t) in enumerate(sorted(traces.items())):
        color = f"C{k}"
        ts = [max(p["time_s"], 1e-4) for p in t]
        ax.step(ts, [p["incumbent"] for p in t], where="post", color=color, marker="o", markersize=3,
                label=f"{s_name} incumbent")
        bounds = [(max(p["time_s"], 1e-4), p["bound"]) for p in t if p.get("bound") is not None and math.isfinite(p["bound"])]
        if bounds:
            ax.step([b[0] for b in bounds], [b[1] for b in bounds], where="post", color=color, linestyle="--",
                    marker="x", markersize=4, label=f"{s_name} bound")
    if best_lb is not None:
        ax.axhline(best_lb, color="grey", lw=0.6)
    _log_axes(ax, "time since the run started (s)", "I of slot 0 (incumbent solid, proven bound dashed)",
              f"Anytime curves, {inst_name}, slot 0 (constant C per slot ~ {const:.6g})", legend_size=7)
    return _save(fig, figdir / "anytime.png"), ""


def fig_device_latency(inst: str, sols: dict[str, dict[str, Any]], figdir: Path) -> tuple[str | None, str]:
    """Per-device view: the distribution (CDF) of each device's simulated latency in the stored solutions
    of instance ``inst``, one line per solver."""
    _, plt = report_deps()
    curves = {}
    for name, sol in sols.items():
        per = (sol.get("latency") or {}).get("per_device_s")
        if per:
            v = np.asarray([np.nan if x is None else x for x in np.ravel(np.asarray(per, dtype=object))], dtype=float)
            v = np.sort(v[np.isfinite(v)])
            if v.size:
                curves[name] = v
    if not curves:
        return None, "no per-device latency stored (run without --no-latency)"
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for k, s_name in enumerate(solver_order_names(list(curves))):
        v = curves[s_name]
        ax.plot(v, np.arange(1, v.size + 1) / v.size, linestyle=_STYLES[k % len(_STYLES)][1], label=s_name)
    _log_axes(ax, "end-to-end latency of a device's task (s), PSD simulator", "fraction of device-slots",
              f"Per-device latency distribution, {inst}")
    return _save(fig, figdir / "device_latency_cdf.png"), ""
