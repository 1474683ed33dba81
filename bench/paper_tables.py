"""Markdown tables for results/paper/DISCUSSION.md from a comparison table and its claims.

    python bench/paper_tables.py results/paper

Prints: (1) the claims in the paper's words next to the paper's numbers; (2) each method's certified gap
per grid point (100 (I - LB) / (I - C), LB the best bound of the scenario); (3) TMA-MASAC against Max-SINR
with the exact allocation per scenario (share of scenarios where it is not worse, in I - C); (4) the rank
correlation (Spearman) between P1's objective and the simulated in-coverage mean latency across methods,
per scenario, summarised per grid point.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _point(instance: str) -> str:
    m = re.match(r"(m\d+_e\d+)", instance)
    return m.group(1) if m else instance


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    rx, ry = np.argsort(np.argsort(x)), np.argsort(np.argsort(y))
    if np.std(rx) == 0 or np.std(ry) == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def main() -> int:
    from uara.experiments.table import load_table

    folder = Path(sys.argv[1])
    df = load_table(folder / "results.parquet")
    df = df[(df["mode"] == "static") & (df["params"] == "{}") & df["feasible"].fillna(False).astype(bool)].copy()
    df["point"] = df["instance"].map(_point)
    claims = json.loads((folder / "claims.json").read_text())
    claims["reductions"] = [r for r in claims["reductions"] if r.get("channel", "all") == "all"]

    print("### Claims (in-coverage mean latency; mean over scenarios [95 % bootstrap CI], max)\n")
    print("| method | baseline | shares | on average | up to (scenario) | up to (grid point) | scenarios |")
    print("|---|---|---|---|---|---|---|")
    for r in claims["reductions"]:
        if r["metric"] == "latency_cov_mean_s":
            print(f"| {r['method']} | {r['baseline']} | {r['allocation']} | {r['mean_pct']:.1f} % "
                  f"[{r['ci95'][0]:.1f}, {r['ci95'][1]:.1f}] | {r['max_pct']:.1f} % | {r['max_point_pct']:.1f} % | "
                  f"{r['scenarios']} |")
    for metric in ("latency_cov_mean_s", "latency_cov_median_s", "latency_cov_p95_s"):
        avg = [r for r in claims["reductions"] if r["metric"] == metric and r["method"] == "masac"]
        if avg:
            u = [r["mean_pct"] for r in avg if r["allocation"] == "uniform"]
            e = [r["mean_pct"] for r in avg if r["allocation"] == "exact"]
            print(f"\nmasac, {metric}: average over the three baselines {np.mean(u):.1f} % (uniform shares), "
                  f"{np.mean(e):.1f} % (exact allocation)")

    print("\n### Certified gap per grid point: mean (max) of 100 (I - LB) / (I - C) over the builds\n")
    methods = [s for s in ("masac", "tma", "max-sinr+exact", "relax", "price") if s in set(df["solver"])]
    print("| point | " + " | ".join(methods) + " |")
    print("|---|" + "---|" * len(methods))
    for point, g in df.groupby("point", sort=False):
        cells = []
        for s in methods:
            v = 100 * g[g["solver"] == s]["gap"].astype(float)
            cells.append(f"{v.mean():.2f} ({v.max():.2f})" if v.notna().any() else "")
        print(f"| {point} | " + " | ".join(cells) + " |")

    print("\n### TMA-MASAC vs Max-SINR with the exact allocation (I - C), per scenario\n")
    per = df.groupby(["instance", "solver"])["controllable"].mean().unstack()
    if {"masac", "max-sinr+exact"} <= set(per.columns):
        diff = 100 * (per["masac"] - per["max-sinr+exact"]) / per["max-sinr+exact"]
        print(f"masac not worse in {(diff <= 1e-9).mean() * 100:.0f} % of {diff.notna().sum()} scenarios; "
              f"median {diff.median():+.1f} %, worst {diff.max():+.1f} %, best {diff.min():+.1f} %")

    print("\n### Rank correlation between P1's objective and in-coverage mean latency across methods\n")
    rows = []
    for inst, g in df.groupby("instance"):
        g = g.groupby("solver")[["objective", "latency_cov_mean_s"]].mean().dropna()
        if len(g) >= 3:
            rows.append((_point(inst), _spearman(g["objective"].values, g["latency_cov_mean_s"].values)))
    if rows:
        import collections

        by = collections.defaultdict(list)
        for p, r in rows:
            by[p].append(r)
        print("| point | Spearman rho: mean (min) over builds |")
        print("|---|---|")
        for p, v in by.items():
            print(f"| {p} | {np.nanmean(v):.2f} ({np.nanmin(v):.2f}) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
