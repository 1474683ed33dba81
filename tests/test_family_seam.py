"""The problem-family seam: one family per file, one vetting rule, resume keys that follow the code.

- :func:`uara.model.shared.family.family_of` tells the family of a file, a mapping, a loaded object;
- a change of a shared core helper's version changes the resume key of every back-end that uses it
  (relax, exact, price) and of no other;
- a pipeline run stored under an older solver version is rerun, one under the current version reused;
- ``uara validate`` refuses a pipeline solution whose ``lower_bound_s`` exceeds its objective, with the
  message shape of P1's bound check;
- the driver's vetting is one function for both families.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from uara.cli import main
from uara.errors import UaraError
from uara.experiments.grid import RunSpec
from uara.model.shared.family import FAMILIES, P1, PIPELINE, family_of, family_of_file, load_instance_file
from uara.model.solution import Status
from uara.scenario.random_instance import random_instance
from uara.solvers import get_solver_class
from uara.solvers.core import CORE_VERSIONS
from uara.solvers.driver import vet_claims


@pytest.fixture()
def pipeline_file(tmp_path: Path) -> Path:
    f = tmp_path / "p.json"
    assert main(["build", "--problem", "pipeline", "--users", "4", "--seed", "2", "-O", str(f)]) == 0
    return f


def test_family_of_files_mappings_and_objects(tmp_path, pipeline_file):
    p1 = random_instance(4, 2, seed=1).save(tmp_path / "i.json")
    assert family_of(p1) is P1 and family_of(pipeline_file) is PIPELINE
    assert family_of(json.loads(pipeline_file.read_text())) is PIPELINE
    fam, inst = load_instance_file(pipeline_file)
    assert fam is PIPELINE and family_of(inst) is PIPELINE
    assert family_of(random_instance(3, 2, seed=0)) is P1
    with pytest.raises(UaraError, match="format"):
        family_of({"format": "uara-nothing/7"})
    assert family_of_file(tmp_path / "missing.json") is P1  # the P1 loader then names the problem
    assert set(FAMILIES) == {"p1", "pipeline"}


def test_a_core_helper_version_changes_the_keys_of_its_users_only(monkeypatch):
    spec = {name: RunSpec("i.json", "f" * 64, name, 0) for name in ("relax", "exact", "price", "tma", "random")}
    before = {name: s.key for name, s in spec.items()}
    monkeypatch.setitem(CORE_VERSIONS, "misocp", CORE_VERSIONS["misocp"] + 1)
    after = {name: s.key for name, s in spec.items()}
    assert all(after[n] != before[n] for n in ("relax", "exact", "price"))
    assert after["tma"] == before["tma"] and after["random"] == before["random"]
    for name in ("relax", "exact", "price"):
        assert "misocp" in get_solver_class(name).CORE


def test_a_pipeline_run_under_an_older_solver_version_is_rerun(tmp_path, pipeline_file, monkeypatch):
    pytest.importorskip("pandas")
    out = tmp_path / "out"
    args = ["compare", str(pipeline_file), "-O", str(out), "-s", "pipeline-dp", "-q"]
    assert main(args) == 0
    runs = out / "pipeline_runs"
    first = {p.name: p.stat().st_mtime_ns for p in runs.iterdir()}
    assert main(args) == 0
    assert {p.name: p.stat().st_mtime_ns for p in runs.iterdir()} == first  # same version: reused
    monkeypatch.setattr(get_solver_class("pipeline-dp"), "VERSION", 2)
    assert main(args) == 0
    names = {p.name for p in runs.iterdir()}
    assert len(names) == 2 and set(first) < names  # the newer version's run was made beside the old one


def test_validate_refuses_a_pipeline_bound_above_the_objective(tmp_path, pipeline_file, capsys):
    sol = tmp_path / "s.json"
    assert main(["solve", str(pipeline_file), "--solver", "pipeline-dp", "-O", str(sol), "--quiet"]) == 0
    assert main(["validate", str(sol), "-i", str(pipeline_file)]) == 0
    rec = json.loads(sol.read_text())
    rec["lower_bound_s"], rec["status"] = 10 * rec["objective_s"], "optimal"
    sol.write_text(json.dumps(rec))
    capsys.readouterr()
    assert main(["validate", str(sol), "-i", str(pipeline_file)]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "lower_bound_s" in err[0] and "exceeds the re-scored objective" in err[0], err


def test_one_vetting_rule():
    info: dict = {}
    assert vet_claims(10.0, 2.0, [], Status.OPTIMAL, 10.0, info) == (Status.OPTIMAL, 10.0)
    assert vet_claims(10.0, 2.0, [], Status.OPTIMAL, 9.0, info) == (Status.FEASIBLE, 9.0)  # gap 1/8
    info = {}
    assert vet_claims(10.0, 0.0, [], Status.FEASIBLE, 11.0, info) == (Status.FEASIBLE, None)
    assert "exceeds the incumbent" in info["warning"]
    info = {}
    assert vet_claims(10.0, 0.0, ["x > 1"], Status.OPTIMAL, 10.0, info) == (Status.ERROR, None)
    assert "infeasible" in info["error"]
