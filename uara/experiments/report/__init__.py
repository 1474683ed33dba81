"""Reports from a comparison folder (benchopt's "plot" step; :mod:`uara.experiments.comparison` runs and stores).

:func:`build_report` writes ``report.md`` and ``report.html`` next to PNG figures in ``figures/``, one
section per problem family present in the folder (:mod:`.assembly`). The room's modules, one job each:

- :mod:`.document` -- the report as blocks rendered to Markdown and HTML, and its provenance lines;
- :mod:`.tables` -- table transforms of a P1 results table (summary, reductions vs the baselines);
- :mod:`.figures` -- the P1 figures: Fig. 5 (latency vs M and E; PSD latency on top, P1's objective per
  device below, so proxy and simulated latency are read side by side), Fig. 6 (energy weight vs latency
  and energy by battery level), runtime vs size, anytime curves, per-device latency;
- :mod:`.p1_section` / :mod:`.pipeline_section` -- each family's section;
- :mod:`.assembly` -- the sections registered per family, and :func:`build_report`.
"""

from uara.experiments.report.assembly import SECTIONS, build_report
from uara.experiments.report.document import Doc, ReportResult
from uara.experiments.report.tables import base_rows, prepare, reduction_sentences, reductions, summary_table

__all__ = ["SECTIONS", "Doc", "ReportResult", "base_rows", "build_report", "prepare", "reduction_sentences",
           "reductions", "summary_table"]
