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
    p.add_argument("results", nargs="+", metavar="RESULTS",
                   help="comparison output folder or results table file; two folders (A B) compare the campaigns: "
                        "B's matched runs against A's, with intervals")
    p.add_argument("--labels", default=None, metavar="A,B", help="names of the two campaigns (default: their folder names)")
    p.add_argument("--output", "-O", default=None, metavar="DIR",
                   help="where to write the report (default: RESULTS; for two campaigns B/vs_<label of A>)")
    p.add_argument("--title", default=None, help="report title")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from uara.errors import UaraError

    if len(args.results) > 2:
        raise UaraError(f"RESULTS: one folder, or two to compare; got {len(args.results)}")
    if len(args.results) == 2:
        from uara.experiments.report.campaigns import compare_report

        labels = None
        if args.labels is not None:
            labels = tuple(t.strip() for t in args.labels.split(","))
            if len(labels) != 2:
                raise UaraError(f"--labels: expected two comma-separated names (e.g. old,new), got {args.labels!r}")
        res = compare_report(args.results[0], args.results[1], labels=labels, output=args.output)
    else:
        if args.labels is not None:
            raise UaraError("--labels: names two campaigns; give two RESULTS folders")
        from uara.experiments.report import build_report

        res = build_report(args.results[0], args.output, args.title)
    print(f"wrote {res.markdown}, {res.html} and {len(res.figures)} figure(s)")
    return 0
