"""The Python entry points a researcher meets first: uara.solve(latency=True), uara.latency, the exported
parameter sets, a one-line repr and the gap's unit."""

from __future__ import annotations

import pytest

import uara
from uara.errors import UaraError


def test_solve_with_latency_fills_what_the_cli_prints():
    inst = uara.Instance.load("instances/m30_e8.json").slot_subset(range(2))
    sol = uara.solve(inst, solver="max-sinr", latency=True)
    lat = sol.latency
    assert lat["server_model"] == "batched" and lat["mean_s"] > lat["floor_mean_s"] > 0
    assert lat["gap_to_floor"] == pytest.approx(lat["mean_s"] / lat["floor_mean_s"] - 1)
    assert uara.latency(inst, sol)["mean_s"] == lat["mean_s"]  # seeded: the same simulation
    assert uara.solve(inst, solver="max-sinr").latency is None
    with pytest.raises(UaraError, match="latency: expected True or False"):
        uara.solve(inst, solver="max-sinr", latency="yes")


def test_parameter_sets_are_exported_and_repr_is_one_line():
    assert {"credible", "paper-literal", "latency-scale"} <= set(uara.PARAMETER_SETS)
    inst = uara.Instance.load("instances/m60_e8.json")
    text = repr(inst)
    assert "\n" not in text and len(text) < 200
    assert "60 devices, 8 servers, 10 slots" in text and "credible + background_load=0.3" in text
    assert inst.fingerprint() in text


def test_gap_is_a_fraction():
    inst = uara.random_instance(6, 2, seed=1)
    sol = uara.solve(inst, solver="relax")
    assert sol.gap is not None and 0 <= sol.gap < 1
    assert sol.gap == pytest.approx((sol.objective - sol.lower_bound) / (sol.objective - sol.constant))


def test_from_arrays_defaults_to_the_credible_preset_and_names_it():
    import numpy as np

    from uara.errors import InstanceError

    kw = dict(gain_db=np.full((2, 1), -90.0), device_flop_rate=[3e10, 3e10], server_flop_rate=[1e13],
              tx_power_dbm=20.0, bits=[1e5, 1e5], device_work_flop=[1e9, 1e9], server_work_flop=[1e10, 1e10])
    inst = uara.Instance.from_arrays(**kw)
    assert inst.params == uara.PARAMETER_SETS["credible"] and "params credible," in repr(inst)
    assert len(repr(inst).splitlines()) == 1
    literal = uara.Instance.from_arrays(**kw, preset="paper-literal")
    assert literal.params == uara.PARAMETER_SETS["paper-literal"] and "params paper-literal" in repr(literal)
    assert uara.Instance.from_arrays(**kw, preset="paper-literal", params="credible").params == uara.PARAMETER_SETS["credible"]
    with pytest.raises(InstanceError, match="preset: unknown parameter set 'nope'"):
        uara.Instance.from_arrays(**kw, preset="nope")
    with pytest.raises(InstanceError, match="params: unknown parameter set 'nope'"):
        uara.Instance.from_arrays(**kw, params="nope")
    np.testing.assert_array_equal(inst.device_flop_rate, [3e10, 3e10])
    # the old names: same instance, with a DeprecationWarning
    old = dict(kw)
    old["device_flops"] = old.pop("device_flop_rate")
    old["flops_server"] = old.pop("server_work_flop")
    with pytest.warns(DeprecationWarning, match="use device_flop_rate"):
        again = uara.Instance.from_arrays(**old)
    assert again.fingerprint() == inst.fingerprint()
    with pytest.raises(InstanceError, match="server_flop_rate: required"):
        uara.Instance.from_arrays(**{k: v for k, v in kw.items() if k != "server_flop_rate"})
