"""Channel providers: physics sanity, determinism, no-path handling, clear errors, the libLLVM guard."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

from uara.scenario.channels import ChannelResult, finalize_gain, get_channel, list_channels
from uara.scenario.channels.free_space import SPEED_OF_LIGHT
from uara.scenario.channels.geometry import BoxLayout, spread_choice
from uara.errors import UaraError

HAVE_SIONNA = importlib.util.find_spec("sionna") is not None
needs_sionna = pytest.mark.skipif(not HAVE_SIONNA, reason="sionna is not installed (pip install 'uara[sionna]')")


def _line(n: int, x0: float = 20.0, x1: float = 240.0) -> np.ndarray:
    return np.column_stack([np.linspace(x0, x1, n), np.zeros(n), np.full(n, 1.5)])


# ---------------------------------------------------------------- free space
def test_free_space_matches_friis_and_falls_with_distance():
    ch = get_channel("free-space")
    server = np.array([[0.0, 0.0, 25.0]])
    dev = _line(12)
    res = ch(server, dev, seed=0)
    assert res.gain_db.shape == (12, 1) and res.gain_db.dtype == np.float64
    d = np.linalg.norm(dev - server, axis=1)
    friis = -20 * np.log10(4 * np.pi * d * 3.5e9 / SPEED_OF_LIGHT)
    np.testing.assert_allclose(res.gain_db[:, 0], friis, atol=1e-9)
    assert np.all(np.diff(res.gain_db[:, 0]) < 0)
    assert not res.no_path.any() and res.los.all()


def test_free_space_exponent_and_shadowing_are_seeded():
    ch = get_channel("free-space", exponent=3.5, shadowing_db=8.0)
    s = np.array([[0.0, 0.0, 25.0], [100.0, 50.0, 25.0]])
    d = _line(30)
    a, b, c = ch(s, d, seed=1), ch(s, d, seed=1), ch(s, d, seed=2)
    np.testing.assert_array_equal(a.gain_db, b.gain_db)
    assert np.abs(a.gain_db - c.gain_db).max() > 1.0
    # with 8 dB shadowing the residual around the exponent-3.5 law has about that spread
    dist = np.linalg.norm(d[:, None, :] - s[None], axis=2)
    mean = -(20 * np.log10(4 * np.pi * 3.5e9 / SPEED_OF_LIGHT) + 35 * np.log10(dist))
    assert 4.0 < np.std(a.gain_db - mean) < 12.0


def test_finalize_floors_missing_paths():
    g = np.array([[1e-9, 0.0], [1e-25, 1e-12]])
    res = finalize_gain(g, -200.0)
    np.testing.assert_array_equal(res.no_path, [[False, True], [True, False]])
    np.testing.assert_allclose(res.gain_db, [[-90.0, -200.0], [-200.0, -120.0]])
    assert res.info["no_path_pairs"] == 2 and res.info["unreachable_devices"] == 0
    assert isinstance(res, ChannelResult) and np.isfinite(res.gain_db).all()
    dead = finalize_gain(np.zeros((2, 3)), -150.0)
    assert dead.unreachable.all() and (dead.gain_db == -150.0).all()


def test_box_layout_keeps_distance_and_spreads_servers():
    lay = BoxLayout(300.0, 200.0, server_height_m=10.0, min_distance_m=25.0)
    rng = np.random.default_rng(0)
    s = lay.sample_servers(6, rng)
    d = lay.sample_devices(200, rng, servers=s)
    assert s.shape == (6, 3) and np.all(s[:, 2] == 10.0)
    horiz = np.linalg.norm(d[:, None, :2] - s[None, :, :2], axis=2)
    assert horiz.min() >= 25.0
    assert np.all(np.abs(d[:, 0]) <= 150.0) and np.all(np.abs(d[:, 1]) <= 100.0)
    pair = np.linalg.norm(s[:, None, :2] - s[None, :, :2], axis=2) + np.eye(6) * 1e9
    assert pair.min() > 10.0


def test_spread_choice_relaxes_when_crowded():
    cand = np.column_stack([np.arange(5.0), np.zeros(5), np.zeros(5)])
    out = spread_choice(cand, 5, np.random.default_rng(0), min_sep_m=100.0)
    assert len({tuple(r) for r in out}) == 5
    with pytest.raises(UaraError, match="only 5 candidate"):
        spread_choice(cand, 6, np.random.default_rng(0), 1.0)


@pytest.mark.parametrize(
    "name, options, match",
    [
        ("nope", {}, "unknown channel 'nope'"),
        ("free-space", {"colour": 1}, "has no option 'colour'"),
        ("free-space", {"exponent": 0.5}, "exponent"),
        ("free-space", {"frequency_hz": -1.0}, "frequency_hz"),
        ("free-space", {"gain_floor_db": 5.0}, "gain_floor_db"),
        ("sionna-umi", {"o2i_model": "medium"}, "o2i_model"),
        ("sionna-uma", {"frequency_hz": 2e11}, "0.5-100 GHz"),
        ("sionna-rt", {"scene": "../nope.xml"}, "scene file not found"),
        ("sionna-rt", {"scene": "not a scene"}, "neither a built-in scene"),
        ("sionna-rt", {"samples_per_src": 10}, "samples_per_src"),
        ("sionna-rt", {"threads": -1}, "threads"),
    ],
)
def test_bad_options_name_the_option(name, options, match):
    with pytest.raises(UaraError, match=match):
        get_channel(name, **options)


def test_bad_positions_are_rejected():
    ch = get_channel("free-space")
    with pytest.raises(UaraError, match="server_positions"):
        ch(np.zeros((2, 2)), np.zeros((3, 3)))
    with pytest.raises(UaraError, match="device_positions"):
        ch(np.zeros((2, 3)), np.array([[0.0, np.nan, 1.5]]))
    assert ch(np.zeros((2, 3)), np.zeros((0, 3))).gain_db.shape == (0, 2)


def test_registry_and_lazy_imports():
    assert list_channels() == ["free-space", "sionna-rt", "sionna-uma", "sionna-umi"]
    code = ("import sys, uara, uara.scenario.channels, uara.scenario.builder, uara.cli.build; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('sionna', 'mitsuba', 'drjit', 'torch')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# ---------------------------------------------------------------- libLLVM guard
def test_llvm_env_respects_and_checks_the_variable(monkeypatch, tmp_path):
    from uara.scenario.channels import llvm

    monkeypatch.setenv("DRJIT_LIBLLVM_PATH", str(tmp_path / "missing.so"))
    with pytest.raises(UaraError, match="does not exist"):
        llvm.configure_llvm_env()
    fake = tmp_path / "libLLVM-19.so"
    fake.write_bytes(b"")
    monkeypatch.setenv("DRJIT_LIBLLVM_PATH", str(fake))
    assert llvm.configure_llvm_env() == str(fake)


def test_llvm_search_prefers_newest_supported(monkeypatch, tmp_path):
    from uara.scenario.channels import llvm

    for name in ("libLLVM-15.so.1", "libLLVM-19.so", "libLLVM.so.18.1"):
        (tmp_path / name).write_bytes(b"")
    monkeypatch.setattr(llvm, "_SEARCH_DIRS", (str(tmp_path),))
    path, major = llvm.find_libllvm()
    assert major == 19 and path.endswith("libLLVM-19.so")
    (tmp_path / "libLLVM-19.so").unlink()
    (tmp_path / "libLLVM.so.18.1").unlink()
    monkeypatch.delenv("DRJIT_LIBLLVM_PATH", raising=False)
    with pytest.raises(UaraError, match="needs libLLVM >= 17 .*found only .*libLLVM-15"):
        llvm.configure_llvm_env()


@pytest.mark.sionna
@needs_sionna
@pytest.mark.skipif(not os.path.exists("/usr/lib/x86_64-linux-gnu/libLLVM-15.so.1"),
                    reason="needs Debian's libLLVM 15 to show the abort it causes")
def test_llvm_probe_turns_an_abort_into_an_error(monkeypatch):
    from uara.scenario.channels import llvm

    monkeypatch.setenv("DRJIT_LIBLLVM_PATH", "/usr/lib/x86_64-linux-gnu/libLLVM-15.so.1")
    with pytest.raises(UaraError, match=r"self-test failed .*killed by signal"):
        llvm.ensure_llvm.__wrapped__()


# ---------------------------------------------------------------- Sionna 3GPP
@pytest.mark.sionna
@needs_sionna
@pytest.mark.parametrize("name", ["sionna-umi", "sionna-uma"])
def test_3gpp_models_are_seeded_and_physical(name):
    ch = get_channel(name)
    rng = np.random.default_rng(4)
    s = ch.layout().sample_servers(4, rng)
    d = ch.layout().sample_devices(60, rng, servers=s)
    a, b, c = ch(s, d, seed=7), ch(s, d, seed=7), ch(s, d, seed=8)
    np.testing.assert_array_equal(a.gain_db, b.gain_db)
    assert np.abs(a.gain_db - c.gain_db).max() > 1.0
    assert a.gain_db.shape == (60, 4) and np.all(a.gain_db < -40) and not a.no_path.any()
    dist = np.linalg.norm(d[:, None, :] - s[None], axis=2)
    assert np.corrcoef(a.gain_db.ravel(), np.log10(dist).ravel())[0, 1] < -0.5
    assert a.los is not None and a.los.any() and (~a.los).any()
    assert np.median(a.gain_db[a.los]) > np.median(a.gain_db[~a.los])


# ---------------------------------------------------------------- Sionna RT
@pytest.fixture(scope="module")
def canyon():
    """Sionna RT on the small built-in street canyon: 3 rooftop servers, 16 street devices."""
    if not HAVE_SIONNA:
        pytest.skip("sionna is not installed (pip install 'uara[sionna]')")
    ch = get_channel("sionna-rt", scene="simple_street_canyon", samples_per_src=50_000)
    lay = ch.layout()
    rng = np.random.default_rng(1)
    s = lay.sample_servers(3, rng)
    d = lay.sample_devices(16, rng, servers=s)
    return ch, lay, s, d, ch(s, d, seed=5)


@pytest.mark.sionna
def test_rt_geometry_rooftops_and_streets(canyon):
    ch, lay, s, d, _ = canyon
    # servers stand on roofs (well above ground), devices 1.5 m above the street
    assert np.all(s[:, 2] > lay.ground_z + lay.min_roof_height_m)
    np.testing.assert_allclose(d[:, 2], lay.ground_z + 1.5, atol=lay.street_tolerance_m)
    z_below, _, hit = lay.cast_down(d[:, 0], d[:, 1])
    assert hit.all() and np.all(z_below <= lay.ground_z + lay.street_tolerance_m)
    # a straight walk into the building under a server is blocked; the open sky above a device is clear
    inside = np.repeat([[s[0, 0], s[0, 1], lay.ground_z + 1.5]], len(d), axis=0)
    assert not lay.segment_clear(d, inside).any()
    assert lay.segment_clear(d, d + np.array([0.0, 0.0, 5.0])).all()


@pytest.mark.sionna
def test_rt_physical_sanity(canyon):
    ch, lay, s, d, res = canyon
    g, los = res.gain_db, res.los
    assert g.shape == (16, 3) and np.isfinite(g).all() and np.all(g <= -40)
    assert np.all(g[res.no_path] == ch.gain_floor_db)
    ok = ~res.no_path
    assert ok.sum() >= 24
    assert los is not None and (los & ok).sum() >= 3 and (~los & ok).sum() >= 10
    # LOS pairs are stronger than NLOS pairs, in absolute terms and relative to free space at the same distance
    assert np.median(g[los & ok]) > np.median(g[~los & ok]) + 5.0
    dist = np.linalg.norm(d[:, None, :] - s[None], axis=2)
    friis = -20 * np.log10(4 * np.pi * dist * ch.frequency_hz / SPEED_OF_LIGHT)
    excess = g - friis
    assert np.median(excess[~los & ok]) < np.median(excess[los & ok]) - 5.0
    # a LOS pair carries at least its free-space power, and not much more (incoherent sum of paths)
    assert np.all(excess[los] > -1.0) and np.all(excess[los] < 10.0)


@pytest.mark.sionna
def test_rt_gain_falls_with_distance_in_the_open():
    """Without any scene geometry in the way the ray tracer reduces to Friis: gains fall with distance."""
    if not HAVE_SIONNA:
        pytest.skip("sionna is not installed (pip install 'uara[sionna]')")
    ch = get_channel("sionna-rt", scene="simple_street_canyon", samples_per_src=20_000, max_depth=0)
    server = np.array([[0.0, 0.0, 60.0]])  # above the buildings (max height about 40 m)
    dev = np.column_stack([np.zeros(5), np.zeros(5), np.array([55.0, 50.0, 45.0, 42.0, 41.0])])
    res = ch(server, dev, seed=0)
    assert np.all(res.los[:, 0]) and np.all(np.diff(res.gain_db[:, 0]) < 0)
    friis = -20 * np.log10(4 * np.pi * (60.0 - dev[:, 2]) * ch.frequency_hz / SPEED_OF_LIGHT)
    np.testing.assert_allclose(res.gain_db[:, 0], friis, atol=0.2)


@pytest.mark.sionna
def test_rt_deterministic_for_a_seed(canyon):
    ch, _, s, d, res = canyon
    again = ch(s, d, seed=5)
    np.testing.assert_array_equal(res.gain_db, again.gain_db)
    np.testing.assert_array_equal(res.no_path, again.no_path)


@pytest.mark.sionna
def test_rt_unknown_builtin_scene_lists_the_known_ones():
    if not HAVE_SIONNA:
        pytest.skip("sionna is not installed (pip install 'uara[sionna]')")
    ch = get_channel("sionna-rt", scene="atlantis")
    with pytest.raises(UaraError, match="unknown built-in scene 'atlantis'.*etoile"):
        ch.layout()
