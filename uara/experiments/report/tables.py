"""Table transforms of a P1 results table: derived columns, the rows each figure uses, reductions vs
the baselines (stated as the paper states its 28.0 % / 23.7 %), the summary per instance and solver.

pandas and matplotlib are imported here only (:func:`report_deps`); a missing one raises
:class:`uara.errors.MissingDependencyError`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from uara.errors import MissingDependencyError, UaraError
from uara.io import read_json
from uara.solvers import BASELINES

#: Metrics a reduction can be stated on: (column, words).
REDUCTION_METRICS = (
    ("latency_mean_s", "end-to-end latency (PSD simulator, the instances' server model)"),
    ("latency_reserved_mean_s", "end-to-end latency, reserved server (the paper's compute shares; docs/server.md)"),
    ("latency_batched_mean_s", "end-to-end latency, batched work-conserving server (docs/server.md)"),
    ("ctrl_per_device", "P1 objective (controllable part I - C, per device)"),
    ("p1_latency_s", "P1 latency terms a_i + D_ij^ES per device"),
)


def report_deps() -> tuple[Any, Any]:
    """(pandas, matplotlib.pyplot with the Agg back-end), or one line naming the missing package."""
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


# ---------------------------------------------------------------------- analysis helpers
def bootstrap_ci(values: Any, *, level: float = 0.95, resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (seeded, so a report is reproducible);
    (nan, nan) for fewer than two values."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size < 2:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, v.size, (resamples, v.size))].mean(axis=1)
    tail = 100 * (1 - level) / 2
    return float(np.percentile(means, tail)), float(np.percentile(means, 100 - tail))


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


REDUCTION_COLUMNS = ["method", "baseline", "scenarios", "mean_reduction_pct", "ci_low_pct", "ci_high_pct",
                     "max_reduction_pct", "min_reduction_pct"]


def _scenario_means(df: Any, metric: str) -> Any:
    """``metric`` per scenario (effective instance, mode; rows) and solver (columns), mean over seeds."""
    return df.dropna(subset=[metric]).groupby(["fingerprint", "mode", "solver"], observed=True)[metric].mean().unstack("solver")


def reductions(df: Any, metric: str, baselines: Sequence[str] = BASELINES) -> Any:
    """Per (method, baseline): reduction of ``metric`` = 1 - L_method / L_baseline over matched scenarios.

    A scenario is an effective instance (fingerprint) in one mode; values are
    averaged over seeds first. Returns rows: method, baseline, scenarios, mean %, its 95 % bootstrap
    interval over scenarios (ci_low_pct, ci_high_pct; seeded), max %, min %.
    """
    pd, _ = report_deps()
    if not len(df.dropna(subset=[metric])):
        return pd.DataFrame(columns=REDUCTION_COLUMNS)
    avg = _scenario_means(df, metric)
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
            lo, hi = bootstrap_ci(red.to_numpy(dtype=float))
            rows.append({"method": method, "baseline": b, "scenarios": len(pair), "mean_reduction_pct": red.mean(),
                         "ci_low_pct": lo, "ci_high_pct": hi, "max_reduction_pct": red.max(), "min_reduction_pct": red.min()})
    return pd.DataFrame(rows, columns=REDUCTION_COLUMNS)


def headline(df: Any, metric: str, baselines: Sequence[str] = BASELINES, *, resamples: int = 2000,
             seed: int = 0) -> Any:
    """One row per method: the paper's "on average" figure (the mean over the baselines of the mean
    reduction over scenarios) with its 95 % bootstrap interval (scenarios resampled jointly, seeded),
    and "up to" (the largest reduction over scenarios and baselines); methods sorted by the mean."""
    pd, _ = report_deps()
    avg = _scenario_means(df, metric) if len(df.dropna(subset=[metric])) else None
    present = [b for b in baselines if avg is not None and b in avg.columns]
    rows = []
    for method in ([] if avg is None else [c for c in avg.columns if c not in baselines]):
        m = avg[[method, *present]].dropna()
        m = m[(m[present] > 0).all(axis=1)] if present else m.iloc[0:0]
        if not len(m):
            continue
        red = 100.0 * (1.0 - m[[method]].to_numpy() / m[present].to_numpy())  # (scenarios, baselines)
        # every scenario has every baseline, so the mean over baselines of the means over scenarios is the
        # mean over scenarios of each scenario's mean over baselines: resample those
        lo, hi = bootstrap_ci(red.mean(axis=1), resamples=resamples, seed=seed)
        rows.append({"method": method, "scenarios": len(red), "baselines": ", ".join(present),
                     "mean_reduction_pct": float(red.mean(axis=0).mean()), "ci_low_pct": float(lo),
                     "ci_high_pct": float(hi), "up_to_pct": float(red.max())})
    out = pd.DataFrame(rows, columns=["method", "scenarios", "baselines", "mean_reduction_pct", "ci_low_pct",
                                      "ci_high_pct", "up_to_pct"])
    return out.sort_values("mean_reduction_pct", ascending=False).reset_index(drop=True)


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
        k = int(g["scenarios"].max())
        count = "the baseline" if n == 1 else f"the {'three' if n == 3 else n} baselines"
        whom = f"than {count} ({names}; {k} scenario{'s' if k != 1 else ''})"
        if up >= 0 and avg >= 0:
            out.append(f"{method}: up to {up:.1f} % and on average {avg:.1f} % lower {what} {whom}.")
        else:
            best = f"{abs(up):.1f} % {'lower' if up >= 0 else 'higher'}"
            out.append(f"{method}: on average {abs(avg):.1f} % {'lower' if avg >= 0 else 'higher'} {what} {whom}; best case {best}.")
    return out



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


def solver_order(df: Any) -> list[str]:
    """The solvers of a table: baselines first (in BASELINES order), then the others by name."""
    return solver_order_names(list(df["solver"].dropna().unique()))


def solver_order_names(names: list[str]) -> list[str]:
    """Baselines first (in BASELINES order), then the other names sorted."""
    first = [b for b in BASELINES if b in names]
    return first + sorted(n for n in names if n not in first)


def summary_table(df: Any) -> Any:
    """One row per (instance, mode, solver): never a mean across instances of different sizes.

    Columns: runs, statuses (count of each), objective I (mean over seeds, 10 digits), its spread
    (sample standard deviation over seeds), above_best_pct = 100 (I - I_best) / (I_best - C) against the
    best solver on that instance, gap to the best bound, PSD latency mean/p95 (and its spread), energy,
    wall time."""
    pd, _ = report_deps()
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


def stored_solution(path: Path) -> dict[str, Any]:
    """The solution of a stored run file (``{"row": ..., "solution": ...}``); {} for a file that is not one
    (a malformed run file is rerun by the next compare; the report skips it). Raises UaraError if unreadable."""
    data = read_json(path, what="run file")
    sol = data.get("solution") if isinstance(data, dict) else None
    return sol if isinstance(sol, dict) and isinstance(sol.get("slots", []), list) else {}


def stored_solutions(df: Any, root: Path) -> tuple[str | None, dict[str, dict[str, Any]]]:
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
            out[str(r["solver"])] = stored_solution(root / str(r["solution_file"]))
        except UaraError:
            continue
    return str(inst), out


def per_slot_table(sols: dict[str, dict[str, Any]]) -> Any:
    """I(t) - C(t) per slot (rows) and solver (columns) of stored solutions (:func:`stored_solutions`),
    with each slot's status."""
    pd, _ = report_deps()
    table = {}
    for name, sol in sorted(sols.items()):
        table[name] = [f"{s['objective'] - s['constant']:.6g} ({s.get('status', '?')})" for s in sol.get("slots", [])]
    n = max(len(v) for v in table.values())
    frame = pd.DataFrame({k: v + [""] * (n - len(v)) for k, v in table.items()})
    frame.insert(0, "slot", range(n))
    return frame
