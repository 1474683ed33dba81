"""The pipelined-serving section of a report (Zhu et al., arXiv 2510.11331): the runs' table, the
mean-latency reduction of pipeline-dp against each other solver, latency vs users.

Registered for the ``pipeline`` family by :mod:`uara.experiments.report.assembly`; reads the
table :mod:`uara.experiments.pipeline_comparison` writes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from uara.io import atomic_save_figure


def latency_reductions_by_instance(df: Any, ours: str = "pipeline-dp") -> Any:
    """Per instance, how much lower the mean latency of ``ours`` is than each other solver's (percent)."""
    import pandas as pd

    ok = df[df["status"] != "error"]
    piv = ok.groupby(["instance", "users", "solver"])["mean_latency_s"].mean().unstack("solver")
    if ours not in piv:
        return pd.DataFrame()
    red = pd.DataFrame({s: 100 * (1 - piv[ours] / piv[s]) for s in piv.columns if s != ours})
    return red.reset_index()


def pipeline_section(doc: Any, table: Path, figdir: Path) -> list[Path]:
    """Add the pipeline results (table, reductions vs the benchmarks, latency vs users) to a report."""
    import pandas as pd

    df = pd.read_csv(table)
    figs: list[Path] = []
    doc.h("Pipelined serving (Zhu et al., arXiv 2510.11331)")
    n_err = int((df["status"] == "error").sum())
    doc.p(f"{len(df)} runs on {df['instance'].nunique()} pipeline instance(s), solvers "
          f"{', '.join(sorted(df['solver'].unique()))}; {n_err} error row(s). Objective: sum of the users' completion "
          "times; latency = a user's completion time. Every solution was re-scored and replayed by the event-driven "
          "simulation (largest relative difference "
          f"{_max_rel(df):.1e}).")
    summ = (df[df["status"] != "error"].groupby("solver")[["mean_latency_s", "max_latency_s", "batches", "wall_time_s"]]
            .mean().sort_values("mean_latency_s").reset_index())
    doc.table(summ, fold=False)
    red = latency_reductions_by_instance(df)
    if len(red):
        doc.p("Mean-latency reduction of pipeline-dp against each other solver, % (per instance; the paper reports "
              "up to 44.9 % against uniform allocation and up to 21.4 % from dynamic over max batching):")
        doc.table(red, "{:.3g}")
        name, caption = _figure(df, figdir)
        if name:
            figs.append(figdir.parent / name)
            doc.img(name, "pipeline latency vs users", caption)
    return figs


def _max_rel(df: Any) -> float:
    ok = df[(df["status"] != "error") & df["event_driven_objective_s"].notna()]
    if not len(ok):
        return float("nan")
    return float(np.max(np.abs(ok["event_driven_objective_s"] - ok["objective_s"]) / ok["objective_s"]))


def coinciding(curves: dict[str, Any], rtol: float = 1e-3) -> list[list[str]]:
    """Groups of solvers whose latency-vs-users curves agree within ``rtol`` (relative) at every K."""
    groups: list[list[str]] = []
    for name in sorted(curves):
        for g in groups:
            ref = curves[g[0]]
            common = ref.index.intersection(curves[name].index)
            if len(common) == len(ref) == len(curves[name]) and np.allclose(curves[name][common], ref[common], rtol=rtol, atol=0):
                g.append(name)
                break
        else:
            groups.append([name])
    return groups


_STYLES = [("o", "-"), ("s", "--"), ("^", "-."), ("D", ":"), ("v", "-"), ("P", "--"), ("X", "-.")]


def _figure(df: Any, figdir: Path) -> tuple[str | None, str]:
    """Mean latency vs users, one line per group of coinciding solvers (named together), and each solver's
    latency relative to pipeline-dp's, which separates lines that nearly coincide; returns (path, caption)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = df[df["status"] != "error"]
    if ok["users"].nunique() < 2:
        return None, ""
    curves = {str(s): g.groupby("users")["mean_latency_s"].mean() for s, g in ok.groupby("solver")}
    groups = coinciding(curves)
    fig, (ax, ax_rel) = plt.subplots(1, 2, figsize=(11, 4))
    ref = curves.get("pipeline-dp")
    for k, g in enumerate(groups):
        marker, dash = _STYLES[k % len(_STYLES)]
        m = curves[g[0]]
        ax.plot(m.index, m.values, marker=marker, linestyle=dash, label=" = ".join(g))
        if ref is not None:
            rel = 100 * (m / ref.reindex(m.index) - 1)
            ax_rel.plot(rel.index, rel.values, marker=marker, linestyle=dash, label=" = ".join(g))
    ax.set_xlabel("users K")
    ax.set_ylabel("mean latency (s)")
    ax.set_title("Mean latency vs users", fontsize=10)
    ax_rel.set_xlabel("users K")
    ax_rel.set_ylabel("latency above pipeline-dp's (%)")
    ax_rel.set_title("Relative to pipeline-dp", fontsize=10)
    for a in (ax, ax_rel):
        a.legend(fontsize=7)
        a.grid(alpha=0.3)
    path = figdir / "pipeline_latency_vs_users.png"
    fig.tight_layout()
    atomic_save_figure(fig, path, dpi=120)
    plt.close(fig)
    same = [g for g in groups if len(g) > 1]
    caption = ("Left: each solver's mean latency (mean completion time of the users) against the number of users K; "
               "right: the same relative to pipeline-dp, which separates lines that nearly coincide.")
    if same:
        caption += (" Solvers joined by '=' give the same latency at every K (within 0.1 %): "
                    + "; ".join(" = ".join(g) for g in same) + ". They reach the same schedules on these instances, "
                    "e.g. when the optimal speculation length or batch is the one a simpler rule also picks.")
    return f"figures/{path.name}", caption
