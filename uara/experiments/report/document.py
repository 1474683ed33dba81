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
#: tables longer than this many rows are folded (``<details>``) unless a block says otherwise
FOLD_ROWS = 12

_CSS = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;line-height:1.4}"
        "table{border-collapse:collapse;font-size:85%}td,th{border:1px solid #bbb;padding:2px 6px;text-align:right;"
        "white-space:nowrap}th{background:#eee;position:sticky;top:0}td:first-child,th:first-child{text-align:left}"
        ".scroll{overflow-x:auto;max-width:100%}img{max-width:100%}figure{margin:1em 0}"
        "figcaption{font-size:90%;color:#333;max-width:900px}pre{background:#f4f4f4;padding:6px;overflow-x:auto}"
        "nav{background:#f8f8f8;border:1px solid #ddd;padding:.5em 1em;margin-bottom:1.5em}nav ul{margin:.2em 0}"
        "details{margin:.5em 0}summary{cursor:pointer;color:#036}")


def slug(text: str) -> str:
    """The anchor of a heading: lower case, letters, digits and dashes (GitHub's rule, near enough)."""
    import re

    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"


@dataclass
class Doc:
    """A report as a list of blocks, rendered to Markdown and to HTML, with a table of contents of its
    headings (anchored), figures with captions, and long tables folded."""

    title: str
    blocks: list[tuple[str, Any]] = field(default_factory=list)

    def h(self, text: str, level: int = 2) -> None:
        self.blocks.append(("h", (level, text)))

    def p(self, text: str) -> None:
        self.blocks.append(("p", text))

    def code(self, text: str) -> None:
        self.blocks.append(("code", text))

    def table(self, df: Any, floatfmt: str = "{:.4g}", *, fold: bool | None = None, summary: str | None = None,
              formats: dict[str, str] | None = None) -> None:
        """A table; ``fold`` (default: more than FOLD_ROWS rows) puts it behind a ``<details>`` line
        (``summary``); ``formats``: a format per column (e.g. ``{"mean_pct": "{:.1f}"}``)."""
        fold = len(df) > FOLD_ROWS if fold is None else fold
        self.blocks.append(("table", (df, floatfmt, fold, summary or f"table: {len(df)} rows", formats or {})))

    def img(self, path: str, alt: str, caption: str | None = None) -> None:
        """A figure; ``caption``: a sentence under it saying what it shows."""
        self.blocks.append(("img", (path, alt, caption)))

    def _anchors(self) -> list[tuple[int, str, str]]:
        seen: dict[str, int] = {}
        out = []
        for kind, val in self.blocks:
            if kind == "h":
                base = slug(val[1])
                n = seen.get(base, 0)
                seen[base] = n + 1
                out.append((val[0], val[1], base if n == 0 else f"{base}-{n}"))
        return out

    def markdown(self) -> str:
        anchors = iter(self._anchors())
        heads = self._anchors()
        out = [f"# {self.title}", "", "**Contents**", ""]
        out += [("  " * (lv - 2)) + f"- [{text}](#{a})" for lv, text, a in heads if lv <= 3] + [""]
        for kind, val in self.blocks:
            if kind == "h":
                lv, text, a = next(anchors)
                out += [f'<a id="{a}"></a>', "", "#" * lv + " " + text, ""]
            elif kind == "p":
                out += [val, ""]
            elif kind == "code":
                out += ["```", val, "```", ""]
            elif kind == "table":
                df, fmt, fold, summary, formats = val
                body = _md_table(df, fmt, formats)
                out += ([f"<details><summary>{summary}</summary>", "", body, "", "</details>", ""] if fold
                        else [body, ""])
            elif kind == "img":
                out += [f"![{val[1]}]({val[0]})", ""] + ([f"*{val[2]}*", ""] if val[2] else [])
        return "\n".join(out)

    def html(self) -> str:
        e = html.escape
        heads = self._anchors()
        anchors = iter(heads)
        toc = "".join(f"<li style='margin-left:{(lv - 2) * 1.2}em'><a href='#{a}'>{e(text)}</a></li>"
                      for lv, text, a in heads if lv <= 3)
        out = [
            "<!doctype html><html><head><meta charset='utf-8'>",
            "<meta name='viewport' content='width=device-width, initial-scale=1'>",
            f"<title>{e(self.title)}</title><style>{_CSS}</style>",
            f"</head><body><h1>{e(self.title)}</h1>",
            f"<nav><b>Contents</b><ul>{toc}</ul></nav>",
        ]
        for kind, val in self.blocks:
            if kind == "h":
                lv, text, a = next(anchors)
                out.append(f"<h{lv} id='{a}'>{e(text)} <a href='#{a}' style='font-size:70%;color:#999'>#</a></h{lv}>")
            elif kind == "p":
                out.append(f"<p>{_inline(val)}</p>")
            elif kind == "code":
                out.append(f"<pre>{e(val)}</pre>")
            elif kind == "table":
                df, fmt, fold, summary, formats = val
                tab = f"<div class='scroll'>{_html_table(df, fmt, formats)}</div>"
                out.append(f"<details><summary>{e(summary)}</summary>{tab}</details>" if fold else tab)
            elif kind == "img":
                cap = f"<figcaption>{_inline(val[2])}</figcaption>" if val[2] else ""
                out.append(f"<figure><img src='{e(val[0])}' alt='{e(val[1])}'>{cap}</figure>")
        out.append("</body></html>")
        return "\n".join(out)


def _inline(text: str) -> str:
    """Escaped text with Markdown's **bold** kept as <b>."""
    import re

    return re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", html.escape(text))


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


def _md_table(df: Any, floatfmt: str, formats: dict[str, str] | None = None) -> str:
    cols = [str(c) for c in df.columns]
    fmts = [(formats or {}).get(c, floatfmt) for c in cols]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in df.itertuples(index=False):
        lines.append("| " + " | ".join(_cell(v, f).replace("|", "\\|") for v, f in zip(row, fmts)) + " |")
    return "\n".join(lines)


def _html_table(df: Any, floatfmt: str, formats: dict[str, str] | None = None) -> str:
    e = html.escape
    cols = [str(c) for c in df.columns]
    fmts = [(formats or {}).get(c, floatfmt) for c in cols]
    head = "".join(f"<th>{e(c)}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{e(_cell(v, f))}</td>" for v, f in zip(row, fmts)) + "</tr>"
                   for row in df.itertuples(index=False))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


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
