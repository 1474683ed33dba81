"""Two P1 campaigns side by side (``uara report A B --labels old,new``): the runs both hold, matched, and
what changed, with intervals.

Runs are matched on (effective instance fingerprint, solver, seed, mode): the same problem solved by the
same back-end name in both campaigns, whatever its options or code version (that difference is what such a
comparison measures: a new release, a tuned option). Per solver the report gives the mean relative change of the
controllable objective I - C and of the simulated mean latency, B against A (100 (x_B - x_A) / x_A per
matched run), each with a 95 % bootstrap interval over the matched runs (seeded), and the ratio of wall
times; then each campaign's headline (reduction vs the baselines) side by side. Solvers only one campaign
ran are listed, not compared.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from uara.errors import UaraError
from uara.experiments.report.document import Doc, ReportResult, provenance_lines
from uara.experiments.report.tables import (REDUCTION_METRICS, base_rows, bootstrap_ci, headline, prepare, report_deps,
                                            solver_order_names)
from uara.experiments.table import load_table, results_table_path
from uara.io import atomic_save_figure, atomic_write_text

#: what a run is matched on
MATCH_KEYS = ["fingerprint", "solver", "seed", "mode"]
#: (column, words) compared per matched run
CHANGE_METRICS = (("controllable", "P1 objective I - C"), ("latency_mean_s", "simulated mean latency"),
                  ("gap", "gap to the best bound"))


def _load(folder: Path) -> Any:
    return base_rows(prepare(load_table(results_table_path(folder))))


def matched_changes(a: Any, b: Any) -> Any:
    """Per solver: matched runs, then for each metric of :data:`CHANGE_METRICS` the mean of 100 (B - A) / |A| over
    matched runs with its 95 % bootstrap interval (for the gap, the mean of B - A in percentage points), and the
    median ratio of wall times B / A."""
    pd, _ = report_deps()
    cols = [c for c, _ in CHANGE_METRICS] + ["wall_time_s"]
    ma = a.groupby(MATCH_KEYS, observed=True)[cols].mean()
    mb = b.groupby(MATCH_KEYS, observed=True)[cols].mean()
    both = ma.add_suffix("_a").join(mb.add_suffix("_b"), how="inner")
    rows = []
    for solver, g in both.groupby(level="solver", observed=True):
        row: dict[str, Any] = {"solver": solver, "matched_runs": len(g)}
        for col, _ in CHANGE_METRICS:
            x_a, x_b = g[f"{col}_a"].to_numpy(float), g[f"{col}_b"].to_numpy(float)
            if col == "gap":
                diff = 100 * (x_b - x_a)
            else:
                with np.errstate(divide="ignore", invalid="ignore"):
                    diff = 100 * (x_b - x_a) / np.abs(x_a)
            diff = diff[np.isfinite(diff)]
            lo, hi = bootstrap_ci(diff)
            tag = "pp" if col == "gap" else "pct"
            row[f"{col}_change_{tag}"] = float(diff.mean()) if diff.size else np.nan
            row[f"{col}_ci_low"], row[f"{col}_ci_high"] = lo, hi
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = g["wall_time_s_b"].to_numpy(float) / g["wall_time_s_a"].to_numpy(float)
        ratio = ratio[np.isfinite(ratio)]
        row["wall_time_ratio_median"] = float(np.median(ratio)) if ratio.size else np.nan
        rows.append(row)
    out = pd.DataFrame(rows)
    if len(out):
        order = {s: k for k, s in enumerate(solver_order_names(list(out["solver"])))}
        out = out.sort_values("solver", key=lambda s: s.map(order)).reset_index(drop=True)
    return out


def _change_figure(changes: Any, labels: tuple[str, str], figdir: Path) -> str | None:
    """Per solver, the mean latency change B vs A with its interval (and I - C's), as a dot plot."""
    _, plt = report_deps()
    have = [c for c in ("latency_mean_s", "controllable") if changes[f"{c}_change_pct"].notna().any()]
    if not len(changes) or not have:
        return None
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(changes) + 1.6))
    y = np.arange(len(changes))
    for k, col in enumerate(have):
        mean = changes[f"{col}_change_pct"].to_numpy(float)
        lo = changes[f"{col}_ci_low"].fillna(changes[f"{col}_change_pct"]).to_numpy(float)
        hi = changes[f"{col}_ci_high"].fillna(changes[f"{col}_change_pct"]).to_numpy(float)
        ax.errorbar(mean, y + 0.18 * (k - 0.5), xerr=np.maximum(np.vstack([mean - lo, hi - mean]), 0), fmt="o",
                    capsize=3, label="simulated mean latency" if col == "latency_mean_s" else "P1 objective I - C")
    ax.axvline(0, color="0.4", lw=0.8)
    ax.set_yticks(y, changes["solver"])
    ax.invert_yaxis()
    ax.set_xlabel(f"change of {labels[1]} vs {labels[0]} (%, matched runs; bars: 95 % bootstrap interval)")
    ax.grid(alpha=0.3, axis="x")
    ax.legend(fontsize=8)
    ax.set_title(f"{labels[1]} vs {labels[0]}: negative is better", fontsize=10)
    fig.tight_layout()
    path = figdir / "campaign_change.png"
    atomic_save_figure(fig, path, dpi=110, bbox_inches="tight", metadata=None)
    plt.close(fig)
    return f"figures/{path.name}"


def _headlines(a: Any, b: Any, labels: tuple[str, str]) -> Any:
    metric = REDUCTION_METRICS[0][0]
    cols = ["method", "mean_reduction_pct", "ci_low_pct", "ci_high_pct", "up_to_pct"]
    ha, hb = headline(a, metric)[cols], headline(b, metric)[cols]
    return ha.merge(hb, on="method", how="outer", suffixes=(f" [{labels[0]}]", f" [{labels[1]}]"))


def compare_report(first: str | Path, second: str | Path, *, labels: tuple[str, str] | None = None,
                   output: str | Path | None = None) -> ReportResult:
    """Write ``report.md`` / ``report.html`` comparing campaign ``second`` against ``first`` into ``output``
    (default ``<second>/vs_<label of first>``)."""
    a_dir, b_dir = Path(first), Path(second)
    labels = labels or (a_dir.name or "A", b_dir.name or "B")
    if len(labels) != 2 or not all(labels) or labels[0] == labels[1]:
        raise UaraError(f"--labels: expected two different names, e.g. old,new; got {','.join(labels)!r}")
    a, b = _load(a_dir), _load(b_dir)
    out = Path(output) if output else b_dir / f"vs_{labels[0]}"
    figdir = out / "figures"
    figdir.mkdir(parents=True, exist_ok=True)
    doc = Doc(f"Campaign {labels[1]} ({b_dir}) vs {labels[0]} ({a_dir})")
    changes = matched_changes(a, b)
    doc.h("What changed, per solver (matched runs)")
    only_a = sorted(set(a["solver"]) - set(b["solver"]))
    only_b = sorted(set(b["solver"]) - set(a["solver"]))
    doc.p(f"{labels[0]}: {len(a)} runs; {labels[1]}: {len(b)} runs; {int(changes['matched_runs'].sum()) if len(changes) else 0} "
          f"matched on (instance fingerprint, solver, seed, mode). Only in {labels[0]}: {', '.join(only_a) or 'none'}; "
          f"only in {labels[1]}: {', '.join(only_b) or 'none'}.")
    figs = []
    fig = _change_figure(changes, labels, figdir)
    if fig:
        figs.append(out / fig)
        doc.img(fig, "change per solver", f"For each solver, the mean change of {labels[1]} against {labels[0]} over the "
                "runs both campaigns hold (the same problem, seed and back-end), in % of the old value, with 95 % "
                "bootstrap intervals over those runs: left of zero is lower (better) in the new campaign.")
    if len(changes):
        doc.table(changes, formats={c: "{:.3g}" for c in changes.columns if c not in ("solver", "matched_runs")}, fold=False)
        doc.p("*_change_pct: mean of 100 (B - A) / |A| over matched runs; gap_change_pp: the mean change of the gap in "
              "percentage points; *_ci_low / *_ci_high: its 95 % bootstrap interval (2000 draws, seeded); "
              "wall_time_ratio_median: median of B / A.")
    else:
        doc.p("No run is in both campaigns: nothing to compare run by run.")
    doc.h("Headlines side by side")
    both = _headlines(a, b, labels)
    doc.table(both, formats={c: "{:.1f}" for c in both.columns if c != "method"}, fold=False)
    doc.p("Each campaign's reduction of the mean simulated latency vs the baselines (as in its own report: mean over the "
          "baselines of the mean over scenarios, with its 95 % bootstrap interval, and 'up to').")
    doc.h("Provenance")
    doc.code("\n".join(provenance_lines(b_dir)) + f"\ncompared with {a_dir}")
    md = atomic_write_text(out / "report.md", doc.markdown())
    ht = atomic_write_text(out / "report.html", doc.html())
    return ReportResult(md, ht, figs)
