"""How much of each claimed reduction survives the batched server: a Markdown table from claims.json.

    python bench/server_model_claims.py results/paper/claims.json [--before OLD_CLAIMS.json]

Per (method, baseline) with the baselines' uniform shares (the paper's): the mean and largest reduction
of the simulated mean latency over scenarios, and the range over grid points (mean over a point's
builds), under the reserved server (``latency_reserved_mean_s``) and the batched one
(``latency_batched_mean_s``); with ``--before``, the same claim from an earlier claims.json (its
``latency_mean_s``: reserved server, Max-SINR-induced backlogs) in the first column. Prints only.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def _rows(claims: dict, metric: str) -> dict[tuple[str, str], dict]:
    return {(r["method"], r["baseline"]): r for r in claims["reductions"]
            if r.get("channel", "all") == "all" and r["metric"] == metric and r["allocation"] == "uniform"}


def _cell(r: dict | None, points: bool = True) -> str:
    if r is None:
        return "-"
    text = f"{r['mean_pct']:.1f} (up to {r['max_pct']:.1f})"
    if points and "max_point_pct" in r:
        text += f"; points {r['min_point_pct']:.1f}..{r['max_point_pct']:.1f}"
    return text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("claims")
    ap.add_argument("--before", default=None)
    a = ap.parse_args()
    new = json.loads(Path(a.claims).read_text())
    res, bat = _rows(new, "latency_reserved_mean_s"), _rows(new, "latency_batched_mean_s")
    old = _rows(json.loads(Path(a.before).read_text()), "latency_mean_s") if a.before else {}
    head = "| method | baseline |" + (" before: reserved, Max-SINR backlog |" if old else "") + \
        " reserved server | batched server |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for key in sorted(set(res) | set(bat)):
        cells = ([_cell(old.get(key), points=False)] if old else []) + [_cell(res.get(key)), _cell(bat.get(key))]
        print(f"| {key[0]} | {key[1]} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
