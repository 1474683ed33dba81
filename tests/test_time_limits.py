"""The run's time limit is split over slots once, by the driver, and every step of a back-end keeps to its slot's share."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from uara.model.instance import Instance
from uara.solvers import get_solver
from uara.solvers.base import slot_deadline

SHIPPED = Path(__file__).resolve().parent.parent / "instances" / "m60_e8.json"


def test_slot_deadline_is_an_even_share_of_the_time_left():
    assert slot_deadline(None, 5.0, 3) is None
    assert slot_deadline(10.0, 4.0, 3) == pytest.approx(6.0)
    assert slot_deadline(10.0, 12.0, 3) == pytest.approx(12.0)  # past the run's deadline: no time at all


@pytest.mark.scip
@pytest.mark.parametrize("solver", ["relax", "exact"])
def test_a_ten_slot_run_keeps_to_its_limit_and_each_slot_to_its_share(solver):
    pytest.importorskip("cvxpy" if solver == "relax" else "pyscipopt")
    inst = Instance.load(SHIPPED)
    assert inst.num_slots == 10
    limit = 10.0
    slv = get_solver(solver)
    type(slv).import_solver()
    t0 = time.perf_counter()
    sol = slv.solve(inst, time_limit=limit)
    wall = time.perf_counter() - t0
    assert wall <= 1.2 * limit, f"{solver}: {wall:.2f} s for a {limit} s limit"
    for t, dec in enumerate(sol.slots):
        share = dec.info["time_share_s"]
        assert share > 0
        assert dec.info["wall_time_s"] <= 2 * share, f"{solver} slot {t}: {dec.info['wall_time_s']:.2f} s of a {share:.2f} s share"
    assert sol.feasible


def test_time_limit_is_a_run_argument_not_a_solver_option():
    from uara.errors import SolverError

    for name in ("exact", "price"):
        with pytest.raises(SolverError, match="has no option 'time_limit'"):
            get_solver(name, time_limit=5)
