"""The radio abstraction: receiver noise figure and the attenuated, truncated Shannon bound of
3GPP TR 36.942 Annex A (parameters default to the paper's ideal receiver and pure Shannon)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from uara.errors import InstanceError
from uara.model.formulation import slot_data
from uara.model.instance import Instance
from uara.scenario.random_instance import random_instance
from uara.solvers import get_solver


def test_defaults_change_nothing_written_or_fingerprinted():
    inst = random_instance(6, 2, seed=1, preset="paper-literal")
    d = inst.to_dict()
    for key in ("noise_figure_db", "shannon_attenuation", "max_spectral_efficiency"):
        assert key not in d["params"]
    again = Instance.from_dict(json.loads(json.dumps(d)))
    assert again.fingerprint() == inst.fingerprint()
    changed = inst.with_params(noise_figure_db=5.0)
    assert changed.to_dict()["params"]["noise_figure_db"] == 5.0
    assert changed.fingerprint() != inst.fingerprint()


def test_noise_figure_scales_the_noise_and_the_link_model_caps_the_rate():
    inst = random_instance(8, 3, seed=2, preset="paper-literal")
    base = slot_data(inst, 0)
    nf = slot_data(inst.with_params(noise_figure_db=5.0), 0)
    np.testing.assert_allclose(nf.snr, base.snr / 10 ** 0.5, rtol=1e-12)
    w = inst.params.bandwidth_hz / inst.num_servers
    abst = slot_data(inst.with_params(noise_figure_db=5.0, shannon_attenuation=0.6, max_spectral_efficiency=4.4), 0)
    expected = w * np.minimum(0.6 * np.log2(1 + nf.snr), 4.4)
    np.testing.assert_allclose(abst.rate_bps, expected, rtol=1e-12)
    assert (abst.rate_bps / w).max() <= 4.4 + 1e-12
    bits = np.array([t.bits for t in inst.slots[0].tasks])
    np.testing.assert_allclose(abst.uplink_s_full, bits[:, None] / expected, rtol=1e-12)


def test_exact_methods_agree_under_the_link_abstraction():
    inst = random_instance(7, 3, seed=5, preset="paper-literal").with_params(noise_figure_db=5.0, shannon_attenuation=0.6,
                                                     max_spectral_efficiency=7.4)
    bf = get_solver("brute-force").solve(inst)
    for name in ("exact", "price"):
        pytest.importorskip("pyscipopt" if name == "exact" else "highspy")
        other = get_solver(name).solve(inst, time_limit=60)
        assert math.isclose(other.objective, bf.objective, rel_tol=1e-7)
    relax = get_solver("relax").solve(inst)
    assert relax.lower_bound <= bf.objective * (1 + 1e-9)


@pytest.mark.parametrize("key, value", [("noise_figure_db", -1.0), ("noise_figure_db", 40.0),
                                        ("shannon_attenuation", 0.0), ("shannon_attenuation", 1.5),
                                        ("max_spectral_efficiency", -2.0)])
def test_radio_parameters_out_of_range_name_the_field(key, value):
    with pytest.raises(InstanceError, match=f"params.{key}"):
        random_instance(4, 2, seed=0).with_params(**{key: value})
