"""`uara compare` and its worker processes: no orphan after kill -9 of the campaign, and a dead
worker does not end the campaign (real processes, real signals; Linux /proc)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from uara.scenario.random_instance import random_instance

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        kids.setdefault(ppid, []).append(int(d.name))
    return kids


def _descendants(pid: int) -> set[int]:
    kids, out, todo = _children(), set(), [pid]
    while todo:
        for c in kids.get(todo.pop(), []):
            if c not in out:
                out.add(c)
                todo.append(c)
    return out


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _start_compare(tmp_path: Path, runs: int, seconds: float) -> subprocess.Popen:
    inst = random_instance(40, 6, slots=2, seed=5)
    path = tmp_path / "inst.json"
    inst.save(path)
    seeds = ",".join(str(s) for s in range(runs))
    cmd = [sys.executable, "-m", "uara", "compare", str(path), "--solvers", "exact", "--seeds", seeds,
           "--time-limit", str(seconds), "--workers", "2", "--no-bounds", "--no-latency", "-q", "-O", str(tmp_path / "out")]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def _wait_for_workers(proc: subprocess.Popen, n: int, timeout: float = 60.0) -> set[int]:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        desc = {p for p in _descendants(proc.pid) if _alive(p)}
        # the fork server, its workers and the resource tracker: at least n + 1 processes
        if len(desc) >= n + 1:
            time.sleep(1.0)  # let the workers pick up runs
            return {p for p in _descendants(proc.pid) if _alive(p)}
        if proc.poll() is not None:
            pytest.fail(f"compare ended early: {proc.communicate()}")
        time.sleep(0.2)
    pytest.fail("the worker processes did not start")


@pytest.mark.scip
def test_kill_9_of_compare_leaves_no_process_behind(tmp_path):
    pytest.importorskip("pyscipopt")
    proc = _start_compare(tmp_path, runs=4, seconds=30.0)
    desc = _wait_for_workers(proc, 2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    end = time.monotonic() + 15.0
    while time.monotonic() < end and any(_alive(p) for p in desc):
        time.sleep(0.2)
    left = [p for p in desc if _alive(p)]
    for p in left:  # do not leave them to the next test
        os.kill(p, signal.SIGKILL)
    assert left == [], f"processes left after kill -9 of uara compare: {left}"


@pytest.mark.scip
def test_a_killed_worker_does_not_end_the_campaign(tmp_path):
    pytest.importorskip("pyscipopt")
    import pandas as pd

    proc = _start_compare(tmp_path, runs=4, seconds=4.0)
    desc = _wait_for_workers(proc, 2)
    kids = _children()
    # a pool worker: a grandchild of compare (compare -> fork server -> worker)
    workers = [c for p in desc for c in kids.get(p, []) if c in desc]
    assert workers, "no pool worker found"
    os.kill(workers[0], signal.SIGKILL)
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err
    table = pd.read_parquet(tmp_path / "out" / "results.parquet")
    assert len(table) == 4  # every run has its row: redone in a fresh process, or an error row naming the death
    assert set(table["status"]) <= {"optimal", "feasible", "time_limit", "error"}
    for msg in table.loc[table["status"] == "error", "error"]:
        assert "worker died" in msg
