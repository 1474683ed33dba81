"""Reports from a results table (benchopt's "plot" step; :mod:`uara.experiments.comparison` runs and stores).

:func:`build_report` reads ``results.parquet`` (or ``.csv``) from a
``uara compare`` output folder and writes ``report.md`` and ``report.html``
next to PNG figures in ``figures/``:

* Fig. 5 of the paper: average latency vs number of devices M (at the E with
  most distinct M) and vs number of servers E (at the M with most distinct E),
  one line per solver. Top row: PSD end-to-end latency; bottom row: P1's
  controllable objective per device, so the proxy and the simulated latency
  are read side by side (docs/model.md: their disagreement is a finding).
* Fig. 6: energy weight w vs latency and vs energy, for high- and low-battery
  devices (battery >= / < :data:`uara.experiments.table.HIGH_BATTERY`).
* the gap table with the best lower bound of each instance and its source;
* runtime vs instance size (log scale);
* the latency reduction of each method vs each baseline, stated as the paper
  states its 28.0 % / 23.7 %.

pandas and matplotlib are imported here only; a missing one raises
:class:`uara.errors.MissingDependencyError`.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from uara.errors import MissingDependencyError, UaraError
from uara.io import atomic_save_figure, atomic_write_text, package_versions, read_json
from uara.solvers import BASELINES

#: Metrics a reduction can be stated on: (column, words).
REDUCTION_METRICS = (
    ("latency_mean_s", "end-to-end latency (PSD simulator)"),
    ("ctrl_per_device", "P1 objective (controllable part I - C, per device)"),
    ("p1_latency_s", "P1 latency terms a_i + D_ij^ES per device"),
)


def _deps() -> tuple[Any, Any]:
    try:
        import pandas as pd
    except ImportError:
        raise MissingDependencyError("pandas", "report", "reports") from None
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise MissingDependencyError("matplotlib", "report", "report figures") from None
    return pd, plt


# ---------------------------------------------------------------------- document model
@dataclass
class Doc:
    """A report as a list of blocks, rendered to Markdown and to HTML."""

    title: str
    blocks: list[tuple[str, Any]] = field(default_factory=list)

    def h(self, text: str, level: int = 2) -> None:
        self.blocks.append(("h", (level, text)))

    def p(self, text: str) -> None:
        self.blocks.append(("p", text))

    def code(self, text: str) -> None:
        self.blocks.append(("code", text))

    def table(self, df: Any, floatfmt: str = "{:.4g}") -> None:
        self.blocks.append(("table", (df, floatfmt)))

    def img(self, path: str, alt: str) -> None:
        self.blocks.append(("img", (path, alt)))

    def markdown(self) -> str:
        out = [f"# {self.title}", ""]
        for kind, val in self.blocks:
            if kind == "h":
                out += ["#" * val[0] + " " + val[1], ""]
            elif kind == "p":
                out += [val, ""]
            elif kind == "code":
                out += ["```", val, "```", ""]
            elif kind == "table":
                out += [_md_table(*val), ""]
            elif kind == "img":
                out += [f"![{val[1]}]({val[0]})", ""]
        return "\n".join(out)

    def html(self) -> str:
        e = html.escape
        out = [
            "<!doctype html><html><head><meta charset='utf-8'>",
            f"<title>{e(self.title)}</title>",
            "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;}"
            "table{border-collapse:collapse;font-size:90%}td,th{border:1px solid #bbb;padding:2px 6px;text-align:right}"
            "th{background:#eee}img{max-width:100%}pre{background:#f4f4f4;padding:6px;overflow-x:auto}</style>",
            f"</head><body><h1>{e(self.title)}</h1>",
        ]
        for kind, val in self.blocks:
            if kind == "h":
                out.append(f"<h{val[0]}>{e(val[1])}</h{val[0]}>")
            elif kind == "p":
                out.append(f"<p>{e(val)}</p>")
            elif kind == "code":
                out.append(f"<pre>{e(val)}</pre>")
            elif kind == "table":
                out.append(_html_table(*val))
            elif kind == "img":
                out.append(f"<p><img src='{e(val[0])}' alt='{e(val[1])}'></p>")
        out.append("</body></html>")
        return "\n".join(out)


def _cell(v: Any, floatfmt: str) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        if math.isnan(v):
            return ""
        return floatfmt.format(v)
    try:
        import pandas as pd

        if pd.isna(v):
            return ""
    except (ImportError, TypeError, ValueError):
        pass
    return str(v)


def _md_table(df: Any, floatfmt: str) -> str:
    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in df.itertuples(index=False):
        lines.append("| " + " | ".join(_cell(v, floatfmt).replace("|", "\\|") for v in row) + " |")
    return "\n".join(lines)


def _html_table(df: Any, floatfmt: str) -> str:
    e = html.escape
    head = "".join(f"<th>{e(str(c))}</th>" for c in df.columns)
    body = "".join("<tr>" + "".join(f"<td>{e(_cell(v, floatfmt))}</td>" for v in row) + "</tr>" for row in df.itertuples(index=False))
    return f"<table><tr>{head}</tr>{body}</table>"


# ---------------------------------------------------------------------- analysis helpers
def prepare(df: Any) -> Any:
    """Add derived columns: ctrl_per_device = (I - C) / (M * slots)."""
    df = df.copy()
    df["ctrl_per_device"] = df["controllable"] / (df["M"].astype(float) * df["slots"].astype(float))
    return df


def base_rows(df: Any) -> Any:
    """Rows for Fig. 5 and the reductions: feasible static runs at the instance's own parameters
    (params == {}), else at the most frequent energy weight."""
    ok = df[(df["mode"] == "static") & (df["feasible"].fillna(False).astype(bool))]
    own = ok[ok["params"] == "{}"]
    if len(own):
        return own
    if not len(ok):
        return ok
    w = ok["energy_weight"].mode().iloc[0]
    return ok[ok["energy_weight"] == w]


def reductions(df: Any, metric: str, baselines: Sequence[str] = BASELINES) -> Any:
    """Per (method, baseline): reduction of ``metric`` = 1 - L_method / L_baseline over matched scenarios.

    A scenario is an effective instance (fingerprint) in one mode; values are
    averaged over seeds first. Returns rows: method, baseline, scenarios, mean %, max %, min %.
    """
    pd, _ = _deps()
    d = df.dropna(subset=[metric])
    if not len(d):
        return pd.DataFrame(columns=["method", "baseline", "scenarios", "mean_reduction_pct", "max_reduction_pct", "min_reduction_pct"])
    avg = d.groupby(["fingerprint", "mode", "solver"], observed=True)[metric].mean().unstack("solver")
    rows = []
    present = [b for b in baselines if b in avg.columns]
    for method in avg.columns:
        if method in baselines:
            continue
        for b in present:
            pair = avg[[method, b]].dropna()
            pair = pair[pair[b] > 0]
            if not len(pair):
                continue
            red = 100.0 * (1.0 - pair[method] / pair[b])
            rows.append({"method": method, "baseline": b, "scenarios": len(pair), "mean_reduction_pct": red.mean(),
                         "max_reduction_pct": red.max(), "min_reduction_pct": red.min()})
    return pd.DataFrame(rows, columns=["method", "baseline", "scenarios", "mean_reduction_pct", "max_reduction_pct", "min_reduction_pct"])


def reduction_sentences(red: Any, what: str) -> list[str]:
    """"TMA achieves up to X % and on average Y % lower <what> than the N baselines" (paper's 28.0 % / 23.7 %).

    "up to" is the largest reduction over all scenarios and baselines; "on
    average" is the mean over baselines of the mean over scenarios.
    """
    out = []
    for method, g in red.groupby("method", sort=True):
        up, avg = g["max_reduction_pct"].max(), g["mean_reduction_pct"].mean()
        n = len(g)
        names = ", ".join(g["baseline"])
        whom = f"than the {'three' if n == 3 else n} baseline{'s' if n != 1 else ''} ({names}; {int(g['scenarios'].max())} scenario(s))"
        if up >= 0 and avg >= 0:
            out.append(f"{method}: up to {up:.1f} % and on average {avg:.1f} % lower {what} {whom}.")
        else:
            best = f"{abs(up):.1f} % {'lower' if up >= 0 else 'higher'}"
            out.append(f"{method}: on average {abs(avg):.1f} % {'lower' if avg >= 0 else 'higher'} {what} {whom}; best case {best}.")
    return out


def _solver_order(df: Any) -> list[str]:
    return _solver_order_names(list(df["solver"].dropna().unique()))


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
    _, plt = _deps()
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
            for k, s_name in enumerate(_solver_order(d)):
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


def sweep_rows(df: Any) -> Any:
    """Feasible static rows of the energy-weight sweep: the one instance with the most
    distinct w values (first by name on ties); empty if no instance has two."""
    ok = df[(df["mode"] == "static") & (df["feasible"].fillna(False).astype(bool))]
    if ok.empty:
        return ok
    counts = ok.groupby("instance")["energy_weight"].nunique()
    if counts.max() < 2:
        return ok.iloc[0:0]
    inst = sorted(counts[counts == counts.max()].index)[0]
    return ok[ok["instance"] == inst]


def fig6(df: Any, figdir: Path) -> tuple[str | None, str]:
    """Energy weight w vs latency and energy, high- vs low-battery devices (one instance, see sweep_rows);
    one row of panels per energy model in the sweep (eq. 8 as printed, transmit power x uplink time)."""
    _, plt = _deps()
    d = sweep_rows(df)
    if d.empty:
        return None, "no energy-weight sweep in this table (run with --param energy_weight=20,40,60,80,100)"
    inst = d["instance"].iloc[0]
    if (d["params"] != "{}").any():  # the sweep's own runs (not the main grid's runs at the instance's w)
        d = d[d["params"] != "{}"]
    models = sorted(d["energy_model"].fillna("paper").unique()) if "energy_model" in d else ["paper"]
    colors = {s: f"C{k}" for k, s in enumerate(_solver_order(d))}  # one colour per solver in every panel
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
        for s in _solver_order(dm):
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
    _, plt = _deps()
    d = df[df["status"] != "error"].copy()
    d["size"] = d["M"].astype(float) * d["E"].astype(float)
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for k, s_name in enumerate(_solver_order(d)):
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
    _, plt = _deps()
    rows = df[(df["mode"] == "static") & df["solution_file"].notna() & (df["status"] != "error")]
    traces: dict[str, list[dict[str, float]]] = {}
    inst_name = None
    for name, g in rows.groupby("instance", observed=True):
        found: dict[str, list[dict[str, float]]] = {}
        for _, r in g.iterrows():
            try:
                sol = read_json(root / str(r["solution_file"]), what="run file").get("solution") or {}
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


def _stored_solutions(df: Any, root: Path) -> tuple[str | None, dict[str, dict[str, Any]]]:
    """The instance with the most solvers among static feasible runs, and per solver its first stored solution."""
    rows = df[(df["mode"] == "static") & df["solution_file"].notna() & (df["status"] != "error") & (df["params"] == "{}")]
    if not len(rows):
        return None, {}
    inst = rows.groupby("instance", observed=True)["solver"].nunique().idxmax()
    out: dict[str, dict[str, Any]] = {}
    for _, r in rows[rows["instance"] == inst].sort_values(["solver", "seed"]).iterrows():
        if str(r["solver"]) in out:
            continue
        try:
            out[str(r["solver"])] = read_json(root / str(r["solution_file"]), what="run file").get("solution") or {}
        except UaraError:
            continue
    return str(inst), out


def per_slot_table(sols: dict[str, dict[str, Any]]) -> Any:
    """I(t) - C(t) per slot (rows) and solver (columns) of stored solutions (:func:`_stored_solutions`),
    with each slot's status."""
    pd, _ = _deps()
    table = {}
    for name, sol in sorted(sols.items()):
        table[name] = [f"{s['objective'] - s['constant']:.6g} ({s.get('status', '?')})" for s in sol.get("slots", [])]
    n = max(len(v) for v in table.values())
    frame = pd.DataFrame({k: v + [""] * (n - len(v)) for k, v in table.items()})
    frame.insert(0, "slot", range(n))
    return frame


def fig_device_latency(inst: str, sols: dict[str, dict[str, Any]], figdir: Path) -> tuple[str | None, str]:
    """Per-device view: the distribution (CDF) of each device's simulated latency in the stored solutions
    of instance ``inst``, one line per solver."""
    _, plt = _deps()
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
    for k, s_name in enumerate(_solver_order_names(list(curves))):
        v = curves[s_name]
        ax.plot(v, np.arange(1, v.size + 1) / v.size, linestyle=_STYLES[k % len(_STYLES)][1], label=s_name)
    _log_axes(ax, "end-to-end latency of a device's task (s), PSD simulator", "fraction of device-slots",
              f"Per-device latency distribution, {inst}")
    return _save(fig, figdir / "device_latency_cdf.png"), ""


def _solver_order_names(names: list[str]) -> list[str]:
    first = [b for b in BASELINES if b in names]
    return first + sorted(n for n in names if n not in first)


def provenance_lines(src: Path) -> list[str]:
    """What made this report: uara's version and commit, the machine, the time."""
    import os
    import platform
    import subprocess

    from uara import __version__

    commit = "unknown"
    try:
        here = Path(__file__).resolve().parent
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=here, capture_output=True, text=True,
                                timeout=5).stdout.strip() or "unknown"
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=here, capture_output=True, text=True, timeout=5).stdout
        commit += " (with uncommitted changes)" if dirty.strip() else ""
    except (OSError, subprocess.SubprocessError):
        pass
    import time as _time

    return [f"uara {__version__}, commit {commit}",
            f"machine: {platform.machine()}, {os.cpu_count()} CPU(s), {platform.platform()}, Python {platform.python_version()}",
            "packages: " + ", ".join(f"{k} {v}" for k, v in package_versions().items() if v is not None)
            + " (pinned by constraints.txt)",
            f"report written {_time.strftime('%Y-%m-%d %H:%M:%S')} from {src}"]


# ---------------------------------------------------------------------- the report
@dataclass
class ReportResult:
    markdown: Path
    html: Path
    figures: list[Path]


def build_report(results: str | Path, output: str | Path | None = None, title: str | None = None) -> ReportResult:
    """Write ``report.md``, ``report.html`` and ``figures/*.png`` for a comparison folder (or table file)."""
    from uara.experiments.table import load_table

    _deps()
    src = Path(results)
    pipe_table = (src if src.is_dir() else src.parent) / "pipeline_results.csv"
    if src.is_dir() and pipe_table.exists() and not any((src / n).exists() for n in ("results.parquet", "results.csv")):
        return _pipeline_only_report(src, Path(output) if output else src, title)
    df = load_table(src)
    if not len(df):
        raise UaraError(f"results table in {src} has no rows")
    out = Path(output) if output else (src if src.is_dir() else src.parent)
    figdir = out / "figures"
    figdir.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, Any] = {}
    mpath = (src if src.is_dir() else src.parent) / "manifest.json"
    if mpath.exists():
        try:
            manifest = read_json(mpath, what="manifest")
        except UaraError:
            manifest = {}
    df = prepare(df)
    doc = Doc(title or f"Solver comparison: {src}")
    figs: list[Path] = []
    _what_was_run(doc, df, manifest)
    base = base_rows(df)
    many = base["instance"].nunique() > 12 if len(base) else False  # a campaign: figures and claims first
    if many:
        _figures_5_and_6(doc, df, figdir, out, figs)
        _reduction_tables(doc, base)
    _summary_per_solver(doc, df)
    if not many:
        _figures_5_and_6(doc, df, figdir, out, figs)
    _gap_table(doc, df)
    doc.h("Runtime vs instance size")
    pr = fig_runtime(df, figdir)
    figs.append(out / pr)
    doc.img(pr, "runtime")
    doc.h("Anytime incumbent and bound")
    pa, note_a = fig_anytime(df, src if src.is_dir() else src.parent, figdir)
    if pa:
        figs.append(out / pa)
        doc.img(pa, "anytime curves")
    if note_a:
        doc.p(note_a)
    if not many:
        _reduction_tables(doc, base)
    _proxy_vs_latency(doc, base)
    inst_t, sols = _stored_solutions(df, src if src.is_dir() else src.parent)  # read once, used twice
    if sols:
        doc.h("Per slot and per device")
        doc.p(f"I(t) - C(t) of each slot and its status on {inst_t} (first stored seed of each solver):")
        doc.table(per_slot_table(sols))
        pd_, note_d = fig_device_latency(str(inst_t), sols, figdir)
        if pd_:
            figs.append(out / pd_)
            doc.img(pd_, "per-device latency")
        if note_d:
            doc.p(note_d)
    if pipe_table.exists():
        from uara.experiments.pipeline_comparison import pipeline_section

        figs += pipeline_section(doc, pipe_table, figdir)
    doc.h("Provenance")
    doc.code("\n".join(provenance_lines(src)))
    md = atomic_write_text(out / "report.md", doc.markdown())
    ht = atomic_write_text(out / "report.html", doc.html())
    return ReportResult(md, ht, figs)


def _pipeline_only_report(src: Path, out: Path, title: str | None) -> ReportResult:
    """A comparison folder with only pipeline runs: the pipeline section alone."""
    from uara.experiments.pipeline_comparison import pipeline_section

    figdir = out / "figures"
    doc = Doc(title or f"Pipelined serving comparison: {src}")
    figs = pipeline_section(doc, src / "pipeline_results.csv", figdir)
    md = atomic_write_text(out / "report.md", doc.markdown())
    ht = atomic_write_text(out / "report.html", doc.html())
    return ReportResult(md, ht, figs)


def _what_was_run(doc: Doc, df: Any, manifest: dict[str, Any]) -> None:
    doc.h("What was run")
    n_err = int((df["status"] == "error").sum())
    doc.p(f"{len(df)} runs: {df['instance'].nunique()} instance(s), solvers {', '.join(_solver_order(df))}, "
          f"seeds {', '.join(str(s) for s in sorted(df['seed'].dropna().unique()))}, modes {', '.join(sorted(df['mode'].unique()))}; "
          f"{n_err} error row(s). Every objective below was recomputed by the shared evaluator from the stored decisions "
          f"and compared with the solver's claim (relative tolerance 1e-9); a mismatch or an infeasible decision is an error row.")
    cmds = [i.get("command") for i in manifest.get("invocations", []) if i.get("command")] or \
        ([manifest["command"]] if manifest.get("command") else [])
    if cmds:
        doc.p("Made by:")
        doc.code("\n".join(cmds))
    for name, why in (manifest.get("skipped_solvers") or {}).items():
        doc.p(f"Skipped solver {name}: {why}.")
    for n in sorted({str(n) for n in df["latency_note"].dropna().unique()}):
        doc.p(f"Latency: {n}.")


def summary_table(df: Any) -> Any:
    """One row per (instance, mode, solver): never a mean across instances of different sizes.

    Columns: runs, statuses (count of each), objective I (mean over seeds, 10 digits), its spread
    (sample standard deviation over seeds), above_best_pct = 100 (I - I_best) / (I_best - C) against the
    best solver on that instance, gap to the best bound, PSD latency mean/p95 (and its spread), energy,
    wall time."""
    pd, _ = _deps()
    rows = base_rows(df)
    if not len(rows):
        return rows
    keys = ["instance", "M", "E", "mode", "solver"]
    g = rows.groupby(keys, observed=True)
    out = g.agg(runs=("objective", "size"), objective=("objective", "mean"), objective_sd=("objective", "std"),
                constant=("constant", "mean"), gap_pct=("gap", lambda v: 100 * v.mean()),
                latency_mean_s=("latency_mean_s", "mean"), latency_sd_s=("latency_mean_s", "std"),
                latency_p95_s=("latency_p95_s", "mean"), latency_median_s=("latency_median_s", "mean"),
                latency_cov_mean_s=("latency_cov_mean_s", "mean"), latency_cov_p95_s=("latency_cov_p95_s", "mean"),
                coverage_share=("coverage_share", "mean"), energy_j=("energy_j_mean", "mean"),
                energy_comm=("energy_comm", "mean"),
                wall_time_s=("wall_time_s", "mean")).reset_index()
    out.insert(5, "statuses", g["status"].agg(lambda v: ", ".join(f"{k} x{n}" for k, n in sorted(v.value_counts().items()))).values)
    best = out.groupby(["instance", "mode"], observed=True)["objective"].transform("min")
    ctrl = (best - out["constant"]).where(lambda v: v > 0)
    out.insert(8, "above_best_pct", 100 * (out["objective"] - best) / ctrl)
    return out.drop(columns=["constant"])


def _summary_per_solver(doc: Doc, df: Any) -> None:
    doc.h("Summary per instance and solver (P1 objective and simulated latency side by side)")
    summ = summary_table(df)
    if len(summ):
        doc.table(summ[["instance", "M", "E", "mode", "solver", "statuses", "runs", "objective", "objective_sd",
                        "above_best_pct", "gap_pct"]], floatfmt="{:.10g}")
        doc.table(summ[["instance", "solver", "latency_mean_s", "latency_sd_s", "latency_median_s", "latency_p95_s",
                        "coverage_share", "latency_cov_mean_s", "latency_cov_p95_s", "energy_j", "energy_comm",
                        "wall_time_s"]])
    doc.p("Static feasible runs at the instances' own parameters (sweep runs are in the Fig. 6 and gap tables), one row per "
          "instance: instances of different sizes are never averaged together. statuses: how the runs ended "
          "(time_limit = stopped by the limit with its best solution); objective: I summed over slots, mean over seeds, "
          "with its standard deviation over seeds (objective_sd; empty with one seed); above_best_pct: 100 (I - I_best) / "
          "(I_best - C) against the best solver on that instance; gap_pct: 100 (I - LB) / (I - C) against the best proven "
          "bound; latency_*: PSD simulator, latency_sd_s its spread over seeds, latency_cov_* over the device-slots in coverage (best-server SNR >= -6 dB; coverage_share of them); energy_j: E^CP + E^CM per device and slot (J), "
          "dominated by drafting energy, which no decision changes; energy_comm: P1's communication-energy term "
          "w sum E^CM / B (objective units), the part the bandwidth shares decide.")
    if (df["status"] == "error").any():
        doc.h("Error rows", 3)
        doc.table(df[df["status"] == "error"][["instance", "solver", "seed", "params", "error"]])


def _figures_5_and_6(doc: Doc, df: Any, figdir: Path, out: Path, figs: list[Path]) -> None:
    from uara.experiments.table import HIGH_BATTERY

    doc.h("Fig. 5: latency vs number of devices and servers")
    path, note = fig5(df, figdir)
    if path:
        figs.append(out / path)
        doc.img(path, "Fig. 5")
    if note:
        doc.p(f"Note: {note} (ship instances that vary it for a curve).")
    doc.h("Fig. 6: energy weight vs latency and energy by battery level")
    path6, note6 = fig6(df, figdir)
    if path6:
        figs.append(out / path6)
        doc.img(path6, "Fig. 6")
        ok6 = sweep_rows(df)
        if (ok6["params"] != "{}").any():
            ok6 = ok6[ok6["params"] != "{}"]  # the sweep's own runs, as in the figure
        doc.p(f"Instance {ok6['instance'].iloc[0]}; means over seeds and slots.")
        keys = ["energy_model", "solver", "energy_weight"] if "energy_model" in ok6 else ["solver", "energy_weight"]
        t6 = ok6.groupby(keys, observed=True)[
            ["latency_high_s", "latency_low_s", "uplink_mean_s", "energy_j_high", "energy_j_low"]].mean().reset_index()
        doc.table(t6)
    if note6:
        doc.p(f"Note: {note6}.")
    doc.p(f"High battery: B_i >= {HIGH_BATTERY} in the slot; low: below. Energy is E^CP + E^CM per device and slot (J).")


def _gap_table(doc: Doc, df: Any) -> None:
    doc.h("Gap to the best known lower bound")
    ok = df[df["feasible"].fillna(False).astype(bool)]
    st = ok[ok["mode"] == "static"]
    if not st["lower_bound"].notna().any():
        doc.p("No lower bound is known for any instance (uara.experiments.bounds not installed and no solver reported a proven bound): gaps are n/a.")
        return
    g = st.groupby(["instance", "M", "E", "energy_weight", "solver"], observed=True)["gap"].mean().mul(100).unstack("solver")
    lb = st.groupby(["instance", "M", "E", "energy_weight"], observed=True).agg(
        lower_bound=("lower_bound", "first"), source=("lower_bound_source", "first"), best_objective=("objective", "min"))
    doc.table(lb.join(g).reset_index())
    doc.p("Gap in % of the controllable part (I - C). The bound is the best of uara.experiments.bounds (when installed) and every proven "
          "bound a solver reported on that instance; 'source' says which. Gap 0 with a solver's own bound means it proved optimality.")


def _reduction_tables(doc: Doc, base: Any) -> None:
    doc.h("Latency reduction vs the baselines")
    any_red = False
    for metric, words in REDUCTION_METRICS:
        red = reductions(base, metric)
        if not len(red):
            continue
        any_red = True
        doc.h(words, 3)
        for s in reduction_sentences(red, words):
            doc.p(s)
        doc.table(red)
    if not any_red:
        doc.p("No method/baseline pair with matched scenarios (need at least one of random, max-sinr, max-compute and another method).")
    doc.p("Reduction = 1 - L_method / L_baseline per scenario (instance at given parameters; mean over seeds). 'Up to' is the largest "
          "over scenarios and baselines, 'on average' the mean over baselines of the per-baseline mean, as the paper's 28.0 % / 23.7 %.")


def _proxy_vs_latency(doc: Doc, base: Any) -> None:
    doc.h("P1 objective vs simulated latency")
    both = base.dropna(subset=["latency_mean_s", "ctrl_per_device"])
    if not (len(both) and both["solver"].nunique() > 1):
        doc.p("Simulated latency unavailable (or a single solver): only P1's objective is compared.")
        return
    rk = both.groupby(["fingerprint", "solver"], observed=True)[["ctrl_per_device", "latency_mean_s"]].mean()
    rk["rank_p1"] = rk.groupby(level=0)["ctrl_per_device"].rank()
    rk["rank_latency"] = rk.groupby(level=0)["latency_mean_s"].rank()
    agree = rk.groupby(level=0).apply(lambda g: g["rank_p1"].corr(g["rank_latency"])).dropna()
    doc.p(f"Spearman rank correlation between P1's objective and the simulated latency across solvers, per scenario: "
          f"mean {agree.mean():.2f} over {len(agree)} scenario(s) (1 = the proxy orders methods as the simulator does).")
    doc.table(rk.groupby(level=1)[["ctrl_per_device", "latency_mean_s", "rank_p1", "rank_latency"]].mean().reset_index())


__all__ = ["BASELINES", "Doc", "ReportResult", "base_rows", "build_report", "fig5", "fig6", "fig_runtime", "reduction_sentences", "reductions"]
