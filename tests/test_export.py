"""uara.export: the slot model handed to one's own solver has exact's optimum (Pyomo, cvxpy, an LP file)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from uara.cli import main
from uara.errors import UaraError
from uara.scenario.random_instance import random_instance
from uara.solvers import get_solver

pytest.importorskip("pyscipopt")
pytest.importorskip("pyomo")
cp = pytest.importorskip("cvxpy")

import uara.export as ux  # noqa: E402


@pytest.fixture(scope="module")
def case():
    inst = random_instance(6, 3, slots=2, seed=3)
    bf = get_solver("brute-force").solve(inst, slots=[1])
    ex = get_solver("exact").solve(inst, slots=[1])
    controllable = bf.evaluations[0].objective - bf.evaluations[0].constant
    assert ex.objective == pytest.approx(bf.objective, rel=1e-9)
    return inst, controllable, bf.slots[0].association


def _close(value: float, optimum: float) -> None:
    assert abs(value - optimum) <= 1e-6 * max(1.0, abs(optimum))


def test_pyomo_export_solved_by_scip_has_the_optimum(case) -> None:
    import pyomo.environ as pyo
    from pyomo.contrib.solver.solvers.scip.scip_direct import ScipDirect

    inst, optimum, assoc = case
    model = ux.to_pyomo(inst, 1)
    ScipDirect().solve(model, solver_options={"limits/gap": 1e-10})
    _close(pyo.value(model.obj), optimum)
    info = ux.export_info(inst, 1)
    assert info.constant == pytest.approx(get_solver("tma").solve(inst, slots=[1]).evaluations[0].constant)
    found = ux.association_from_x(info, [pyo.value(model.x[p]) for p in model.P])
    np.testing.assert_array_equal(found, assoc)


def test_cvxpy_export_boolean_has_the_optimum_and_the_relaxation_is_below(case) -> None:
    inst, optimum, _ = case
    prob = ux.to_cvxpy(inst, 1)
    assert prob.is_mixed_integer()
    # SCIP's default feasibility tolerance (1e-6) on the cones lets it end ~5e-6 below the optimum
    prob.solve(solver="SCIP", scip_params={"limits/gap": 1e-10, "numerics/feastol": 1e-8})
    _close(prob.value, optimum)
    relaxed = ux.to_cvxpy(inst, 1, relax=True)
    assert not relaxed.is_mixed_integer()
    relaxed.solve(solver="CLARABEL")
    assert relaxed.value <= optimum + 1e-7


@pytest.mark.parametrize("fmt", ["mps", "nl"])
def test_model_file_read_by_scip_has_the_optimum_and_the_cli_writes_pairs(
        case, fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import pyscipopt

    inst, optimum, _ = case
    inst.save(tmp_path / "i.json")
    out = tmp_path / f"m.{fmt}"
    assert main(["export", str(tmp_path / "i.json"), "--slot", "1", "--format", fmt, "-O", str(out)]) == 0
    assert "usable pairs" in capsys.readouterr().out
    scip = pyscipopt.Model()
    scip.hideOutput()
    scip.readProblem(str(out))
    scip.setParam("limits/gap", 1e-10)
    scip.optimize()
    _close(scip.getObjVal(), optimum)
    assert main(["export", str(tmp_path / "i.json"), "--slot", "1", "--format", "lp", "-O", str(tmp_path / "m.lp")]) == 0
    assert "x(0) ^ 2" in (tmp_path / "m.lp").read_text()  # CPLEX LP with the cones as quadratic rows
    pairs = json.loads((out.parent / f"{out.name}.pairs.json").read_text())
    assert len(pairs["pairs"]["device"]) == len(pairs["pairs"]["server"]) > 0 and pairs["slot"] == 1
    assert main(["export", str(tmp_path / "i.json"), "--format", "cvxpy-json", "-O", str(tmp_path / "m.json")]) == 0
    data = json.loads((tmp_path / "m.json").read_text())
    assert data["format"] == "uara-conic/1" and len(data["c"]) == data["A"]["shape"][1]
    assert data["cones"]["zero"] + data["cones"]["nonneg"] + sum(data["cones"]["soc"]) == data["A"]["shape"][0]
    assert len(data["boolean_columns"]) == len(data["info"]["pairs"]["device"]) and data["info"]["slot"] == 0


def test_bad_requests_are_one_line(case, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inst, _, _ = case
    with pytest.raises(UaraError, match="slot: expected an integer in \\[0, 1\\]"):
        ux.to_pyomo(inst, 5)
    with pytest.raises(UaraError, match="--format: expected one of"):
        ux.write_model(inst, 0, tmp_path / "x", "xls")
    inst.save(tmp_path / "i.json")
    assert main(["export", str(tmp_path / "i.json"), "--slot", "9", "--format", "nl", "-O", str(tmp_path / "m.nl")]) == 2
    assert "slot: expected an integer" in capsys.readouterr().err and not (tmp_path / "m.nl").exists()
