"""Assembling a report: one section per problem family present in a comparison folder, then the provenance.

Each family names its section (:attr:`uara.model.shared.family.ProblemFamily.report_section`); the
sections are registered in :data:`SECTIONS` with the table that says the family is present and the
function that renders it. A third family adds one :class:`Section` here. :func:`build_report` writes
``report.md``, ``report.html`` and ``figures/*.png`` (each file atomically).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from uara.errors import UaraError
from uara.experiments.report.document import Doc, ReportResult, provenance_lines
from uara.experiments.report.p1_section import p1_section
from uara.experiments.report.pipeline_section import pipeline_section
from uara.experiments.report.tables import report_deps
from uara.experiments.table import find_results_table, results_table_path
from uara.io import atomic_write_text
from uara.model.shared.family import FAMILIES, P1, PIPELINE


@dataclass(frozen=True)
class Section:
    """A family's part of a report: the title of a report that holds only it, where its table is in a
    folder (None: absent), and ``render(doc, table, out, figdir) -> figures``."""

    title: str
    table: Callable[[Path], Path | None]
    render: Callable[[Doc, Path, Path, Path], list[Path]]


def _pipeline_table(folder: Path) -> Path | None:
    path = folder / PIPELINE.table
    return path if path.exists() else None


def _render_pipeline(doc: Doc, table: Path, out: Path, figdir: Path) -> list[Path]:
    return pipeline_section(doc, table, figdir)


#: family.report_section -> its section
SECTIONS: dict[str, Section] = {
    P1.report_section: Section("Solver comparison", find_results_table, p1_section),
    PIPELINE.report_section: Section("Pipelined serving comparison", _pipeline_table, _render_pipeline),
}


def _present(src: Path) -> list[tuple[Section, Path]]:
    """The sections with a table under ``src`` (a folder), or the one section of a table file."""
    if not src.is_dir():  # a table file: the pipeline's by its name, else P1's (checked before any write)
        if src.name == PIPELINE.table and src.is_file():
            return [(SECTIONS[PIPELINE.report_section], src)]
        return [(SECTIONS[P1.report_section], results_table_path(src))]
    found = []
    for fam in FAMILIES.values():
        sec = SECTIONS[fam.report_section]
        table = sec.table(src)
        if table is not None:
            found.append((sec, table))
    return found


def build_report(results: str | Path, output: str | Path | None = None, title: str | None = None) -> ReportResult:
    """Write ``report.md``, ``report.html`` and ``figures/*.png`` for a comparison folder (or table file)."""
    report_deps()
    src = Path(results)
    present = _present(src)
    if not present:
        raise UaraError(f"no results table in {src} (expected " + ", ".join(
            ["results.parquet", "results.csv"] + [f.table for f in FAMILIES.values() if f is not P1])
            + "; run `uara compare` first)")
    out = Path(output) if output else (src if src.is_dir() else src.parent)
    figdir = out / "figures"
    figdir.mkdir(parents=True, exist_ok=True)
    doc = Doc(title or f"{present[0][0].title}: {src}")
    figs: list[Path] = []
    for sec, table in present:
        figs += sec.render(doc, table, out, figdir)
    doc.h("Provenance")
    doc.code("\n".join(provenance_lines(src)))
    md = atomic_write_text(out / "report.md", doc.markdown())
    ht = atomic_write_text(out / "report.html", doc.html())
    return ReportResult(md, ht, figs)
