"""uara.experiments.bounds: best known lower bound per slot, cached on disk."""

from __future__ import annotations

import json

import pytest

from uara.experiments import bounds
from uara.errors import SolverError
from uara.solvers import get_solver
from uara.scenario.random_instance import random_instance

pytest.importorskip("cvxpy")


def test_best_lower_bound_is_valid_and_cached(tmp_path, monkeypatch):
    inst = random_instance(8, 3, slots=2, seed=4)
    bf = get_solver("brute-force").solve(inst)
    lbs = bounds.best_lower_bound(inst, root=tmp_path)
    assert len(lbs) == 2
    for lb, ev in zip(lbs, bf.evaluations):
        assert lb is not None and ev.constant < lb <= ev.objective
    path = tmp_path / "bounds" / f"{inst.fingerprint()}.json"
    data = json.loads(path.read_text())
    assert data["format"] == "uara-bounds/1" and set(data["slots"][0]) == {"relax"}

    def boom(*a, **k):
        raise AssertionError("recomputed a cached bound")

    monkeypatch.setattr(bounds, "run_bound_task", boom)
    assert bounds.best_lower_bound(inst, root=tmp_path) == lbs


def test_record_bound_raises_best_and_score(tmp_path):
    inst = random_instance(8, 3, seed=1)
    bf = get_solver("brute-force").solve(inst)
    lb = bounds.best_lower_bound(inst, root=tmp_path)[0]
    bounds.record_bound(inst, 0, "brute-force", bf.objective, root=tmp_path)
    bounds.record_bound(inst, 0, "worse", lb - 1.0, root=tmp_path)
    assert bounds.best_lower_bound(inst, root=tmp_path) == [pytest.approx(bf.objective)]
    tma = get_solver("tma").solve(inst)
    gap = bounds.score(tma, [bf.objective])[0]
    assert gap == pytest.approx((tma.objective - bf.objective) / (tma.objective - tma.constant))
    assert bounds.score(bf, [None])[0] == pytest.approx(0.0, abs=1e-9)  # brute force carries its own bound


def test_unknown_method_and_corrupt_cache(tmp_path):
    inst = random_instance(6, 2, seed=0)
    with pytest.raises(SolverError, match="bound method"):
        bounds.best_lower_bound(inst, methods=("nope",), root=tmp_path)
    path = tmp_path / "bounds" / f"{inst.fingerprint()}.json"
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    assert bounds.best_lower_bound(inst, root=tmp_path)[0] is not None


@pytest.mark.scip
def test_exact_bound_method(tmp_path):
    pytest.importorskip("pyscipopt")
    inst = random_instance(7, 3, seed=2)
    bf = get_solver("brute-force").solve(inst)
    lb = bounds.best_lower_bound(inst, methods=("relax", "exact"), time_limit=30, root=tmp_path)[0]
    assert lb == pytest.approx(bf.objective, rel=1e-9)
    assert lb <= bf.objective * (1 + 1e-12)


def test_stale_method_versions_are_recomputed(tmp_path):
    """A bound cached by an older version of a method is ignored, not trusted."""
    import json

    from uara.experiments.bounds import _path, best_lower_bound, method_version

    inst = random_instance(6, 2, seed=4)
    fresh = best_lower_bound(inst, root=tmp_path)
    path = _path(inst, tmp_path)
    data = json.loads(path.read_text())
    data["slots"][0]["relax"] = {"bound": 1e30, "time_s": 0.0, "version": method_version("relax") - 1}
    path.write_text(json.dumps(data))
    again = best_lower_bound(inst, root=tmp_path)
    assert again[0] == pytest.approx(fresh[0], rel=1e-12)


def test_bound_methods_and_versions_come_from_the_solver_registry(monkeypatch):
    from uara.experiments.bounds import bound_methods, check_methods, method_version
    from uara.solvers import get_solver_class

    methods = bound_methods()
    assert {"relax", "exact", "price", "brute-force"} <= set(methods)
    assert "tma" not in methods and "max-sinr" not in methods
    cls = get_solver_class("relax")
    monkeypatch.setattr(cls, "VERSION", cls.VERSION + 7)
    assert method_version("relax") == cls.VERSION
    with pytest.raises(SolverError, match="unknown bound method 'tma'"):
        check_methods(["relax", "tma"])
