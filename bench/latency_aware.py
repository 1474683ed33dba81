"""Merge the comparisons of bench/latency_aware.sh into results/latency_aware/table.md and summary.json.

    python bench/latency_aware.py [results/latency_aware]

Per shipped instance (all batched, background load 0.3), under the instance's server model: every P1
back-end's simulated mean latency (its decision, the tasks' own draft length 4), ``tkslt-length`` (Max-SINR
with the closed-form length per device), ``latency-search`` restricted to length 4 (association and
shares only) and ``latency-search`` over lengths 1..8, the certified floor (best server and best length,
alone) and each method's gap to it. The checks of issue 24's acceptance are printed and stored: the
search at most every other back-end, no method below the floor. "How much of it is the draft length":
the best P1 back-end's latency minus the search's at length 4 (association and shares), and the search
at length 4 minus the search over 1..8 (the draft length).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from uara.io import atomic_write_json, atomic_write_text

PARTS = {"p1": None, "tkslt": None, "fixed_length": "latency-search (length 4)", "search": "latency-search (1..8)"}
P1 = ["random", "max-sinr", "max-compute", "tma", "masac", "masac-uara", "relax", "exact"]
ORDER = ["m30_e8", "m60_e8", "m90_e8", "m120_e8", "m150_e8", "m180_e8", "m60_e4", "m60_e12", "m60_e16", "m60_e20"]


def load(root: Path) -> pd.DataFrame:
    frames = []
    for part, label in PARTS.items():
        f = root / part / "results.parquet"
        if not f.exists():
            continue
        df = pd.read_parquet(f)
        df = df[df["error"].isna() | (df["error"] == "")] if "error" in df else df
        df = df.assign(method=df["solver"] if label is None else label)
        frames.append(df)
    if not frames:
        raise SystemExit(f"{root}: no results.parquet under {', '.join(PARTS)}")
    return pd.concat(frames, ignore_index=True)


def summarise(df: pd.DataFrame) -> tuple[list[dict], dict]:
    rows, checks = [], {"search_at_most_every_other": [], "no_method_below_floor": []}
    for inst in [i for i in ORDER if i in set(df["instance"])]:
        d = df[df["instance"] == inst].set_index("method")
        lat = d["latency_mean_s"].astype(float)
        floor = float(d["latency_floor_mean_s"].astype(float).min())
        row = {"instance": inst, "floor_s": floor, **{f"{m}": float(v) for m, v in lat.items()}}
        p1 = lat[[m for m in P1 if m in lat.index]]
        if not p1.empty:
            row["best_p1"] = str(p1.idxmin())
        if "exact" in d.index:
            row["exact_status"] = str(d.loc["exact", "status"])
            row["exact_gap"] = None if pd.isna(d.loc["exact", "gap"]) else float(d.loc["exact", "gap"])
        search, fixed = lat.get(PARTS["search"]), lat.get(PARTS["fixed_length"])
        if search is not None:
            others = lat.drop(PARTS["search"])
            checks["search_at_most_every_other"].append(bool(search <= others.min() + 1e-12))
            row["search_vs_best_other_pct"] = float(100 * (1 - search / others.min()))
        checks["no_method_below_floor"].append(bool((lat >= floor * (1 - 1e-12)).all()))
        if search is not None and fixed is not None and not p1.empty:
            row["gain_association_s"] = float(p1.min() - fixed)
            row["gain_draft_length_s"] = float(fixed - search)
        if search is not None and fixed is not None and "exact" in lat.index:
            gap = float(lat["exact"] - search)  # the certified P1 optimum's latency above the best found
            row["p1_optimum_above_best_pct"] = float(100 * gap / search)
            row["of_it_draft_length_pct"] = float(100 * (fixed - search) / gap) if gap > 0 else None
        rows.append(row)
    return rows, {k: {"holds": all(v), "instances": len(v)} for k, v in checks.items()}


def render(rows: list[dict], checks: dict, methods: list[str]) -> str:
    head = ("| instance | floor s | " + " | ".join(methods) + " | best P1 | search vs best other % | from association s "
            "| from draft length s | P1 optimum above best % | of it draft length % |")
    lines = ["# Latency-aware UARA against every P1 back-end on the shipped instances", "",
             "Mean simulated end-to-end latency (s) under each instance's server model (all batched, background "
             "load 0.3), seed 0. P1 back-ends keep the tasks' own draft length 4; `tkslt-length` is Max-SINR with the "
             "closed-form length per device; `latency-search (length 4)` searches association and shares only. "
             "The floor is certified (each device alone on its best server at its best length in 1..8).", "",
             f"- latency-search (1..8) at most every other method: {checks['search_at_most_every_other']}",
             f"- no method below the floor: {checks['no_method_below_floor']}", "",
             head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        cells = [f"{r[m]:.3f}" if isinstance(r.get(m), float) and np.isfinite(r[m]) else "" for m in methods]
        extra = [r.get("best_p1", ""), _f(r.get("search_vs_best_other_pct"), 1), _f(r.get("gain_association_s"), 3),
                 _f(r.get("gain_draft_length_s"), 3), _f(r.get("p1_optimum_above_best_pct"), 1),
                 _f(r.get("of_it_draft_length_pct"), 0)]
        lines.append(f"| {r['instance']} | {r['floor_s']:.3f} | " + " | ".join(cells + extra) + " |")
    lines += ["", "From association: the best P1 back-end's latency minus latency-search's at length 4; from draft "
              "length: latency-search at length 4 minus latency-search over 1..8. P1 optimum above best: `exact`'s "
              "latency (P1's optimum, certified within the gap in summary.json: 0.02-1.2 % of I - C under its 60 s "
              "limit) over latency-search's, minus 1; of it draft length: the part latency-search's length choice "
              "explains, (length-4 search - search) / (exact - search)."]
    return "\n".join(lines) + "\n"


def _f(v, digits: int) -> str:
    return "" if v is None else f"{v:.{digits}f}"


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "results/latency_aware")
    df = load(root)
    rows, checks = summarise(df)
    present = set(df["method"])
    methods = [m for m in P1 + ["tkslt-length", PARTS["fixed_length"], PARTS["search"]] if m in present]
    atomic_write_json(root / "summary.json", {"rows": rows, "checks": checks,
                                              "command": "bash bench/latency_aware.sh"})
    text = render(rows, checks, methods)
    atomic_write_text(root / "table.md", text)
    print(text)


if __name__ == "__main__":
    main()
