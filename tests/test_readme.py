"""The README's quick tour works as written: its first shell block, line by line, and its Python block,
run from a scratch folder that sees the shipped instances (nothing is written into the repository)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def _blocks(section: str, lang: str) -> list[str]:
    start = README.index(f"## {section}")
    end = README.find("\n## ", start + 3)
    body = README[start:end if end > 0 else None]
    return re.findall(rf"```{lang}\n(.*?)```", body, re.S)


def _commands(block: str) -> list[list[str]]:
    out = []
    for line in block.splitlines():
        line = line.split("  #", 1)[0].strip()
        if line and not line.startswith("#"):
            out.append(shlex.split(line))
    return out


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    (tmp_path / "instances").symlink_to(ROOT / "instances")
    return tmp_path


def test_the_tour_has_a_shell_and_a_python_block() -> None:
    shell, python = _blocks("A three-minute tour", "sh"), _blocks("A three-minute tour", "python")
    assert len(shell) >= 1 and len(python) == 1
    assert all(cmd[0] == "uara" for cmd in _commands(shell[0])) and len(_commands(shell[0])) >= 10


@pytest.mark.slow
def test_the_tour_shell_block_runs(scratch: Path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    times = []
    for cmd in _commands(_blocks("A three-minute tour", "sh")[0]):
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "uara", *cmd[1:]], cwd=scratch, env=env, capture_output=True,
                             text=True, timeout=600)
        times.append((time.perf_counter() - t0, " ".join(cmd)))
        assert out.returncode == 0, f"{' '.join(cmd)}\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}"
    print("\n".join(f"{t:6.1f} s  {c}" for t, c in times) + f"\n{sum(t for t, _ in times):6.1f} s  in all")
    assert (scratch / "results" / "run1" / "report.html").exists() and (scratch / "m30_slot0.mps").exists()
    assert not (scratch / ".uara-cache").exists()


@pytest.mark.slow
def test_the_tour_python_block_runs(scratch: Path) -> None:
    code = _blocks("A three-minute tour", "python")[0]
    out = subprocess.run([sys.executable, "-c", code], cwd=scratch, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert len(out.stdout.strip().splitlines()) >= 4
