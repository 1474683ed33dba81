"""`uara report`: Markdown + HTML report with PNG figures from a `uara compare` output folder."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="write report.md / report.html with the paper's figures from a comparison folder",
        description=(
            "Read RESULTS/results.parquet (or .csv, or a table file) written by `uara compare` and write report.md, "
            "report.html and figures/*.png: Fig. 5 (latency vs M and E), Fig. 6 (energy weight vs latency and energy "
            "by battery level), gaps to the best lower bound, runtime vs size, reductions vs the baselines."
        ),
    )
    p.add_argument("results", help="comparison output folder or results table file")
    p.add_argument("--output", "-O", default=None, metavar="DIR", help="where to write the report (default: RESULTS)")
    p.add_argument("--title", default=None, help="report title")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from uara.experiments.report import build_report

    res = build_report(args.results, args.output, args.title)
    print(f"wrote {res.markdown}, {res.html} and {len(res.figures)} figure(s)")
    return 0
