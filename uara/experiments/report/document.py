"""The report as a document: blocks (headings, paragraphs, code, tables, images) rendered to Markdown
and to HTML, and the provenance lines every report ends with."""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from uara.io import package_versions


# ---------------------------------------------------------------------- document model
@dataclass
class Doc:
    """A report as a list of blocks, rendered to Markdown and to HTML."""

    title: str
    blocks: list[tuple[str, Any]] = field(default_factory=list)

    def h(self, text: str, level: int = 2) -> None:
        self.blocks.append(("h", (level, text)))

    def p(self, text: str) -> None:
        self.blocks.append(("p", text))

    def code(self, text: str) -> None:
        self.blocks.append(("code", text))

    def table(self, df: Any, floatfmt: str = "{:.4g}") -> None:
        self.blocks.append(("table", (df, floatfmt)))

    def img(self, path: str, alt: str) -> None:
        self.blocks.append(("img", (path, alt)))

    def markdown(self) -> str:
        out = [f"# {self.title}", ""]
        for kind, val in self.blocks:
            if kind == "h":
                out += ["#" * val[0] + " " + val[1], ""]
            elif kind == "p":
                out += [val, ""]
            elif kind == "code":
                out += ["```", val, "```", ""]
            elif kind == "table":
                out += [_md_table(*val), ""]
            elif kind == "img":
                out += [f"![{val[1]}]({val[0]})", ""]
        return "\n".join(out)

    def html(self) -> str:
        e = html.escape
        out = [
            "<!doctype html><html><head><meta charset='utf-8'>",
            f"<title>{e(self.title)}</title>",
            "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;}"
            "table{border-collapse:collapse;font-size:90%}td,th{border:1px solid #bbb;padding:2px 6px;text-align:right}"
            "th{background:#eee}img{max-width:100%}pre{background:#f4f4f4;padding:6px;overflow-x:auto}</style>",
            f"</head><body><h1>{e(self.title)}</h1>",
        ]
        for kind, val in self.blocks:
            if kind == "h":
                out.append(f"<h{val[0]}>{e(val[1])}</h{val[0]}>")
            elif kind == "p":
                out.append(f"<p>{e(val)}</p>")
            elif kind == "code":
                out.append(f"<pre>{e(val)}</pre>")
            elif kind == "table":
                out.append(_html_table(*val))
            elif kind == "img":
                out.append(f"<p><img src='{e(val[0])}' alt='{e(val[1])}'></p>")
        out.append("</body></html>")
        return "\n".join(out)



def _cell(v: Any, floatfmt: str) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        if math.isnan(v):
            return ""
        return floatfmt.format(v)
    try:
        import pandas as pd

        if pd.isna(v):
            return ""
    except (ImportError, TypeError, ValueError):
        pass
    return str(v)


def _md_table(df: Any, floatfmt: str) -> str:
    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in df.itertuples(index=False):
        lines.append("| " + " | ".join(_cell(v, floatfmt).replace("|", "\\|") for v in row) + " |")
    return "\n".join(lines)


def _html_table(df: Any, floatfmt: str) -> str:
    e = html.escape
    head = "".join(f"<th>{e(str(c))}</th>" for c in df.columns)
    body = "".join("<tr>" + "".join(f"<td>{e(_cell(v, floatfmt))}</td>" for v in row) + "</tr>" for row in df.itertuples(index=False))
    return f"<table><tr>{head}</tr>{body}</table>"


def provenance_lines(src: Path) -> list[str]:
    """What made this report: uara's version and commit, the machine, the time."""
    import os
    import platform
    import subprocess

    from uara import __version__

    commit = "unknown"
    try:
        here = Path(__file__).resolve().parent
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=here, capture_output=True, text=True,
                                timeout=5).stdout.strip() or "unknown"
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=here, capture_output=True, text=True, timeout=5).stdout
        commit += " (with uncommitted changes)" if dirty.strip() else ""
    except (OSError, subprocess.SubprocessError):
        pass
    import time as _time

    return [f"uara {__version__}, commit {commit}",
            f"machine: {platform.machine()}, {os.cpu_count()} CPU(s), {platform.platform()}, Python {platform.python_version()}",
            "packages: " + ", ".join(f"{k} {v}" for k, v in package_versions().items() if v is not None)
            + " (pinned by constraints.txt)",
            f"report written {_time.strftime('%Y-%m-%d %H:%M:%S')} from {src}"]



@dataclass
class ReportResult:
    """The files a report wrote."""

    markdown: Path
    html: Path
    figures: list[Path]
