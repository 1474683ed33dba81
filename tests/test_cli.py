import json
import subprocess
import sys

import pytest

from uara.scenario.random_instance import random_instance

from conftest import reference_objective


def uara(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "uara", *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=300)


@pytest.fixture
def inst_file(tmp_path):
    path = tmp_path / "inst.json"
    random_instance(12, 3, seed=7, name="cli").save(path)
    return path


def test_solve_writes_solution_whose_objective_is_independently_correct(inst_file, tmp_path):
    out = tmp_path / "sub" / "s.json"
    r = uara("solve", inst_file, "--solver", "tma", "--output", out, "--no-latency")
    assert r.returncode == 0, r.stderr
    assert "objective  I =" in r.stdout and "status feasible" in r.stdout
    sol = json.loads(out.read_text())
    assert sol["format"] == "uara-solution/1" and sol["solver"] == "tma"
    inst = json.loads(inst_file.read_text())
    s0 = sol["slots"][0]
    ref = reference_objective(inst, 0, s0["association"], s0["bandwidth_share"], s0["compute_share"])
    assert sol["objective"] == pytest.approx(ref, rel=1e-12)
    v = uara("validate", out, "--instance", inst_file)
    assert v.returncode == 0 and v.stdout.startswith("ok:")


def test_validate_catches_a_tampered_objective(inst_file, tmp_path):
    out = tmp_path / "s.json"
    assert uara("solve", inst_file, "-s", "max-sinr", "-O", out, "--no-latency").returncode == 0
    data = json.loads(out.read_text())
    data["objective"] *= 0.99
    out.write_text(json.dumps(data))
    r = uara("validate", out, "-i", inst_file)
    assert r.returncode == 2
    assert "objective: claims" in r.stderr


def test_json_flag_prints_the_solution(inst_file):
    r = uara("solve", inst_file, "-s", "brute-force", "--json", "--no-latency", "-o", "max_assignments=1e6")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["status"] == "optimal" and d["gap"] == pytest.approx(0, abs=1e-9)


def _write_bad(tmp_path, mutate):
    d = random_instance(4, 2, seed=0).to_dict()
    mutate(d)
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(d))
    return p


BAD = {
    "nan_gain": (lambda d: d["slots"][0]["gain_db"][1].__setitem__(0, float("nan")), "slots[0].gain_db[1][0]"),
    "negative_bits": (lambda d: d["slots"][0]["tasks"][2].__setitem__("bits", -1), "slots[0].tasks[2].bits"),
    "wrong_shape": (lambda d: d["slots"][0]["gain_db"].pop(), "slots[0].gain_db"),
    "battery_zero": (lambda d: d["slots"][0]["battery"].__setitem__(3, 0), "slots[0].battery[3]"),
    "no_devices": (lambda d: d.__setitem__("devices", []), "devices"),
    "negative_power": (lambda d: d["devices"][0].__setitem__("tx_power_dbm", -10), "devices[0].tx_power_dbm"),
    "dead_device": (lambda d: d["slots"][0]["gain_db"].__setitem__(0, [-300.0, -300.0]), "no usable channel"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_instances_give_one_clear_line(case, tmp_path):
    mutate, needle = BAD[case]
    r = uara("solve", _write_bad(tmp_path, mutate), "-s", "tma", "-O", tmp_path / "out.json")
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("uara: error: "), r.stderr
    assert needle in lines[0]
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "out.json").exists()


def test_missing_truncated_and_unknown(tmp_path, inst_file):
    r = uara("solve", tmp_path / "missing.json")
    assert r.returncode == 2 and "instance file not found" in r.stderr
    trunc = tmp_path / "t.json"
    trunc.write_text(inst_file.read_text()[:100])
    r = uara("solve", trunc)
    assert r.returncode == 2 and "malformed JSON at line" in r.stderr and "Traceback" not in r.stderr
    r = uara("solve", inst_file, "-s", "simplex")
    assert r.returncode == 2 and "unknown solver 'simplex'" in r.stderr
    r = uara("solve", inst_file, "-o", "oops")
    assert r.returncode == 2 and "--option expects KEY=VALUE" in r.stderr
    r = uara("solve", inst_file, "--time-limit", "-3")
    assert r.returncode == 2 and "--time-limit must be positive" in r.stderr


def test_help_everywhere():
    for args in (["--help"], ["solve", "--help"], ["inspect", "--help"], ["solvers", "--help"], ["validate", "--help"]):
        r = uara(*args)
        assert r.returncode == 0 and "usage: uara" in r.stdout


def test_solvers_and_inspect(inst_file):
    r = uara("solvers")
    assert r.returncode == 0
    assert "tma" in r.stdout and "brute-force" in r.stdout
    r = uara("solvers", "--options", "tma")
    assert "--option max_swaps=None" in r.stdout
    r = uara("inspect", inst_file)
    assert r.returncode == 0 and "12 devices, 3 servers" in r.stdout and "sync" in r.stdout
    assert "load       under Max-SINR" in r.stdout and "energy model physical" in r.stdout
    js = json.loads(uara("inspect", inst_file, "--json").stdout)
    assert js["devices"] == 12 and 0 <= js["no_path_share"] <= 1
    ld = js["load"]  # the credible default: everyone in coverage, light load, a phone's power
    assert ld["in_coverage"] == 1.0 and ld["best_snr_db_min"] >= -6.01 and ld["compute_util_below_1"] >= 0.9
    assert 0.5 <= ld["drafting_power_w"][0] <= ld["drafting_power_w"][1] <= 10


def test_solve_bound_scores_against_the_relaxation(inst_file, tmp_path):
    pytest.importorskip("cvxpy")
    out = tmp_path / "s.json"
    r = subprocess.run([sys.executable, "-m", "uara", "solve", str(inst_file), "-s", "max-sinr", "--bound", "--no-latency", "-O", str(out)],
                       capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "best known bound" in r.stdout
    info = json.loads(out.read_text())["info"]
    assert info["best_lower_bound"] <= json.loads(out.read_text())["objective"]
    assert 0 <= info["gap_to_best_bound"] <= 1


def test_solve_bound_with_price_and_unknown_method(inst_file, tmp_path, monkeypatch):
    monkeypatch.setenv("UARA_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "s.json"
    r = subprocess.run([sys.executable, "-m", "uara", "solve", str(inst_file), "-s", "max-sinr", "--bound", "relax,price",
                        "--bound-time-limit", "20", "--no-latency", "-O", str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    info = json.loads(out.read_text())["info"]
    assert info["best_lower_bound"] <= json.loads(out.read_text())["objective"]
    bad = subprocess.run([sys.executable, "-m", "uara", "solve", str(inst_file), "--bound", "nope", "--no-latency"],
                         capture_output=True, text=True)
    assert bad.returncode != 0 and "nope" in bad.stderr and "Traceback" not in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
