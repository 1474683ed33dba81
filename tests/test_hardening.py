"""Hardening (issue 22, items 3, 4 and 7): time and memory guards, faults (full disk, read-only folder,
concurrent compares, malformed run files) and the Python API contract.

Faults are simulated where the machine cannot make them (CI runs as root, for whom no folder is
read-only): ``os.fsync`` raising ENOSPC is a full disk, ``tempfile.mkstemp`` raising EROFS a read-only
folder. Every case ends in one line naming what failed, a non-zero exit, and no half-written file.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import uara
from uara.cli import main
from uara.errors import SolutionError, UaraError
from uara.io import folder_lock
from uara.scenario.pipeline_builder import random_pipeline_instance
from uara.scenario.random_instance import random_instance


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("hard")
    random_instance(6, 2, slots=2, seed=4).save(d / "inst.json")
    random_pipeline_instance(4, seed=2).save(d / "pipe.json")
    return {"dir": d, "inst": d / "inst.json", "pipe": d / "pipe.json"}


def _one_line(capsys, words: str) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert err and err[-1].startswith("uara: error: ") and words in err[-1], err
    assert len([e for e in err if e.startswith("uara: error")]) == 1
    return err[-1]


# ------------------------------------------------------------------ faults
def _full_disk(monkeypatch) -> None:
    def fsync(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", fsync)


def _read_only(monkeypatch) -> None:
    import tempfile

    def mkstemp(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)


FAULT_CASES = [
    ("solve {inst} -q -O {out}/s.json", "s.json"),
    ("solve {pipe} -q -O {out}/s.json", "s.json"),
    ("build --channel free-space --devices 4 --servers 2 --slots 1 -q -O {out}/b.json", "b.json"),
    ("build --problem pipeline --users 3 -O {out}/b.json", "b.json"),
    ("simulate {inst} --no-latency -O {out}/e.json", "e.json"),
    ("compare {inst} -s max-sinr --executor serial --no-bounds --no-latency -q -O {out}/cmp", "cmp"),
    ("compare {pipe} -s pipeline-dp --executor serial -q -O {out}/cmp", "cmp"),
]


@pytest.mark.parametrize("fault", [_full_disk, _read_only], ids=["full disk", "read-only folder"])
@pytest.mark.parametrize("template, target", FAULT_CASES, ids=[c[0][:40] for c in FAULT_CASES])
def test_a_write_fault_gives_one_line_and_no_half_written_file(files, tmp_path, capsys, monkeypatch, fault,
                                                                template, target):
    argv = template.format(inst=files["inst"], pipe=files["pipe"], out=tmp_path).split()
    fault(monkeypatch)
    assert main(argv) != 0
    line = _one_line(capsys, "cannot write")
    assert ("No space left on device" if fault is _full_disk else "Read-only file system") in line
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p.name != ".uara.lock"]
    assert written == [], f"half-written files: {written}"


@pytest.mark.parametrize("fault", [_full_disk, _read_only], ids=["full disk", "read-only folder"])
def test_a_report_on_a_full_disk_gives_one_line(files, tmp_path, capsys, monkeypatch, fault):
    out = tmp_path / "cmp"
    assert main(["compare", str(files["inst"]), "-s", "max-sinr,random", "--executor", "serial", "--no-bounds",
                 "--no-latency", "-q", "-O", str(out)]) == 0
    capsys.readouterr()
    before = sorted(p.name for p in out.iterdir())
    fault(monkeypatch)
    assert main(["report", str(out)]) != 0
    _one_line(capsys, "cannot write")
    assert not (out / "report.md").exists() and not (out / "report.html").exists()
    assert sorted(p.name for p in out.iterdir() if p.name != "figures") == before


def test_a_second_compare_into_a_busy_folder_is_refused_naming_the_holder(files, tmp_path, capsys):
    out = tmp_path / "cmp"
    out.mkdir()
    with folder_lock(out):
        assert main(["compare", str(files["inst"]), "-s", "max-sinr", "--executor", "serial", "--no-bounds",
                     "--no-latency", "-q", "-O", str(out)]) != 0
    _one_line(capsys, f"is in use by another uara compare (pid {os.getpid()})")
    assert not (out / "runs").exists()
    # the lock goes with its holder: the same command now runs
    assert main(["compare", str(files["inst"]), "-s", "max-sinr", "--executor", "serial", "--no-bounds",
                 "--no-latency", "-q", "-O", str(out)]) == 0


def test_two_concurrent_compares_end_with_all_rows_or_one_refusal(files, tmp_path):
    """Two real processes: the second either waits for nothing and is refused, or runs after the first
    finished; either way the table holds every row of the runs that happened (never only the last's)."""
    out = tmp_path / "cmp"
    insts = [tmp_path / f"i{k}.json" for k in range(4)]
    for k, f in enumerate(insts):
        random_instance(30, 4, slots=2, seed=k).save(f)
    cmd = [sys.executable, "-m", "uara", "compare", *map(str, insts), "--executor", "serial", "--no-bounds",
           "--no-latency", "-q", "-O", str(out)]
    first = subprocess.Popen(cmd + ["-s", "tma,max-sinr"], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (out / ".uara.lock").exists() and time.monotonic() < deadline and first.poll() is None:
        time.sleep(0.05)
    second = subprocess.run(cmd + ["-s", "random,max-compute"], stderr=subprocess.PIPE, text=True)
    first.communicate(timeout=300)
    assert first.returncode == 0
    import pandas as pd

    table = pd.read_csv(out / "results.csv") if (out / "results.csv").exists() else pd.read_parquet(out / "results.parquet")
    if second.returncode == 0:  # ran after the first one finished: both grids' rows
        assert len(table) == 16
    else:
        assert "is in use by another uara compare (pid" in second.stderr.strip().splitlines()[-1]
        assert len(table) == 8 and set(table["solver"]) == {"tma", "max-sinr"}


def test_malformed_and_truncated_run_files_are_named_and_rerun(files, tmp_path, capsys):
    out = tmp_path / "cmp"
    args = ["compare", str(files["inst"]), "-s", "max-sinr,random,max-compute", "--executor", "serial",
            "--no-bounds", "--no-latency", "-q", "-O", str(out)]
    assert main(args) == 0
    runs = sorted((out / "runs").glob("*.json"))
    assert len(runs) == 3
    runs[0].write_text(runs[0].read_text()[:40])  # truncated
    runs[1].write_text(json.dumps({"row": {"status": "feasible"}}))  # no key, no instance
    runs[2].write_text("[1, 2]")  # not a run file
    capsys.readouterr()
    assert main(args) == 0
    err = capsys.readouterr().err
    for f in runs:
        assert f"ignoring run file {f}" in err
    import pandas as pd

    table = pd.read_csv(out / "results.csv") if (out / "results.csv").exists() else pd.read_parquet(out / "results.parquet")
    assert len(table) == 3 and (table["status"] != "error").all()
    assert main(["report", str(out)]) == 0


def test_a_foreign_file_in_runs_does_not_break_the_report(files, tmp_path, capsys):
    out = tmp_path / "cmp"
    assert main(["compare", str(files["inst"]), "-s", "max-sinr,random", "--executor", "serial", "--no-bounds",
                 "--no-latency", "-q", "-O", str(out)]) == 0
    run = sorted((out / "runs").glob("*.json"))[0]
    data = json.loads(run.read_text())
    data["solution"] = [1, 2, 3]  # after the table was written: the report must still be made
    run.write_text(json.dumps(data))
    assert main(["report", str(out)]) == 0


# ------------------------------------------------------------------ time and memory guards
def test_pipeline_dp_stops_at_its_time_limit_with_a_verified_schedule():
    from uara.model.pipeline.serving_solution import verify_serving_solution

    inst = random_pipeline_instance(60, seed=3)
    sol = uara.solve(inst, solver="pipeline-dp", time_limit=1e-6)
    assert sol.status.value == "time_limit" and "time limit" in sol.info["stopped"]
    record = json.loads(json.dumps(sol.to_dict()))
    assert verify_serving_solution(record, inst).objective_s == pytest.approx(sol.objective_s, rel=1e-12)
    full = uara.solve(inst, solver="pipeline-dp")
    assert full.status.value != "time_limit" and full.objective_s <= sol.objective_s * (1 + 1e-12)


def test_pipeline_dp_refuses_a_run_that_needs_more_memory_than_there_is(monkeypatch, capsys, files):
    import uara.solvers.driver as driver

    monkeypatch.setattr(driver, "available_memory_bytes", lambda: 2e5)  # 0.2 MB: K = 4 needs 800 bytes
    inst = random_pipeline_instance(200, seed=1)
    with pytest.raises(UaraError, match=r"needs about .* GiB for K = 200 users"):
        uara.solve(inst, solver="pipeline-dp")
    one = uara.solve(inst, solver="pipeline-dp", one_batch=True)  # not refused for the host's memory, but
    assert not one.feasible  # its one batch of 200 users does not fit the MBS (docs/server.md)
    assert any("MBS memory" in v for v in one.evaluation.violations)


def test_the_event_check_is_skipped_past_its_round_budget(files, monkeypatch, capsys):
    import uara.psd.simulation.serving_events as events

    monkeypatch.setattr(events, "MAX_EVENT_ROUNDS", 10)
    assert main(["solve", str(files["pipe"])]) == 0
    assert "event-driven check skipped: the schedule has" in capsys.readouterr().out


def test_local_search_chunks_change_no_value_and_a_cut_update_is_valued_exactly(monkeypatch):
    """The swap tables are built in chunks of CHUNK_ENTRIES (bounded memory); any chunk size gives the
    same descent, and a deadline that cuts an update returns the association with its exact value."""
    import uara.solvers.core.local_search as ls
    from uara.model.formulation import slot_data

    inst = random_instance(80, 5, slots=1, seed=3)
    sd = slot_data(inst, 0)
    rng = np.random.default_rng(0)
    start = np.array([rng.choice(np.flatnonzero(sd.usable[i])) for i in range(sd.num_devices)])
    ref = ls.local_search(sd, start)
    monkeypatch.setattr(ls, "CHUNK_ENTRIES", 37)
    small = ls.local_search(sd, start)
    assert np.array_equal(ref.association, small.association) and ref.value == small.value
    assert (ref.moves, ref.swaps) == (small.moves, small.swaps)
    calls = {"n": 0}
    real = ls.group_values

    def counting(*a, **k):
        calls["n"] += 1
        return real(*a, **k)

    monkeypatch.setattr(ls, "group_values", counting)
    cut = {"after": None}
    clock = time.perf_counter

    def fake_clock() -> float:  # time runs out in the middle of the first move's update
        return 1e12 if cut["after"] is not None and calls["n"] > cut["after"] else clock()

    build = ls._Tables(sd, start.copy())  # how many evaluations the build takes
    cut["after"] = calls["n"] * 2 + 3
    calls["n"] = 0
    monkeypatch.setattr(ls.time, "perf_counter", fake_clock)
    res = ls.local_search(sd, start, deadline=1e11)
    assert res.stopped_early and build.complete
    assert res.value == pytest.approx(ls._value(sd, res.association), rel=1e-12)


def test_relax_and_tma_memory_estimates_grow_as_their_tables():
    from uara.solvers import get_solver

    relax, tma = get_solver("relax"), get_solver("tma")
    assert relax.memory_estimate_bytes(2000, 8) > relax.memory_estimate_bytes(500, 8) > 1e8  # one chunk at least
    assert tma.memory_estimate_bytes(2000, 8) == pytest.approx(16 * tma.memory_estimate_bytes(500, 8))


# ------------------------------------------------------------------ the Python API
API_CASES = [
    ("a dict", lambda i: uara.solve({"format": "uara-instance/1"}), "instance: expected an Instance"),
    ("None", lambda i: uara.solve(None), "instance: expected an Instance"),
    ("a number as solver", lambda i: uara.solve(i, solver=5), "solver: expected a solver name"),
    ("an unknown solver", lambda i: uara.solve(i, solver="nope"), "unknown solver 'nope'"),
    ("slot 99", lambda i: uara.solve(i, slots=[99]), "slots[0]: 99 is not a slot of"),
    ("slot -1", lambda i: uara.solve(i, slots=[-1]), "slots[0]: -1 is not a slot of"),
    ("no slot", lambda i: uara.solve(i, slots=[]), "slots: empty list"),
    ("a slot twice", lambda i: uara.solve(i, slots=[0, 0]), "slots: slot 0 given twice"),
    ("a string of slots", lambda i: uara.solve(i, slots="01"), "slots: expected a list of slot indices"),
    ("a missing file", lambda i: uara.solve("/nonexistent/x.json"), "not found"),
    ("a pipeline solver on P1", lambda i: uara.solve(i, solver="pipeline-dp"), "solves pipeline instances"),
    ("an unknown option", lambda i: uara.solve(i, solver="tma", nope=1), "has no option 'nope'"),
]


@pytest.mark.parametrize("what, call, words", API_CASES, ids=[c[0] for c in API_CASES])
def test_the_python_api_refuses_with_one_line(files, what, call, words):
    inst = uara.Instance.load(files["inst"])
    with pytest.raises(UaraError) as err:
        call(inst)
    assert words in str(err.value) and "\n" not in str(err.value)


def test_the_python_api_takes_a_path_of_either_family(files):
    assert uara.solve(str(files["inst"])).feasible
    assert uara.solve(files["pipe"], solver="pipeline-dp").feasible


def test_a_value_made_invalid_after_loading_is_refused_not_solved(files):
    inst = uara.Instance.load(files["inst"])
    inst.slots[0].gain_db[0, 0] = np.nan
    with pytest.raises(UaraError, match=r"slots\[0\].gain_db\[0\]\[0\]: nan is not a finite gain"):
        uara.solve(inst)


@pytest.fixture
def scratch_registry(monkeypatch):
    """Custom back-ends registered by a test stay in that test (other tests run every registered solver)."""
    import uara.solvers

    monkeypatch.setattr(uara.solvers, "_REGISTRY", dict(uara.solvers._REGISTRY))


def _custom(name: str, decide) -> type:
    from uara.solvers.base import Solver

    return type(f"Custom_{name}", (Solver,), {"name": name, "solve_slot": lambda self, sd, ctx: decide(sd)})


def test_a_custom_solver_that_raises_or_returns_nothing_gets_one_line(files, scratch_registry):
    from uara.solvers import register_solver
    from uara.solvers.base import SlotDecision

    def boom(sd):
        raise RuntimeError("kaboom")

    def fractional(sd):
        m = sd.num_devices
        return SlotDecision(np.full(m, 0.9), np.full(m, 0.1), np.full(m, 0.1))

    for name, decide, words in (("t-boom", boom, "failed on slot 0: RuntimeError: kaboom"),
                                ("t-none", lambda sd: None, "solve_slot returned NoneType for slot 0"),
                                ("t-frac", fractional, "association[0]: expected a server index")):
        register_solver(name, _custom(name, decide))
        with pytest.raises(UaraError) as err:
            uara.solve(str(files["inst"]), solver=name)
        assert words in str(err.value)
    with pytest.raises(SolutionError):
        SlotDecision(np.array([0.0, 1.5]), np.ones(2), np.ones(2))
    assert SlotDecision(np.array([0.0, 1.0]), np.ones(2), np.ones(2)).association.dtype.kind == "i"


def test_one_registry_whichever_name_imports_it(scratch_registry):
    import solvers
    import uara.solvers

    assert solvers is uara.solvers
    from solvers import register_solver

    register_solver("t-registry", _custom("t-registry", lambda sd: None))
    assert "t-registry" in uara.solvers.solver_names()


def test_both_families_record_their_invocations_and_versions_in_the_manifest(files, tmp_path):
    out = tmp_path / "cmp"
    assert main(["compare", str(files["pipe"]), str(files["inst"]), "-s", "pipeline-dp,max-sinr", "--executor",
                 "serial", "--no-bounds", "--no-latency", "-q", "-O", str(out)]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    families = [i["family"] for i in manifest["invocations"]]
    assert families == ["pipeline", "p1"]
    for inv in manifest["invocations"]:
        assert inv["versions"]["numpy"] == np.__version__ and "cvxpy" in inv["versions"]
