"""Long work reports k/N and an ETA; resumes retry error rows; a real local dask cluster runs a campaign
(and its bounds) from a relative instance path that the workers cannot see; the bound cache is the user's."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from uara.cli import main
from uara.experiments.bounds import cache_dir, user_cache_root
from uara.experiments.progress import Progress, clock
from uara.scenario.random_instance import random_instance

COUNTER = re.compile(r"^\[(\d+)/(\d+) \d+%, \d+:\d\d elapsed, ETA (\d+:\d\d|\?)\] ")


def test_progress_counts_and_estimates() -> None:
    now = [100.0]
    lines: list[str] = []
    p = Progress(4, lines.append, now=lambda: now[0])
    assert p.eta_s() is None and p.prefix().endswith("ETA ?]")
    now[0] += 10.0
    p.step("first")
    assert lines[-1] == "[1/4 25%, 0:10 elapsed, ETA 0:30] first"  # 10 s per item, 3 left
    now[0] += 30.0
    p.step("second")
    assert p.eta_s() == pytest.approx(40.0)  # 20 s per item over the 2 done, 2 left
    assert clock(3725) == "1:02:05" and clock(59.6) == "1:00"


def test_user_cache_is_not_the_working_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("UARA_CACHE_DIR", str(tmp_path / "mine"))
    assert cache_dir() == tmp_path / "mine" / "bounds"
    monkeypatch.delenv("UARA_CACHE_DIR")
    root = user_cache_root()
    assert root.is_absolute() and root.name == "uara" and Path.cwd() not in root.parents


def test_solve_bound_shows_budget_and_progress_and_shares_the_cache_with_compare(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    random_instance(8, 3, slots=3, seed=5, name="tiny").save("tiny.json")
    assert main(["solve", "tiny.json", "--solver", "tma", "--bound", "relax", "--time-limit", "30",
                 "--no-latency"]) == 0
    err = capsys.readouterr().err.splitlines()
    budget = [l for l in err if l.startswith("bounds: 3 to compute")]
    assert budget and "--time-limit left after the solve" in budget[0]
    counted = [COUNTER.match(l) for l in err if COUNTER.match(l)]
    assert [m.group(1) for m in counted] == ["1", "2", "3"] and {m.group(2) for m in counted} == {"3"}
    assert not (tmp_path / ".uara-cache").exists()  # nothing written into the working folder
    # compare finds solve's bounds in the same cache and computes none
    assert main(["compare", "tiny.json", "--solvers", "tma", "--executor", "serial", "-O", "out",
                 "--no-latency"]) == 0
    out = capsys.readouterr().out
    assert "relax bound" not in out and "lower bounds:" not in out
    assert re.search(r"^\[1/1 100%, .*\] done  tiny tma seed 0 \{\}: I = \d+\.\d{4,}", out, re.M)


def test_resume_retries_error_rows_unless_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    from uara.solvers.p1 import heuristics

    monkeypatch.chdir(tmp_path)
    random_instance(6, 2, slots=1, seed=2, name="e").save("e.json")
    args = ["compare", "e.json", "--solvers", "max-sinr", "--executor", "serial", "-O", "out",
            "--no-latency", "--no-bounds"]

    def broken(self, *a, **k):
        raise RuntimeError("the environment failed")

    with monkeypatch.context() as m:
        m.setattr(heuristics.MaxSINRSolver, "solve", broken)
        assert main(args) == 1
    assert "ERROR e max-sinr" in capsys.readouterr().out
    assert main([*args, "--keep-errors"]) == 1
    assert "1 already done, 0 to run" in capsys.readouterr().out
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "0 already done, 1 to run (serial), of which 1 error row(s) retried" in out
    assert "0 error row(s)" in out


def _start(cmd: list[str], cwd: Path, log: Path) -> subprocess.Popen:
    return subprocess.Popen(cmd, cwd=cwd, stdout=log.open("w"), stderr=subprocess.STDOUT,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"}, start_new_session=True)


@pytest.fixture
def dask_cluster(tmp_path: Path):
    """A real `dask scheduler` and two single-threaded `dask worker` processes on 127.0.0.1, started in a
    folder of their own (so the client's relative paths mean nothing to them)."""
    pytest.importorskip("distributed")
    where = tmp_path / "cluster"
    where.mkdir()
    sched_file = where / "scheduler.json"
    procs = [_start([sys.executable, "-m", "dask", "scheduler", "--host", "127.0.0.1", "--port", "0",
                     "--no-dashboard", "--scheduler-file", str(sched_file)], where, where / "scheduler.log")]
    deadline = time.monotonic() + 60
    while not sched_file.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    procs += [_start([sys.executable, "-m", "dask", "worker", "--scheduler-file", str(sched_file), "--nthreads", "1",
                      "--no-dashboard", "--host", "127.0.0.1", "--name", f"w{k}"], where, where / f"worker{k}.log")
              for k in range(2)]
    try:
        from distributed import Client

        address = json.loads(sched_file.read_text())["address"]
        with Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
            assert all(info["memory_limit"] > 0 for info in client.scheduler_info()["workers"].values())
        yield address
    finally:
        for p in procs[::-1]:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


def test_dask_cluster_runs_a_relative_path_campaign_and_its_bounds(
        dask_cluster: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("pandas")
    from uara.experiments.table import load_table

    client_dir = tmp_path / "client"
    (client_dir / "inst").mkdir(parents=True)
    monkeypatch.chdir(client_dir)
    random_instance(8, 3, slots=2, seed=7, name="rel").save("inst/rel.json")
    args = ["compare", "inst/rel.json", "--solvers", "tma,max-sinr", "--seeds", "0,1", "--executor", "dask",
            "--scheduler", dask_cluster, "-O", "out", "--no-latency"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "lower bounds: 2 relax bound(s)" in out and "on the dask executor" in out
    assert "ERROR" not in out and "[4/4 100%" in out
    rows = load_table("out")
    assert len(rows) == 4 and set(rows["status"]) <= {"feasible", "optimal"}
    assert rows["gap"].notna().all() and (rows["gap"] >= -1e-9).all() and set(rows["lower_bound_source"]) == {"bounds:relax"}
    assert main(args) == 0  # a rerun reuses everything
    assert "4 already done, 0 to run" in capsys.readouterr().out
    # an error row as the old file-path bug left them ("instance file not found" on the workers) is retried
    run_file = sorted((client_dir / "out" / "runs").glob("*.json"))[0]
    data = json.loads(run_file.read_text())
    data["row"].update(status="error", error="InstanceError: instance file not found: inst/rel.json")
    data["solution"] = None
    run_file.write_text(json.dumps(data))
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "3 already done, 1 to run (dask), of which 1 error row(s) retried" in out and "0 error row(s)" in out
    assert json.loads(run_file.read_text())["row"]["status"] in ("feasible", "optimal")
