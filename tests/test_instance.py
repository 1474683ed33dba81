import json

import numpy as np
import pytest

from uara.errors import InstanceError, UaraError
from uara.model.instance import Instance, Params
from uara.scenario.random_instance import random_instance


def test_round_trip_dict_and_file(tmp_path):
    inst = random_instance(12, 4, slots=3, seed=5)
    d = inst.to_dict()
    again = Instance.from_dict(json.loads(json.dumps(d)))
    assert again.to_dict() == d
    path = tmp_path / "i.json"
    inst.save(path)
    loaded = Instance.load(path)
    assert loaded.to_dict() == d
    assert loaded.fingerprint() == inst.fingerprint()


def test_random_is_deterministic_per_seed():
    a, b, c = random_instance(10, 3, seed=1), random_instance(10, 3, seed=1), random_instance(10, 3, seed=2)
    assert a.to_dict() == b.to_dict()
    assert a.fingerprint() != c.fingerprint()


def test_fingerprint_ignores_provenance_only():
    inst = random_instance(5, 2, seed=0)
    fp = inst.fingerprint()
    inst.provenance["note"] = "changed"
    assert inst.fingerprint() == fp
    assert inst.with_params(energy_weight=99.0).fingerprint() != fp


def test_from_arrays_builds_valid_instance():
    inst = Instance.from_arrays(
        gain_db=np.array([[-100.0, -110.0], [-120.0, -90.0], [-105.0, -104.0]]),
        device_flop_rate=7e10, server_flop_rate=[3e13, 1e13], tx_power_dbm=20.0,
        bits=[1e6, 2e6, 5e5], device_work_flop=[7e10, 5e10, 6e10], server_work_flop=[1e12, 1e12, 2e12],
    )
    assert (inst.num_devices, inst.num_servers, inst.num_slots) == (3, 2, 1)
    assert Instance.from_dict(inst.to_dict()).to_dict() == inst.to_dict()


def _bad(mutate):
    d = random_instance(4, 2, seed=0).to_dict()
    mutate(d)
    with pytest.raises(InstanceError) as err:
        Instance.from_dict(d)
    return str(err.value)


@pytest.mark.parametrize(
    "mutate, field, words",
    [
        (lambda d: d["slots"][0]["gain_db"][2].__setitem__(1, float("nan")), "slots[0].gain_db[2][1]", "not finite"),
        (lambda d: d["slots"][0]["gain_db"][1].__setitem__(0, None), "slots[0].gain_db[1][0]", "null"),
        (lambda d: d["slots"][0]["gain_db"].pop(), "slots[0].gain_db", "expected 4 entries"),
        (lambda d: d["slots"][0]["gain_db"][0].append(-100.0), "slots[0].gain_db[0]", "expected 2 entries"),
        (lambda d: d["slots"][0]["tasks"][3].__setitem__("bits", -5.0), "slots[0].tasks[3].bits", "outside the plausible range"),
        (lambda d: d["slots"][0]["tasks"][3].__setitem__("bits", 1e300), "slots[0].tasks[3].bits", "outside the plausible range"),
        (lambda d: d["slots"][0]["gain_db"][0].__setitem__(1, "-100"), "slots[0].gain_db[0][1]", "got str '-100'"),
        (lambda d: d["devices"][1].__setitem__("batery_capacity_j", 5.0), "devices[1].batery_capacity_j", "unknown field"),
        (lambda d: d.__setitem__("slotz", []), "slotz", "unknown field"),
        (lambda d: d["devices"][0].__setitem__("flops", 1e-300), "devices[0].flops", "outside the plausible range"),
        (lambda d: d["params"].__setitem__("bandwidth_hz", 1e-300), "params.bandwidth_hz", "outside the plausible range"),
        (lambda d: d["slots"][0]["battery"].__setitem__(1, 0.0), "slots[0].battery[1]", "outside [1e-06, 1]"),
        (lambda d: d["slots"][0]["battery"].__setitem__(1, 1e-300), "slots[0].battery[1]", "outside [1e-06, 1]"),
        (lambda d: d["slots"][0]["battery"].__setitem__(1, 1.5), "slots[0].battery[1]", "outside [1e-06, 1]"),
        (lambda d: d["slots"][0]["queue_s"].__setitem__(0, -1.0), "slots[0].queue_s[0]", "finite delay in [0,"),
        (lambda d: d["devices"][2].__setitem__("tx_power_dbm", -3.0), "devices[2].tx_power_dbm", "negative"),
        (lambda d: d["devices"][0].__setitem__("flops", 0), "devices[0].flops", "outside the plausible range"),
        (lambda d: d["servers"][1].__setitem__("flops", "fast"), "servers[1].flops", "expected a number"),
        (lambda d: d.__setitem__("devices", []), "devices", "at least 1"),
        (lambda d: d.__setitem__("format", "other/2"), "format", "uara-instance/1"),
        (lambda d: d["params"].__setitem__("lamda", 0.1), "params.lamda", "unknown field"),
        (lambda d: d["params"].__setitem__("lambda", 0.0), "params.lambda", "positive"),
        (lambda d: d["slots"][0]["tasks"].pop(), "slots[0].tasks", "expected 4 entries"),
        (lambda d: d["slots"][0]["gain_db"].__setitem__(1, [-250.0, -250.0]), "slots[0].gain_db[1]", "no usable channel"),
        (lambda d: d["slots"][0]["gain_db"][0].__setitem__(0, 3.0), "slots[0].gain_db[0][0]", "above 0 dB"),
        (lambda d: d["slots"][0].pop("queue_s"), "slots[0].queue_s", "missing"),
    ],
)
def test_validation_names_the_field(mutate, field, words):
    msg = _bad(mutate)
    assert msg.startswith(field + ":"), msg
    assert words in msg


def test_load_errors_name_the_file(tmp_path):
    with pytest.raises(UaraError, match="not found"):
        Instance.load(tmp_path / "nope.json")
    trunc = tmp_path / "t.json"
    trunc.write_text(json.dumps(random_instance(3, 2).to_dict())[:200])
    with pytest.raises(UaraError, match=r"malformed JSON at line 1 column"):
        Instance.load(trunc)


def test_random_rejects_empty_sizes():
    with pytest.raises(InstanceError, match="at least one device"):
        random_instance(0, 3)


def test_with_params_validates():
    inst = random_instance(3, 2)
    assert inst.with_params(**{"lambda": 0.5}).params.lambda_ == 0.5
    with pytest.raises(InstanceError, match="params.bandwidth_hz"):
        inst.with_params(bandwidth_hz=-1.0)
    assert Params().to_dict()["lambda"] == 0.01
