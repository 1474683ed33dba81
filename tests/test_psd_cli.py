"""`uara psd` sub-commands (simulate, profiles, figure2, latency)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from uara.cli import main


def test_simulate_json(capsys):
    assert main(["psd", "simulate", "--profile", "gpt2_code", "--tasks", "200", "--json", "--uplink-mbps", "100",
                 "--verify-call-ms", "60", "--latency-ms", "20"]) == 0
    out = json.loads(capsys.readouterr().out)
    sd, psd = out["results"]["sd"], out["results"]["psd"]
    assert psd["latency_mean_s"] < sd["latency_mean_s"]  # overlap pays off at these speeds
    assert psd["device_idle_s"] < sd["device_idle_s"]
    for r in (sd, psd):
        parts = sum(r[f"critical_{c}_s"] for c in ("device", "uplink", "queue", "server", "downlink"))
        assert parts == pytest.approx(r["latency_mean_s"])


def test_simulate_alpha_override_and_table(capsys):
    assert main(["psd", "simulate", "--alpha", "1.0", "--tasks", "50", "--mode", "sd", "--draft-length", "4",
                 "--protocol", "ids"]) == 0
    text = capsys.readouterr().out
    row = next(line for line in text.splitlines() if line.startswith("tokens_per_round"))
    assert float(row.split()[-1]) == pytest.approx(5.0)  # alpha = 1: g + 1 tokens per round


def test_profiles_lists_shipped(capsys):
    assert main(["psd", "profiles"]) == 0
    out = capsys.readouterr().out
    assert "gpt2_code" in out and "declared" in out


def test_figure2_writes_pngs(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    assert main(["psd", "figure2", "--output", str(tmp_path), "--tasks", "20"]) == 0
    data = json.loads((tmp_path / "figure2.json").read_text())
    for ttype in ("code", "summarisation"):
        m = data["profiles"][ttype]["modes"]["psd"]
        lat = [r["latency_s"] for r in m["vs_rate"]]
        assert lat[0] > 5 * lat[-1]                       # starved at 1 Mbit/s
        assert np.all(np.diff(lat) <= 1e-9)               # more rate never hurts
        assert 10e6 <= m["saturation_rate_bps"] <= 200e6
    assert {p.name for p in tmp_path.glob("*.png")} == {"figure2a_code.png", "figure2a_summarisation.png",
                                                        "figure2b.png"}


def test_bad_profile_is_one_line_error(capsys):
    assert main(["psd", "simulate", "--profile", "nope"]) == 2
    assert "profile not found" in capsys.readouterr().err


def test_hugging_face_ids_resolve_from_the_local_cache(tmp_path, monkeypatch):
    from uara.errors import UaraError
    from uara.psd.measure.hf import resolve

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    base = tmp_path / "hub" / "models--acme--tiny-lm"
    for rev in ("old1", "abc123"):
        (base / "snapshots" / rev).mkdir(parents=True)
        (base / "snapshots" / rev / "config.json").write_text("{}")
    (base / "refs").mkdir()
    (base / "refs" / "main").write_text("abc123\n")
    assert resolve("acme/tiny-lm").folder == base / "snapshots" / "abc123"
    import pytest

    with pytest.raises(UaraError, match="'acme/other' is not in the local Hugging Face cache"):
        resolve("acme/other")


def test_a_wrong_model_path_is_reported_before_torch_loads(tmp_path):
    import subprocess
    import sys

    code = ("import sys\nfrom uara.cli import main\n"
            f"rc = main(['psd', 'profile', '--draft', {str(tmp_path / 'nope')!r}, '--target', 'smollm2', "
            f"'--prompts', 'humaneval', '--output', {str(tmp_path / 'p.json')!r}])\n"
            "print('rc', rc, 'torch' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "rc 2 False" in out.stdout, out.stdout + out.stderr
    assert "--draft: model not found" in out.stderr


def test_psd_latency_prints_a_summary_and_json_on_request(tmp_path, capsys):
    import json

    from uara.cli import main
    from uara.scenario.random_instance import random_instance
    from uara.solvers import get_solver

    inst = random_instance(6, 2, slots=2, seed=3)
    inst.save(tmp_path / "i.json")
    get_solver("tma").solve(inst).save(tmp_path / "s.json")
    assert main(["psd", "latency", str(tmp_path / "s.json"), "-i", str(tmp_path / "i.json")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) <= 8 and out[0].startswith("PSD end-to-end latency over 2 slot(s)")
    assert any("critical path, mean per task: device" in line for line in out)
    assert main(["psd", "latency", str(tmp_path / "s.json"), "-i", str(tmp_path / "i.json"), "--json"]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert f"mean {rec['mean_s']:.4f} s" in "\n".join(out) and len(rec["per_device_s"]) == 6
