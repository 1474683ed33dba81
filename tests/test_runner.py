"""uara compare: every objective re-scored, resume after an interrupt, determinism, executors (incl. Dask)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("pyarrow")

from uara.cli import main
from uara.model.evaluator import evaluate
from uara.model.formulation import slot_data
from uara.model.instance import Instance
from uara.experiments.comparison import compare
from uara.experiments.grid import parse_param_grid
from uara.experiments.table import TIMING_COLUMNS, load_table, validate_and_row
from uara.solvers import list_solvers
from uara.scenario.random_instance import random_instance

#: Per-run time limits small enough for the suite; slow back-ends get them, fast ones ignore them.
TIME_LIMIT = 2.0


def installed_solvers() -> list[str]:
    return [r["name"] for r in list_solvers() if r["installed"] and r.get("problem", "p1") == "p1"]


@pytest.fixture
def inst_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("UARA_CACHE_DIR", str(tmp_path / "cache"))
    d = tmp_path / "instances"
    d.mkdir()
    random_instance(6, 2, slots=2, seed=11, name="small_a").save(d / "small_a.json")
    random_instance(7, 3, slots=1, seed=12, name="small_b").save(d / "small_b.json")
    return d


def recompute(run_file: Path, instance: Instance) -> float:
    """Objective from the stored decisions only, through the evaluator, not through Solution."""
    sol = json.loads(run_file.read_text())["solution"]
    total = 0.0
    for t, s in enumerate(sol["slots"]):
        ev = evaluate(slot_data(instance, t), np.asarray(s["association"]), np.asarray(s["bandwidth_share"]),
                      np.asarray(s["compute_share"]))
        assert not ev.violations
        total += ev.objective
    return total


def test_all_installed_solvers_objectives_recomputed(inst_dir: Path, tmp_path: Path) -> None:
    solvers = installed_solvers()
    out = tmp_path / "out"
    # latency-brute-force enumerates every length assignment: one candidate length keeps it to these sizes
    options = {"latency-brute-force": {"draft_lengths": "4"}, "latency-search": {"max_calls": 4}}
    res = compare([inst_dir], solvers, [0], out, options=options, time_limit=TIME_LIMIT, executor="serial",
                  bound_time_limit=TIME_LIMIT)
    df = load_table(out)
    assert len(df) == 2 * len(solvers) and res.errors == 0, df[df["status"] == "error"][["solver", "error"]]
    for row in df.itertuples():
        inst = Instance.load(row.instance_file)
        assert math.isclose(recompute(out / row.solution_file, inst), row.objective, rel_tol=1e-12)
        assert row.objective == row.claimed_objective
    # gaps: non-negative where a bound is known; the brute-force optimum closes it
    known = df.dropna(subset=["gap"])
    assert (known["gap"] >= -1e-12).all()
    if "brute-force" in solvers:
        assert (df[df["solver"] == "brute-force"]["gap"] <= 1e-6).all()
        assert df["lower_bound"].notna().all()
    assert (df["n_high"] + df["n_low"] == df["M"] * df["slots"]).all()


def test_claimed_objective_mismatch_is_an_error_row(inst_dir: Path) -> None:
    from uara.experiments.grid import build_specs
    from uara.experiments.worker import execute_run

    spec = build_specs([inst_dir / "small_a.json"], ["tma"], [0], latency=False)[0]
    res = execute_run(spec)
    good = validate_and_row(res)
    assert good["status"] != "error" and good["feasible"]
    res.record["slots"][0]["objective"] *= 1.001
    res.record["objective"] = sum(s["objective"] for s in res.record["slots"])
    bad = validate_and_row(res)
    assert bad["status"] == "error" and "evaluator computes" in bad["error"]
    res.record["slots"][0]["bandwidth_share"] = [2.0] * 6  # infeasible
    assert validate_and_row(res)["status"] == "error"


def test_interrupted_comparison_resumes_only_missing_runs(inst_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    solvers, seeds = ["random", "max-sinr", "tma"], [0, 1]
    total = 2 * len(solvers) * len(seeds)
    seen: list[str] = []

    def kill_after_3(row: dict) -> None:
        seen.append(row["key"])
        if len(seen) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        compare([inst_dir], solvers, seeds, out, executor="serial", on_result=kill_after_3)
    assert len(load_table(out)) == 3  # the table written on the way out holds the finished runs
    again: list[str] = []
    res = compare([inst_dir], solvers, seeds, out, executor="serial", on_result=lambda r: again.append(r["key"]))
    assert res.reused == 3 and res.ran == total - 3
    assert not set(again) & set(seen)
    assert len(load_table(out)) == total


def test_subprocess_killed_midway_then_resumed(inst_dir: Path, tmp_path: Path) -> None:
    """A real kill: the CLI process dies (SIGKILL) after some runs; the rerun finishes the rest."""
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "out"
    args = [sys.executable, "-m", "uara", "compare", str(inst_dir), "--solvers", "random,max-sinr,max-compute,tma",
            "--seeds", "0,1,2,3,4,5", "--executor", "serial", "-O", str(out), "--no-bounds"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 30
    while time.time() < deadline:
        if len(list((out / "runs").glob("*.json"))) >= 3:
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished = len(list((out / "runs").glob("*.json")))
    r = subprocess.run(args, capture_output=True, text=True, env={**os.environ})
    assert r.returncode == 0, r.stderr
    assert f"({48 - finished} run now, {finished} reused)" in r.stdout
    assert len(load_table(out)) == 48


def _deterministic(df):
    return df.drop(columns=list(TIMING_COLUMNS)).reset_index(drop=True)


def test_same_seeds_same_table_any_executor(inst_dir: Path, tmp_path: Path) -> None:
    kw = dict(params=parse_param_grid(["energy_weight=20,60"]), time_limit=TIME_LIMIT)
    solvers = ["random", "max-compute+exact", "tma"]
    compare([inst_dir], solvers, [0, 1], tmp_path / "a", executor="serial", **kw)
    compare([inst_dir], solvers, [0, 1], tmp_path / "b", executor="process", workers=2, **kw)
    a, b = load_table(tmp_path / "a"), load_table(tmp_path / "b")
    pd.testing.assert_frame_equal(_deterministic(a), _deterministic(b))
    assert sorted(a["energy_weight"].unique()) == [20.0, 60.0]
    # random depends on its seed, the deterministic ones do not
    r = a[(a["solver"] == "random") & (a["instance"] == "small_b") & (a["energy_weight"] == 20.0)]
    assert r["objective"].nunique() == 2


def test_dask_local_cluster(inst_dir: Path, tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster:
        res = compare([inst_dir], ["random", "tma"], [0, 1], tmp_path / "dask", executor="dask",
                      scheduler=cluster.scheduler_address)
    assert res.ran == 8 and res.errors == 0
    compare([inst_dir], ["random", "tma"], [0, 1], tmp_path / "local", executor="serial")
    pd.testing.assert_frame_equal(_deterministic(load_table(tmp_path / "dask")), _deterministic(load_table(tmp_path / "local")))


def test_cli_compare_and_user_errors(inst_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli"
    assert main(["compare", str(inst_dir / "*.json"), "--solvers", "random,max-sinr", "--seeds", "0",
                 "--executor", "serial", "-O", str(out), "-q"]) == 0
    assert len(load_table(out)) == 4
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["compare", str(empty), "-O", str(out)]) == 2
    assert "no *.json" in capsys.readouterr().err
    assert main(["compare", str(inst_dir), "--solvers", "nope", "-O", str(out)]) == 2
    assert "unknown solver 'nope'" in capsys.readouterr().err
    assert main(["compare", str(inst_dir), "--param", "energy_weight", "-O", str(out)]) == 2
    assert main(["compare", str(inst_dir), "--executor", "dask", "-O", str(out)]) == 2
    assert "--scheduler" in capsys.readouterr().err
    (tmp_path / "bad.parquet").write_text("not a table")
    with pytest.raises(Exception, match="unreadable results table"):
        load_table(tmp_path / "bad.parquet")


def test_resume_key_follows_the_solver_code_version(monkeypatch):
    """Stored runs are redone when the back-end's code version changes, and only then."""
    from uara.experiments.grid import RunSpec
    from uara.solvers import get_solver_class

    key = RunSpec("x.json", "abc", "tma+exact", 0).key
    assert RunSpec("x.json", "abc", "tma+exact", 0).key == key
    cls = get_solver_class("tma")
    monkeypatch.setattr(cls, "VERSION", cls.VERSION + 1)
    assert RunSpec("x.json", "abc", "tma+exact", 0).key != key


def test_process_workers_get_one_blas_thread():
    """limit_blas_threads (the process pool's initializer) caps the OpenBLAS copies already
    loaded (numpy's, scipy's) and sets the environment for later ones."""
    import subprocess
    import sys

    code = (
        "import ctypes, os, numpy, scipy.optimize\n"
        "from uara.experiments.executors import limit_blas_threads\n"
        "limit_blas_threads(1)\n"
        "paths = sorted({l.split()[-1] for l in open('/proc/self/maps') if 'openblas' in l.lower() and l.split()[-1].startswith('/')})\n"
        "got = []\n"
        "for p in paths:\n"
        "    lib = ctypes.CDLL(p)\n"
        "    for n in ('openblas_get_num_threads', 'openblas_get_num_threads64_', 'scipy_openblas_get_num_threads', 'scipy_openblas_get_num_threads64_'):\n"
        "        if hasattr(lib, n): got.append(getattr(lib, n)())\n"
        "print(os.environ['OPENBLAS_NUM_THREADS'], got)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**__import__("os").environ, "OPENBLAS_NUM_THREADS": "2"})
    assert r.returncode == 0, r.stderr
    env, got = r.stdout.split(" ", 1)
    assert env == "1"
    counts = __import__("ast").literal_eval(got.strip())
    if not counts:
        pytest.skip("no OpenBLAS loaded in this environment")
    assert all(c == 1 for c in counts)
