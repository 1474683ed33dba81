"""The figures of a P1 report (Fig. 5, Fig. 6, runtime, anytime curves, per-device latency), each
saved atomically as PNG under ``figures/``; each returns its relative path and a note (why a panel
is missing), never raising for missing data."""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from uara.errors import UaraError
from uara.experiments.report.tables import (base_rows, bootstrap_ci, report_deps, solver_order, solver_order_names,
                                            stored_solution, sweep_rows)
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


def _size_curve(d: Any, vary: str, metric: str, solver: str) -> Any:
    """Per value of ``vary``: the mean of ``metric`` over instance builds and seeds, and its 95 % bootstrap
    interval (:func:`bootstrap_ci`), as a frame indexed by the size."""
    import pandas as pd

    per_run = d[d["solver"] == solver].groupby([vary, "instance", "seed"], observed=True)[metric].mean()
    rows = {}
    for x, vals in per_run.groupby(level=0):
        lo, hi = bootstrap_ci(vals.to_numpy(dtype=float))
        rows[float(x)] = {"mean": float(vals.mean()), "lo": lo, "hi": hi, "n": len(vals)}
    return pd.DataFrame.from_dict(rows, orient="index").sort_index()


def _plain_log_labels(axis: Any, values: Any) -> None:
    """Tick labels on a log axis written plainly (2, 3, 4 rather than 2 x 10^0); the minor ticks are labelled
    too when the data span less than a decade."""
    from matplotlib.ticker import FuncFormatter

    plain = FuncFormatter(lambda v, _: f"{v:g}")
    axis.set_major_formatter(plain)
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v) & (v > 0)]
    if v.size and v.max() / v.min() < 10:
        axis.set_minor_formatter(plain)


def fig5(df: Any, figdir: Path, metric: str = "latency_mean_s") -> tuple[str | None, str]:
    """Fig. 5 as small multiples: ``metric`` vs M (at the E with most M values) and vs E (at the M with most
    E values), one panel per solver -- its mean in colour with 95 % bootstrap error bars over instance
    builds and seeds, every other solver in light grey for context -- on shared log axes, so ten methods
    stay readable. A dimension with one value gets no row of panels; with neither, no figure (the note
    says why)."""
    _, plt = report_deps()
    b = base_rows(df)
    b = b.dropna(subset=[metric]) if len(b) else b
    dims = [(vary, fixed) for vary, fixed in (("M", "E"), ("E", "M")) if len(b) and b[vary].nunique() >= 2]
    if not dims:
        return None, "all runs are on one instance size: no curve to draw"
    solvers = solver_order(b)
    cols = min(5, len(solvers))
    rows_per_dim = math.ceil(len(solvers) / cols)
    fig, axes = plt.subplots(rows_per_dim * len(dims), cols, figsize=(2.7 * cols, 2.3 * rows_per_dim * len(dims) + 0.8),
                             squeeze=False, sharey=True)
    varied = {vary for vary, _ in dims}
    notes = [f"one value of {v} only: no panels for it" for v in ("M", "E") if v not in varied]
    for block, (vary, fixed) in enumerate(dims):
        val, sub = _pick_fixed(b, vary, fixed)
        curves = {s_name: _size_curve(sub, vary, metric, s_name) for s_name in solvers}
        xs = sorted(float(x) for x in sub[vary].unique())
        for k, s_name in enumerate(solvers):
            ax = axes[block * rows_per_dim + k // cols][k % cols]
            for other, c in curves.items():
                if other != s_name and len(c):
                    ax.plot(c.index, c["mean"], color="0.82", lw=0.9, zorder=1)
            c = curves[s_name]
            if len(c):
                err = np.vstack([c["mean"] - c["lo"].fillna(c["mean"]), c["hi"].fillna(c["mean"]) - c["mean"]])
                ax.errorbar(c.index, c["mean"], yerr=np.maximum(err, 0), color=f"C{k % 10}", marker=_STYLES[k % len(_STYLES)][0],
                            ms=3.5, lw=1.4, capsize=2, zorder=3)
            ax.set_xscale("log")
            ax.set_yscale("log")
            _plain_ticks(ax.xaxis, xs)
            _plain_log_labels(ax.yaxis, b[metric])
            ax.tick_params(labelsize=7, which="both")
            ax.grid(alpha=0.3, which="both")
            ax.set_title(f"{s_name}  ({vary} varies, {fixed} = {val})", fontsize=8)
            if k % cols == 0:
                ax.set_ylabel(_FIG5_LABEL.get(metric, metric), fontsize=7)
            if k // cols == rows_per_dim - 1:
                ax.set_xlabel(f"number of {'devices M' if vary == 'M' else 'servers E'}", fontsize=8)
        for k in range(len(solvers), rows_per_dim * cols):
            axes[block * rows_per_dim + k // cols][k % cols].set_visible(False)
    what = "PSD end-to-end latency" if metric.startswith("latency") else "P1 objective (I - C) per device and slot"
    fig.suptitle(f"Fig. 5: {what} vs the number of devices and servers, one panel per method "
                 "(error bars: 95 % bootstrap interval over builds and seeds; grey: the other methods)", fontsize=9)
    fig.tight_layout()
    name = "fig5_latency_vs_size.png" if metric == "latency_mean_s" else f"fig5_{metric}_vs_size.png"
    return _save(fig, figdir / name), "; ".join(notes)


_FIG5_LABEL = {"latency_mean_s": "mean latency (s)", "ctrl_per_device": "(I - C) per device"}


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


def _slot_traces(df: Any, root: Path) -> dict[str, list[tuple[list[dict[str, float]], float, float]]]:
    """Per solver: (trace, C(t), best bound known for that slot) of every slot of every stored static run
    with a trace of I(t) (one that ends at the slot's objective); the best bound is the max over the
    methods' traces, capped by the best incumbent."""
    rows = df[(df["mode"] == "static") & df["solution_file"].notna() & (df["status"] != "error")]
    per_slot: dict[tuple[str, int], list[tuple[str, list[dict[str, float]], float]]] = {}
    for _, r in rows.iterrows():
        try:
            sol = stored_solution(root / str(r["solution_file"]))
        except UaraError:
            continue
        start = 0.0  # a run's traces count time from the run's start: each slot's from its own start
        for t, (trace, slot) in enumerate(zip((sol.get("info") or {}).get("trace") or [], sol.get("slots", []))):
            if not trace:
                continue
            shift = start if trace[0]["time_s"] >= start else 0.0
            start = trace[-1]["time_s"]
            # a trace of I(t) ends at the slot's objective (latency-search traces seconds of latency: left out)
            if "constant" in slot and "objective" in slot and math.isclose(
                    trace[-1]["incumbent"], slot["objective"], rel_tol=1e-6):
                own = [{**p, "time_s": p["time_s"] - shift} for p in trace]
                per_slot.setdefault((str(r["fingerprint"]), t), []).append((str(r["solver"]), own, float(slot["constant"])))
    out: dict[str, list[tuple[list[dict[str, float]], float, float]]] = {}
    for entries in per_slot.values():
        best = max((p["bound"] for _, tr, _ in entries for p in tr
                    if p.get("bound") is not None and math.isfinite(p["bound"])), default=None)
        best_inc = min(p["incumbent"] for _, tr, _ in entries for p in tr)
        lb = best if best is not None else best_inc
        for name, tr, const in entries:
            out.setdefault(name, []).append((tr, const, min(lb, best_inc)))
    return out


def _gap_on_grid(trace: list[dict[str, float]], const: float, lb: float, grid: np.ndarray) -> np.ndarray:
    """100 (incumbent(tau) - LB) / (incumbent(tau) - C) on ``grid`` (nan before the first incumbent)."""
    times = np.array([max(p["time_s"], 1e-4) for p in trace])
    inc = np.array([p["incumbent"] for p in trace], dtype=float)
    idx = np.searchsorted(times, grid, side="right") - 1
    at = np.where(idx >= 0, inc[np.maximum(idx, 0)], np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 100 * np.maximum(at - lb, 0) / np.maximum(at - const, 1e-300)


def fig_anytime(df: Any, root: Path, figdir: Path) -> tuple[str | None, str]:
    """Anytime behaviour over every slot of every instance: for each solver that records a trace of I
    (exact, price, relax), the median over slots of its incumbent's gap to the best bound known for the
    slot, 100 (I(tau) - LB) / (I(tau) - C), against the time since the slot's solve started (a run's trace
    counts from the run's start; each slot is shifted to the end of the one before), with the
    inter-quartile band."""
    _, plt = report_deps()
    traces = _slot_traces(df, root)
    if not traces:
        files = df["solution_file"].dropna()
        if len(files) and not any((root / str(f)).exists() for f in files):
            return None, ("no anytime figure: the stored runs (runs/*.json) are not in this folder (a shipped "
                          "campaign keeps only its table); rerun the campaign's command to draw it")
        return None, "no solver recorded an anytime trace (exact, price and relax do)"
    t_max = max(max(p["time_s"] for p in tr) for v in traces.values() for tr, _, _ in v)
    grid = np.geomspace(1e-3, max(t_max, 2e-3) * 1.05, 200)
    fig, ax = plt.subplots(figsize=(7, 4.2))
    drawn: list[np.ndarray] = []
    for k, name in enumerate(sorted(traces)):
        gaps = np.vstack([_gap_on_grid(tr, c, lb, grid) for tr, c, lb in traces[name]])
        have = np.isfinite(gaps).mean(axis=0) >= 0.5  # at least half the slots have an incumbent
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns before the first incumbent
            q = np.nanpercentile(np.where(np.isfinite(gaps), gaps, np.nan), [25, 50, 75], axis=0)
        q = np.maximum(q, 1e-4)
        drawn.append(q[1][have])
        color = f"C{k % 10}"
        ax.plot(grid[have], q[1][have], color=color, linestyle=_STYLES[k % len(_STYLES)][1],
                label=f"{name} ({len(traces[name])} slots)")
        ax.fill_between(grid[have], q[0][have], q[2][have], color=color, alpha=0.12)
    ax.set_yscale("log")
    _log_axes(ax, "time since the slot's solve started (s)", "gap of the incumbent to the best bound (%)",
              "Anytime: median gap over all slots (band: inter-quartile range)", legend_size=7)
    from matplotlib.ticker import FuncFormatter, NullFormatter

    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    _plain_log_labels(ax.yaxis, np.concatenate(drawn) if drawn else [1.0])
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
