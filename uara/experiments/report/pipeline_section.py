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
    doc.table(summ)
    red = latency_reductions_by_instance(df)
    if len(red):
        doc.p("Mean-latency reduction of pipeline-dp against each other solver, % (per instance; the paper reports "
              "up to 44.9 % against uniform allocation and up to 21.4 % from dynamic over max batching):")
        doc.table(red, "{:.3g}")
        name = _figure(df, figdir)
        if name:
            figs.append(figdir.parent / name)
            doc.img(name, "pipeline latency vs users")
    return figs


def _max_rel(df: Any) -> float:
    ok = df[(df["status"] != "error") & df["event_driven_objective_s"].notna()]
    if not len(ok):
        return float("nan")
    return float(np.max(np.abs(ok["event_driven_objective_s"] - ok["objective_s"]) / ok["objective_s"]))


def _figure(df: Any, figdir: Path) -> str | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = df[df["status"] != "error"]
    if ok["users"].nunique() < 2:
        return None
    fig, ax = plt.subplots(figsize=(6, 4))
    for solver, g in ok.groupby("solver"):
        m = g.groupby("users")["mean_latency_s"].mean()
        ax.plot(m.index, m.values, marker="o", label=solver)
    ax.set_xlabel("users K")
    ax.set_ylabel("mean latency (s)")
    ax.set_title("Pipelined serving: mean latency vs users")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    path = figdir / "pipeline_latency_vs_users.png"
    fig.tight_layout()
    atomic_save_figure(fig, path, dpi=120)
    plt.close(fig)
    return f"figures/{path.name}"
