from __future__ import annotations

import math

import pytest

from uara.model.instance import Instance
from uara.scenario.random_instance import random_instance


def reference_objective(inst_dict: dict, t: int, association, y, z) -> float:
    """I of slot t recomputed from the raw JSON dict with plain Python loops,
    straight from the formulas of MODEL.md (independent of uara.model.formulation)."""
    p = inst_dict["params"]
    slot = inst_dict["slots"][t]
    E = len(inst_dict["servers"])
    Wj = p["bandwidth_hz"] / E
    N = 10 ** ((p["noise_dbm_per_hz"] - 30) / 10) * Wj * 10 ** (p.get("noise_figure_db", 0.0) / 10)
    alpha, cap = p.get("shannon_attenuation", 1.0), p.get("max_spectral_efficiency", 0.0)
    physical = p.get("energy_model", "paper") == "physical"
    total = 0.0
    for i, dev in enumerate(inst_dict["devices"]):
        j = int(association[i])
        task = slot["tasks"][i]
        P = 10 ** ((dev["tx_power_dbm"] - 30) / 10)
        snr = 10 ** (slot["gain_db"][i][j] / 10) * P / N
        se = alpha * math.log2(1 + snr)
        r = Wj * (min(se, cap) if cap > 0 else se)
        a = task["flops_device"] / dev["flops"]
        T = task["bits"] / (y[i] * r)
        D_es = slot["queue_s"][j] + task["flops_server"] / (z[i] * inst_dict["servers"][j]["flops"])
        B = slot["battery"][i]
        e_cp = p["delta_cp_j_per_flop"] * task["flops_device"]
        e_cm = P * T if physical else p["delta_cm"] * (y[i] * Wj / 1e6) * P  # P_i T_i, or eq. 8 as printed
        total += a + D_es + p["lambda"] * (a - T) ** 2 + p["energy_weight"] * (e_cp + e_cm) / B
    return total


@pytest.fixture
def small_instance() -> Instance:
    return random_instance(8, 3, seed=3)


@pytest.fixture
def m60() -> Instance:
    return random_instance(60, 8, seed=0)


@pytest.fixture(autouse=True)
def _private_user_cache(tmp_path_factory, monkeypatch):
    """Every test gets its own user-level cache folder (bounds, channels): no test reads another's bounds,
    none writes into the developer's ~/.cache/uara (subprocesses inherit it through the environment)."""
    monkeypatch.setenv("UARA_CACHE_DIR", str(tmp_path_factory.mktemp("uara-cache")))
