"""The certified latency floor (uara.psd.latency_floor): never above any method's simulated latency, device
by device, under both server models; exact for a device that is alone with the whole server."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import uara
from uara.model.instance import Instance
from uara.psd.latency import LatencyOptions, slot_latency, solution_latency
from uara.psd.latency_floor import slot_floor_s, solution_floor
from uara.scenario.random_instance import random_instance

MODELS = ("reserved", "batched")


@pytest.fixture(scope="module")
def shipped() -> Instance:
    inst = Instance.load("instances/m30_e8.json")
    return inst.slot_subset(range(3))


@pytest.mark.parametrize("model", MODELS)
def test_no_method_is_below_the_floor_device_by_device(shipped: Instance, model: str) -> None:
    opts = LatencyOptions(server_model=model)
    floor = np.stack([slot_floor_s(shipped, t, options=opts) for t in range(shipped.num_slots)])
    assert np.isfinite(floor).all() and (floor > 0).all()
    for solver in ("random", "max-sinr", "max-compute", "tma", "masac"):
        lat = solution_latency(shipped, uara.solve(shipped, solver=solver), options=opts)
        per = np.array([p["per_device_s"] for p in lat["per_slot"]])
        assert (per >= floor * (1 - 1e-12)).all(), solver
        assert lat["mean_s"] >= solution_floor(shipped, shipped.num_slots, options=opts)["floor_mean_s"]


@pytest.mark.parametrize("model", MODELS)
def test_a_device_alone_with_the_whole_server_is_at_its_floor(model: str) -> None:
    """One device, one server, no backlog or background, y = z = 1: its latency is the floor (o and the
    memory roof included under batched, the same simulator path)."""
    inst = random_instance(1, 1, slots=1, seed=3, name="alone")
    inst = replace(inst, params=replace(inst.params, server_model=model, background_load=0.0),
                   slots=[replace(inst.slots[0], queue_s=np.zeros(1))])
    got = slot_latency(inst, 0, np.zeros(1, int), np.ones(1), np.ones(1)).per_device_s
    np.testing.assert_allclose(slot_floor_s(inst, 0, own_length_only=True), got, rtol=1e-12)
    # over the candidate lengths: the best of the device's latencies at each length (latency-aware UARA's floor)
    each = [slot_latency(inst, 0, np.zeros(1, int), np.ones(1), np.ones(1), draft_length=[g]).per_device_s[0]
            for g in range(1, 9)]
    np.testing.assert_allclose(slot_floor_s(inst, 0), min(min(each), got[0]), rtol=1e-12)
    assert slot_floor_s(inst, 0) <= got


def test_the_floor_is_the_best_server_not_the_first(shipped: Instance) -> None:
    opts = LatencyOptions(server_model="reserved")
    floor = slot_floor_s(shipped, 0, options=opts, own_length_only=True)
    e = shipped.num_servers
    m = shipped.num_devices
    each = np.stack([slot_latency(replace(shipped, slots=[replace(shipped.slots[0], queue_s=np.zeros(e))] + shipped.slots[1:]),
                                  0, np.full(m, j), np.ones(m), np.ones(m), options=opts).per_device_s for j in range(e)])
    np.testing.assert_allclose(floor, np.min(np.where(np.isfinite(each), each, np.inf), axis=0), rtol=1e-12)
