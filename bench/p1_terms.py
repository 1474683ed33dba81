"""The term-by-term rank correlations of bench/p1_terms.sh: reads OUT/paper_weights and OUT/latency_scale,
writes OUT/terms.json (atomically) and prints a Markdown table.

    python bench/p1_terms.py results/p1_terms
"""

from __future__ import annotations

import argparse
import platform
from pathlib import Path

from uara.experiments.report.p1_section import term_rank_correlations
from uara.experiments.report.tables import base_rows
from uara.experiments.table import load_table
from uara.io import atomic_write_json

VARIANTS = {"paper_weights": "the instances' own weights (credible set: lambda 1e-2, w 20)",
            "latency_scale": "latency-scale: lambda 1e-6, w 0.25 s/J"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    out = ap.parse_args().out
    record = {"format": "uara-p1-terms/1", "variants": {}, "machine": platform.platform(),
              "metric": "Spearman rank correlation across methods with the simulated mean latency (batched server)"}
    print("| weights | instance | methods | rho(I - C) | rho(latency part) | rho(energy part) | energy share of best I - C |")
    print("|---|---|---|---|---|---|---|")
    for key, what in VARIANTS.items():
        per = term_rank_correlations(base_rows(load_table(out / key)))
        rows = per.reset_index().to_dict("records")
        record["variants"][key] = {"what": what, "rows": rows}
        for r in rows:
            print(f"| {key} | {r['instance']} | {r['solvers']} | {r['rho_controllable']:.2f} | {r['rho_latency_part']:.2f} | "
                  f"{r['rho_energy_part']:.2f} | {100 * r['energy_share_of_best']:.1f} % |")
    atomic_write_json(out / "terms.json", record)


if __name__ == "__main__":
    main()
