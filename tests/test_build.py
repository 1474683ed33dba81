"""The instance builder: rules for slots, mobility, no-path devices, provenance and rebuilds; `uara build`."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import numpy as np
import pytest

import uara.scenario.builder as build_mod
from uara.scenario.builder import build_instance, build_options_from, rebuild
from uara.scenario.hardware import BUILTIN_CATALOG, load_catalog
from uara.scenario.channels import FreeSpace, finalize_db
from uara.errors import UaraError
from uara.model.instance import Instance, dumps_instance
from uara.scenario.task_sources import ParametricTasks

HAVE_SIONNA = importlib.util.find_spec("sionna") is not None


def _fs(**kw) -> Instance:
    opts = dict(devices=12, servers=3, slots=4, channel="free-space", seed=2)
    opts.update(kw)
    return build_instance(**opts)


def _uara(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "uara", *args], capture_output=True, text=True)


# ---------------------------------------------------------------- structure and rules
def test_free_space_build_has_every_slot_and_rule():
    inst = _fs(slots=5, speed_mps=(1.0, 1.5))
    assert (inst.num_devices, inst.num_servers, inst.num_slots) == (12, 3, 5)
    assert inst.name == "m12_e3"
    cat = load_catalog()
    for dev in inst.devices:
        kind = cat.devices[dev.kind]
        assert dev.flops == kind.flops and kind.tx_power_dbm[0] <= dev.tx_power_dbm <= kind.tx_power_dbm[1]
    for srv in inst.servers:
        assert srv.flops == cat.servers[srv.kind].flops and srv.position is not None
    prev = None
    for slot in inst.slots:
        assert slot.gain_db.shape == (12, 3) and np.all(slot.gain_db < 0)
        assert np.all((slot.queue_s >= 0) & (slot.queue_s <= 0.05))
        assert {t.type for t in slot.tasks} <= {"code", "summarisation", "chat"}
        if prev is not None:
            step = np.linalg.norm(slot.device_positions - prev.device_positions, axis=1)
            assert np.all(step <= 1.5 * inst.params.slot_s + 0.02) and np.all(step >= 1.0 - 0.02)
            # battery drains by the task energy (E^CP dominates; a few J of a 50 kJ battery can stay
            # below the 1e-4 rounding for one slot) and never rises
            assert np.all(slot.battery <= prev.battery) and np.any(slot.battery < prev.battery)
            drain = (prev.battery - slot.battery) * inst.battery_capacity_j
            e_cp = inst.params.delta_cp_j_per_flop * np.array([t.flops_device for t in prev.tasks])
            np.testing.assert_allclose(drain, e_cp, rtol=0.05, atol=2e-4 * inst.battery_capacity_j.max())
        prev = slot
    assert np.all((inst.slots[0].battery >= 0.2) & (inst.slots[0].battery <= 1.0))


def test_values_are_rounded_in_the_builder():
    inst = _fs()
    s = inst.slots[1]
    np.testing.assert_array_equal(s.gain_db, np.round(s.gain_db, 2))
    np.testing.assert_array_equal(s.device_positions, np.round(s.device_positions, 2))
    np.testing.assert_array_equal(s.battery, np.round(s.battery, 4))
    assert all(t.bits == round(t.bits) for t in s.tasks)


def test_seed_determines_everything():
    a, b, c = _fs(seed=5), _fs(seed=5), _fs(seed=6)
    assert dumps_instance(a) == dumps_instance(b)
    assert not np.array_equal(a.slots[0].gain_db, c.slots[0].gain_db)


def test_channel_cache_is_transparent(tmp_path, monkeypatch):
    calls = []

    class Counting(FreeSpace):
        def _compute(self, servers, devices, seed):
            calls.append(seed)
            return super()._compute(servers, devices, seed)

    monkeypatch.setattr(build_mod, "get_channel", lambda name, **kw: Counting(**kw))
    first = _fs(channel_cache=tmp_path / "cache", channel_options={"shadowing_db": 5.0})
    n = len(calls)
    again = _fs(channel_cache=tmp_path / "cache", channel_options={"shadowing_db": 5.0}, params={"energy_weight": 99})
    assert len(calls) == n >= first.num_slots  # the second build traced nothing
    other = _fs(channel_cache=tmp_path / "cache", channel_options={"shadowing_db": 6.0})
    monkeypatch.undo()
    assert len(calls) >= n + other.num_slots  # other inputs: traced again
    for a, b in zip(first.slots, again.slots):
        np.testing.assert_array_equal(a.gain_db, b.gain_db)
    assert not np.array_equal(first.slots[0].gain_db, other.slots[0].gain_db)
    assert dumps_instance(first) == dumps_instance(_fs(channel_options={"shadowing_db": 5.0}))


def test_still_devices_with_zero_speed():
    inst = _fs(speed_mps=(0.0, 0.0))
    for slot in inst.slots[1:]:
        np.testing.assert_array_equal(slot.device_positions, inst.slots[0].device_positions)


def test_parametric_tasks_have_calibrated_magnitudes():
    tasks = ParametricTasks()(np.random.default_rng(0), 3000)
    f_md = np.array([t.flops_device for t in tasks])
    f_es = np.array([t.flops_server for t in tasks])
    bits = np.array([t.bits for t in tasks])
    assert 3e10 < np.median(f_md) < 1.5e11  # ~1 s on a phone at ~5e10 FLOP/s
    assert 3e11 < np.median(f_es) < 3e12  # ~1 TFLOP of verification
    assert 1e5 < np.median(bits) < 3e6
    np.testing.assert_allclose(f_es / f_md, 1.125 * 3.2e9 / 2.7e8)
    by_type = {k: np.mean([t.flops_device for t in tasks if t.type == k]) for k in ("code", "summarisation", "chat")}
    assert by_type["summarisation"] < by_type["code"] < by_type["chat"]


# ---------------------------------------------------------------- provenance and rebuild
def test_rebuild_from_provenance_reproduces_the_file(tmp_path):
    inst = _fs(params={"energy_weight": 50.0}, channel_options={"exponent": 3.0, "shadowing_db": 6.0})
    path = tmp_path / "x.json"
    inst.save(path)
    prov = inst.provenance
    assert prov["format"] == "uara-build/1" and prov["build"]["seed"] == 2
    assert prov["resolved"]["channel_options"]["exponent"] == 3.0
    assert prov["resolved"]["catalog"]["source"] == "builtin"
    again = rebuild(path)
    assert dumps_instance(again) == path.read_text()
    assert again.params.energy_weight == 50.0


def test_rebuild_refuses_what_it_cannot_reproduce(tmp_path):
    with pytest.raises(UaraError, match="only built instances can be rebuilt"):
        rebuild(Instance.from_arrays(gain_db=np.full((3, 2), -90.0), device_flop_rate=5e10, server_flop_rate=3e13,
                                     tx_power_dbm=20.0, bits=1e6, device_work_flop=7e10, server_work_flop=1e12))
    cat = json.loads(BUILTIN_CATALOG.read_text())
    user = tmp_path / "cat.json"
    user.write_text(json.dumps(cat))
    inst = _fs(catalog=str(user))
    cat["devices"]["galaxy_s23"]["flops"] = 1e11
    user.write_text(json.dumps(cat))
    with pytest.raises(UaraError, match="catalog file changed since the build"):
        build_options_from(inst)
    psd = _fs()
    assert psd.provenance["psd_profile"] == "psd:gpt2" and psd.slots[0].tasks[0].psd is not None
    psd.provenance["resolved"]["task_files_sha256"] = "0" * 64
    with pytest.raises(UaraError, match="PSD profiles .* changed since the build"):
        build_options_from(psd)


def test_user_catalog(tmp_path):
    user = tmp_path / "cat.json"
    user.write_text(json.dumps({
        "format": "uara-catalog/1",
        "devices": {"tablet": {"flops": 9e10, "tx_power_dbm": [20, 20], "battery_capacity_j": 1e5}},
        "servers": {"h100": {"flops": 3e14}},
    }))
    inst = _fs(catalog=str(user))
    assert {d.kind for d in inst.devices} == {"tablet"} and {s.kind for s in inst.servers} == {"h100"}
    assert all(d.tx_power_dbm == 20.0 and d.battery_capacity_j == 1e5 for d in inst.devices)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "uara-catalog/1", "devices": {"p": {"flops": 1e10, "tx_power_dbm": [16, 24]}},
                               "servers": {"g": {"flops": 1e13}}}))
    with pytest.raises(UaraError, match=r"catalog devices\.p\.battery_capacity_j: missing"):
        _fs(catalog=str(bad))
    bad.write_text(json.dumps({"format": "uara-catalog/1", "devices": {"p": {"flops": 1e10, "tx_power_dbm": [16, 240],
                                                                             "battery_capacity_j": 1}},
                               "servers": {"g": {"flops": 1e13}}}))
    with pytest.raises(UaraError, match=r"tx_power_dbm.*is it in dBm"):
        _fs(catalog=str(bad))


def test_builtin_catalog_flops_follow_their_derivation():
    raw = json.loads(BUILTIN_CATALOG.read_text())
    draft = raw["models"]["draft"]
    for name, dev in raw["devices"].items():
        d = dev["derivation"]
        expect = d["memory_bandwidth_bytes_per_s"] * d["bandwidth_utilisation"] / draft["weight_bytes"] * draft["flop_per_token"]
        assert dev["flops"] == pytest.approx(expect, rel=0.01), name
        assert dev["sources"] and 16 <= dev["tx_power_dbm"][0] <= dev["tx_power_dbm"][1] <= 24
    for name, srv in raw["servers"].items():
        d = srv["derivation"]
        assert srv["flops"] == pytest.approx(d["peak_fp32_flops"] * d["utilisation"], rel=0.01), name
    peaks = {k: v["derivation"]["peak_fp32_flops"] for k, v in raw["servers"].items()}
    assert peaks == pytest.approx({"rtx2080": 10.1e12, "rtx3090": 35.6e12, "rtx4090": 82.6e12}, rel=0.01)


# ---------------------------------------------------------------- no-path rules
class _Cells(FreeSpace):
    """Free space with coverage cells: no path beyond ``reach_m`` (horizontal) from a server."""

    def __init__(self, reach_m: float, **kw):
        super().__init__(**kw)
        self.reach_m = reach_m

    def _compute(self, servers, devices, seed):
        res = super()._compute(servers, devices, seed)
        far = np.linalg.norm(devices[:, None, :2] - servers[None, :, :2], axis=2) > self.reach_m
        return finalize_db(np.where(far, -np.inf, res.gain_db), self.gain_floor_db)


def _with_cells(monkeypatch, reach_m: float) -> None:
    monkeypatch.setattr(build_mod, "get_channel", lambda name, **kw: _Cells(reach_m, **kw))


def test_devices_outside_coverage_are_replaced_at_slot_0_and_held_later(monkeypatch):
    _with_cells(monkeypatch, 120.0)
    inst = build_instance(devices=30, servers=4, slots=6, channel="free-space", seed=1, speed_mps=(15.0, 25.0))
    stats = inst.provenance["build_stats"]
    assert inst.num_devices == 30 and stats["dropped_devices"] == 0
    for slot in inst.slots:
        assert np.all((slot.gain_db > inst.params.gain_floor_db).any(axis=1))
        assert stats["no_path_pairs"][0] > 0
    assert sum(stats["held_moves"]) > 0
    # a held device stays where it was, with the same gains
    held_any = False
    for t in range(1, inst.num_slots):
        same = np.all(inst.slots[t].device_positions == inst.slots[t - 1].device_positions, axis=1)
        held_any |= bool(same.any())
        np.testing.assert_array_equal(inst.slots[t].gain_db[same], inst.slots[t - 1].gain_db[same])
    assert held_any


def test_devices_that_never_reach_a_server_are_dropped_and_counted(monkeypatch, capsys):
    _with_cells(monkeypatch, 40.0)
    inst = build_instance(devices=40, servers=1, slots=2, channel="free-space", seed=0, max_resample=1)
    dropped = inst.provenance["build_stats"]["dropped_devices"]
    assert dropped > 0 and inst.num_devices == 40 - dropped
    assert [d.name for d in inst.devices] == [f"d{i}" for i in range(inst.num_devices)]
    assert "reach no server" in capsys.readouterr().err
    _with_cells(monkeypatch, 1.0)
    with pytest.raises(UaraError, match="no device position reaches any server"):
        build_instance(devices=5, servers=1, slots=1, channel="free-space", max_resample=1)


# ---------------------------------------------------------------- bad options
@pytest.mark.parametrize(
    "kw, match",
    [
        ({"devices": 0}, "devices: expected an integer >= 1"),
        ({"slots": 1.5}, "slots: expected an integer"),
        ({"seed": -1}, "seed"),
        ({"channel": "ray"}, "unknown channel 'ray'"),
        ({"scene": "etoile"}, "scene: only the sionna-rt channel"),
        ({"battery_range": (0.0, 1.0)}, "battery_range"),
        ({"speed_mps": (2.0, 1.0)}, "speed_mps"),
        ({"params": "fancy"}, "unknown parameter set 'fancy'"),
        ({"params": {"lamda": 1}}, r"params\.lamda: unknown field"),
        ({"device_kinds": ["pixel_9"]}, "device kind 'pixel_9' is not in the catalog"),
        ({"catalog": "/nonexistent/cat.json"}, "catalog file not found"),
        ({"tasks": "llm"}, "unknown task sampler 'llm'"),
        ({"task_options": {"gama": 4}}, "task option 'gama' is unknown"),
        ({"channel_options": {"gain_floor_db": -150.0}}, "must equal params.gain_floor_db"),
    ],
)
def test_bad_options_give_one_clear_line(kw, match):
    with pytest.raises(UaraError, match=match) as err:
        _fs(**kw)
    assert "\n" not in str(err.value)


# ---------------------------------------------------------------- CLI
def test_cli_build_and_check(tmp_path):
    out = tmp_path / "m10_e2.json"
    r = _uara("build", "--channel", "free-space", "-m", "10", "-e", "2", "-t", "3", "--seed", "4",
              "-c", "shadowing_db=4", "--param", "energy_weight=40", "-q", "-O", str(out))
    assert r.returncode == 0, r.stderr
    assert "10 devices, 2 servers, 3 slots" in r.stdout
    inst = Instance.load(out)
    recorded = inst.provenance["build"]["channel_options"]
    assert inst.params.energy_weight == 40.0 and recorded["shadowing_db"] == 4
    assert recorded["exponent"] == 2.0  # defaults are recorded resolved
    r = _uara("build", "--from-provenance", str(out), "--check", "-q")
    assert r.returncode == 0 and "identical" in r.stdout, r.stdout + r.stderr
    data = json.loads(out.read_text())
    data["slots"][2]["gain_db"][0][0] -= 0.01
    out.write_text(json.dumps(data))
    r = _uara("build", "--from-provenance", str(out), "--check", "-q")
    assert r.returncode == 1 and "DIFFERS" in r.stdout and "slots[2]" in r.stderr


@pytest.mark.parametrize(
    "args, match",
    [
        (["--channel", "free-space", "-q"], "--output FILE is required"),
        (["--check"], "--check needs --from-provenance"),
        (["--channel", "free-space", "-c", "exponent", "-O", "x.json"], "--channel-option expects KEY=VALUE"),
        (["--from-provenance", "/nonexistent.json", "--check"], "not found"),
    ],
)
def test_cli_errors(args, match, tmp_path):
    r = subprocess.run([sys.executable, "-m", "uara", "build", *args], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 2 and match in r.stderr and r.stderr.count("\n") == 1, r.stderr


# ---------------------------------------------------------------- Sionna builds
@pytest.mark.sionna
@pytest.mark.skipif(not HAVE_SIONNA, reason="sionna is not installed (pip install 'uara[sionna]')")
@pytest.mark.parametrize("channel, extra", [
    ("sionna-rt", {"scene": "simple_street_canyon", "channel_options": {"samples_per_src": 20_000}}),
    ("sionna-umi", {}),
])
def test_sionna_build_rebuilds_bit_for_bit(channel, extra, tmp_path):
    inst = build_instance(devices=8, servers=2, slots=2, channel=channel, seed=3, **extra)
    path = tmp_path / "s.json"
    inst.save(path)
    assert inst.provenance["channel"].startswith(channel)
    assert inst.provenance["resolved"]["versions"]["numpy"] == np.__version__
    assert dumps_instance(rebuild(path)) == path.read_text()


@pytest.mark.sionna
@pytest.mark.skipif(not HAVE_SIONNA, reason="sionna is not installed (pip install 'uara[sionna]')")
def test_user_scene_file_is_hashed_and_checked(tmp_path):
    import shutil

    import sionna.rt

    src = sionna.rt.scene.simple_street_canyon
    shutil.copytree(src.rsplit("/", 1)[0], tmp_path / "canyon")
    xml = tmp_path / "canyon" / "simple_street_canyon.xml"
    inst = build_instance(devices=4, servers=2, slots=1, channel="sionna-rt", scene=str(xml), seed=1,
                          channel_options={"samples_per_src": 5_000})
    assert inst.provenance["channel"] == "sionna-rt/simple_street_canyon"
    assert len(inst.provenance["resolved"]["channel_options"]["scene_sha256"]) == 64
    assert build_options_from(inst)["scene"] == str(xml)
    xml.write_text(xml.read_text() + "\n<!-- edited -->\n")
    with pytest.raises(UaraError, match="scene file .* changed since the build"):
        build_options_from(inst)


def test_the_coverage_rule_keeps_every_device_slot_above_the_snr_threshold():
    from uara.scenario.builder import best_snr_db, rebuild

    opts = dict(devices=20, servers=3, slots=5, channel="free-space", seed=3, speed_mps=(20.0, 30.0),
                channel_options={"width_m": 3000, "depth_m": 3000, "exponent": 3.8, "shadowing_db": 8.0})
    assert build_instance(**opts).provenance["build"]["min_coverage_snr_db"] == -6.0  # the default
    plain = build_instance(**opts, min_coverage_snr_db=None)
    assert "min_coverage_snr_db" not in plain.provenance["build"]  # off: not recorded
    worst_plain = min(best_snr_db(s.gain_db, plain.tx_power_dbm, plain.params, 3).min() for s in plain.slots)
    assert worst_plain < -6.0  # the scenario does have devices out of coverage
    covered = build_instance(**opts, min_coverage_snr_db=-6.0)
    stats = covered.provenance["build_stats"]
    assert stats["coverage_rejected"] > 0
    for s in covered.slots:  # gains are rounded to 0.01 dB after the check
        assert best_snr_db(s.gain_db, covered.tx_power_dbm, covered.params, 3).min() >= -6.0 - 0.01
    assert rebuild(covered).fingerprint() == covered.fingerprint()
    noisy = build_instance(**opts, min_coverage_snr_db=-6.0, params={"noise_figure_db": 5.0})
    for s in noisy.slots:  # the noise figure counts
        assert best_snr_db(s.gain_db, noisy.tx_power_dbm, noisy.params, 3).min() >= -6.0 - 0.01


# ---------------------------------------------------------------- presets, records, queues
def test_presets_and_the_defaults_of_old_records():
    from uara.model.instance import PARAMETER_SETS
    from uara.scenario.build_spec import BuildSpec, params_from

    paper = BuildSpec.preset("paper-literal", devices=5)
    assert paper.devices == 5 and paper.queue_model == "uniform" and paper.min_coverage_snr_db is None
    assert params_from(paper.params) == PARAMETER_SETS["paper-literal"] and dict(paper.task_options) == {}
    credible = BuildSpec()
    assert params_from(credible.params) == PARAMETER_SETS["credible"] and credible.min_coverage_snr_db == -6.0
    assert params_from({"lambda": 0.1}).energy_model == "physical"  # a dict overrides the default set
    with pytest.raises(UaraError, match="preset: unknown preset 'nope'"):
        BuildSpec.preset("nope")
    # a record from before the keys existed rebuilds as it was built, relative to Params()
    old = BuildSpec.from_record({"devices": 4, "params": {"energy_weight": 20.0}})
    assert old.queue_model == "uniform" and old.min_coverage_snr_db is None
    assert old.params.energy_model == "paper" and old.params.noise_figure_db == 0.0
    assert BuildSpec(tasks="parametric").task_options == {}  # the psd defaults do not leak to another sampler


def test_lindley_queues_follow_the_reference_load():
    """With no background load the backlog is a function of the instance: q(t+1) = max(0, q(t) + W(t) - tau)."""
    from uara.model.formulation import slot_data

    inst = _fs(slots=5, params={"slot_s": 0.02}, background_load=0.0, queue_model="lindley")  # the load exceeds tau
    assert inst.provenance["resolved"]["queue_rule"].startswith("Lindley")
    backlog = np.zeros(inst.num_servers)
    grew = False
    for t, slot in enumerate(inst.slots):
        np.testing.assert_allclose(slot.queue_s, np.round(backlog, 4), atol=1e-12)
        sd = slot_data(inst, t)
        ref = np.where(sd.usable, sd.snr, -np.inf).argmax(axis=1)
        work = np.bincount(ref, weights=sd.server_work_s[np.arange(inst.num_devices), ref], minlength=inst.num_servers)
        backlog = np.maximum(0.0, backlog + work - inst.params.slot_s)
        grew = grew or bool((slot.queue_s > 0).any())
    assert grew
    uniform = _fs(queue_model="uniform")
    assert all(np.all((s.queue_s >= 0) & (s.queue_s <= 0.05)) for s in uniform.slots)


def test_background_queues_are_the_same_for_every_method_and_replace_only_the_queues():
    """queue_model background (the default): q(t+1) = max(0, q(t) + X(t) - tau) with the background draws X
    of the lindley build, so everything but the queues equals the Max-SINR-induced build; params carry the load."""
    lindley = _fs(slots=5, params={"slot_s": 2.0}, background_load=0.6, queue_model="lindley")
    bg = _fs(slots=5, params={"slot_s": 2.0}, background_load=0.6)
    assert bg.provenance["build"]["queue_model"] == "background"
    assert bg.provenance["resolved"]["queue_rule"].startswith("Lindley of the background alone")
    assert bg.params.background_load == 0.6 and bg.params.server_model == "batched"
    for a, b in zip(lindley.slots, bg.slots):
        np.testing.assert_array_equal(a.gain_db, b.gain_db)
        np.testing.assert_array_equal(a.battery, b.battery)
        assert [t.to_dict() for t in a.tasks] == [t.to_dict() for t in b.tasks]
        assert (b.queue_s <= a.queue_s + 1e-12).all()  # no foreground work in it
    assert any((a.queue_s > b.queue_s).any() for a, b in zip(lindley.slots, bg.slots))
    # replay the draws: the builder's state stream draws the batteries, then E exponentials per slot
    from uara.scenario.builder import _streams

    st = _streams(2).state
    st.uniform(0.2, 1.0, bg.num_devices)
    q = np.zeros(bg.num_servers)
    for slot in bg.slots:
        np.testing.assert_allclose(slot.queue_s, np.round(q, 4), atol=1e-12)
        q = np.maximum(0.0, q + st.exponential(0.6 * 2.0, bg.num_servers) - 2.0)


def test_requeue_gives_what_a_background_build_writes():
    """requeue_background(lindley build) == rebuild of its provenance, every byte (no channel re-traced)."""
    from uara.scenario.builder import rebuild
    from uara.scenario.builder import requeue_background

    old = _fs(slots=5, params={"slot_s": 2.0, "server_model": "reserved"}, background_load=0.6, queue_model="lindley")
    new = requeue_background(old)
    assert new.to_dict() == rebuild(new).to_dict()
    assert new.params.server_model == "batched" and new.params.background_load == 0.6
    assert new.fingerprint() != old.fingerprint()  # the queues changed; the server model alone would not
    assert [s.gain_db.tolist() for s in new.slots] == [s.gain_db.tolist() for s in old.slots]


def test_build_cli_presets_and_coverage_flag(tmp_path):
    out = tmp_path / "p.json"
    r = _uara("build", "--preset", "paper-literal", "--channel", "free-space", "-m", "4", "-e", "2", "-t", "2",
              "--out", str(out), "-q")
    assert r.returncode == 0, r.stderr
    inst = Instance.load(out)
    assert inst.params.energy_model == "paper" and inst.params.slot_s == 1.0
    assert inst.provenance["resolved"]["tasks"]["protocol"] is None  # the profiles' own full@4
    r = _uara("build", "--channel", "free-space", "-m", "4", "-e", "2", "-t", "2", "--min-coverage-snr", "none",
              "--param", "lambda=0.02", "--out", str(out), "-q")
    assert r.returncode == 0, r.stderr
    inst = Instance.load(out)
    assert "min_coverage_snr_db" not in inst.provenance["build"] and inst.params.lambda_ == 0.02
    assert inst.params.energy_model == "physical"  # --param changes one value of the default set
    r = _uara("build", "--channel", "free-space", "--queue-model", "fifo", "--out", str(out))
    assert r.returncode != 0 and "queue_model: expected one of background, lindley, uniform" in r.stderr
