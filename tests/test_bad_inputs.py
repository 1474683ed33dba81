"""A corpus of bad or edge inputs, every subcommand: each gets a one-line error naming the problem
and a non-zero exit, never a traceback, and nothing is written where the output would have gone.

Run in process through ``uara.cli.main`` (an uncaught exception fails the test as a traceback would).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from uara.cli import main
from uara.io import dumps_json
from uara.scenario.random_instance import random_instance
from uara.solvers import get_solver


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("bad")
    inst = random_instance(6, 2, slots=2, seed=4)
    inst.save(d / "inst.json")
    sol = json.loads(dumps_json(get_solver("tma").solve(inst).to_dict()))
    (d / "sol.json").write_text(json.dumps(sol))
    raw = json.loads((d / "inst.json").read_text())

    def variant(name: str, mutate) -> None:
        data = json.loads(json.dumps(raw))
        mutate(data)
        (d / name).write_text(json.dumps(data))

    variant("str_gain.json", lambda x: x["slots"][0]["gain_db"][0].__setitem__(0, "-100"))
    variant("unknown_key.json", lambda x: x["devices"][0].__setitem__("batery_capacity_j", 5.0))
    variant("tiny_flops.json", lambda x: x["devices"][0].__setitem__("flops", 1e-300))
    variant("huge_bits.json", lambda x: x["slots"][0]["tasks"][0].__setitem__("bits", 1e300))
    variant("tiny_battery.json", lambda x: x["slots"][1]["battery"].__setitem__(1, 1e-300))
    variant("wrong_format.json", lambda x: x.__setitem__("format", "uara-instance/9"))
    variant("neg_queue.json", lambda x: x["slots"][0]["queue_s"].__setitem__(0, -1.0))

    def sol_variant(name: str, mutate) -> None:
        data = json.loads(json.dumps(sol))
        mutate(data)
        (d / name).write_text(json.dumps(data))

    sol_variant("sol_str_objective.json", lambda x: x.__setitem__("objective", "12"))
    sol_variant("sol_frac_assoc.json", lambda x: x["slots"][0]["association"].__setitem__(0, 0.5))
    sol_variant("sol_str_assoc.json", lambda x: x["slots"][0]["association"].__setitem__(1, "1"))
    sol_variant("sol_str_wall.json", lambda x: x.__setitem__("wall_time_s", "fast"))
    sol_variant("sol_fingerprint.json", lambda x: x.__setitem__("instance_fingerprint", "0" * 16))
    sol_variant("sol_slot_objective.json", lambda x: x["slots"][1].__setitem__("objective", x["slots"][1]["objective"] * 2))
    sol_variant("sol_shares.json", lambda x: x["slots"][0].__setitem__("bandwidth_share", [1.1] * 6))
    sol_variant("sol_bound.json", lambda x: x["slots"][0].__setitem__("lower_bound", x["slots"][0]["objective"] * 2))
    sol_variant("sol_short.json", lambda x: x["slots"].pop())
    (d / "malformed.json").write_text('{"format": "uara-instance/1", ')
    (d / "empty.json").write_text("")
    (d / "deep.json").write_text("[" * 100000 + "]" * 100000)
    (d / "a_file").write_text("x")
    (d / "a_folder").mkdir()
    (d / "no_table").mkdir()
    _p1_variants(d, raw, sol)
    _pipeline_variants(d)
    return {p.name: p for p in d.iterdir()} | {"dir": d}


def _write_variant(path: Path, data: dict, mutate) -> None:
    copy = json.loads(json.dumps(data))
    mutate(copy)
    path.write_text(json.dumps(copy))


def _p1_variants(d: Path, raw: dict, sol: dict) -> None:
    """P1 files the loader must refuse (issue 22, items 5 and 6), and a few that must not be written over."""
    import numpy as np

    from uara.model.instance import Instance

    _write_variant(d / "dup_device.json", raw, lambda x: x["devices"][1].__setitem__("name", x["devices"][0]["name"]))
    _write_variant(d / "dup_server.json", raw, lambda x: x["servers"][1].__setitem__("name", x["servers"][0]["name"]))
    _write_variant(d / "loud_noise.json", raw, lambda x: x["params"].__setitem__("noise_dbm_per_hz", 100.0))
    _write_variant(d / "psd_key.json", raw, lambda x: x["slots"][0]["tasks"][0].__setitem__("psd", {"bogus": 1}))
    _write_variant(d / "prov_huge.json", raw, lambda x: x.__setitem__("provenance", {
        "format": "uara-build/1", "builder": "uara.scenario.builder.build_instance",
        "build": {"devices": 10**8, "servers": 8, "slots": 1, "channel": "free-space", "seed": 0}}))
    text = (d / "inst.json").read_text()
    (d / "bigint.json").write_text(text.replace('"name"', '"x": ' + "9" * 5000 + ', "name"', 1))
    _write_variant(d / "sol_topkey.json", sol, lambda x: x.__setitem__("bogus_top", 1))
    rng = np.random.default_rng(0)
    Instance.from_arrays(gain_db=-rng.uniform(80, 120, (2000, 4)), device_flop_rate=5e10, server_flop_rate=1e14,
                         tx_power_dbm=20, bits=1e6, device_work_flop=1e10, server_work_flop=1e11,
                         name="m2000").save(d / "m2000.json")
    (d / "dangling.json").symlink_to(d / "no_such_folder" / "deeper" / "x.json")


def _pipeline_variants(d: Path) -> None:
    """Pipeline instances with values out of their physical ranges (issue 22, items 3 and 5)."""
    from uara.scenario.pipeline_builder import random_pipeline_instance

    inst = random_pipeline_instance(4, seed=2)
    inst.save(d / "pipe.json")
    raw = inst.to_dict()
    for name, path, value in (
        ("p_output.json", ("users", 0, "output_tokens"), 10**12),
        ("p_rate_tiny.json", ("users", 0, "rate_bps"), 5e-324),
        ("p_rate_huge.json", ("users", 0, "rate_bps"), 1e308),
        ("p_membw.json", ("sbs", "memory_bandwidth_bytes_per_s"), 1e308),
        ("p_flops.json", ("mbs", "flops"), 1e-300),
        ("p_prompt.json", ("users", 1, "prompt_tokens"), 10**12),
        ("p_weights.json", ("models", "draft", "weight_bytes"), 1e300),
        ("p_fronthaul.json", ("link", "fronthaul_bps"), 1e-300),
        ("p_downlink.json", ("link", "downlink_latency_s"), 1e9),
        ("p_token_bits.json", ("link", "token_bits"), 0),
        ("p_alpha.json", ("users", 2, "alpha"), -0.1),
        ("p_context.json", ("models", "target", "flops_per_context_token"), 1e30),
    ):
        def mutate(x: dict, path=path, value=value) -> None:
            node = x
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = value

        _write_variant(d / name, raw, mutate)


# (argv with {name} placeholders for fixture files, words the one-line error must contain)
CASES = [
    # ---- solve
    ("solve {dir}/missing.json", "not found"),
    ("solve {malformed.json}", "malformed JSON"),
    ("solve {empty.json}", "empty file"),
    ("solve {deep.json}", "nested too deeply"),
    ("solve {a_folder}", "is a folder"),
    ("solve {str_gain.json}", "slots[0].gain_db[0][0]: expected a number, got str"),
    ("solve {unknown_key.json}", "devices[0].batery_capacity_j: unknown field"),
    ("solve {tiny_flops.json}", "devices[0].flops"),
    ("solve {huge_bits.json}", "slots[0].tasks[0].bits"),
    ("solve {tiny_battery.json}", "slots[1].battery[1]"),
    ("solve {wrong_format.json}", "format: expected 'uara-instance/1'"),
    ("solve {neg_queue.json}", "slots[0].queue_s[0]"),
    ("solve {inst.json} --solver nope", "unknown solver 'nope'"),
    ("solve {inst.json} --solver max-sinr+bogus", "unknown allocation"),
    ("solve {inst.json} --solver exact+exact", "takes no allocation suffix"),
    ("solve {inst.json} -o nope=1", "has no option 'nope'"),
    ("solve {inst.json} -o oops", "--option expects KEY=VALUE"),
    ("solve {inst.json} -o rtol=-1", "option rtol must be in [0, 1)"),
    ("solve {inst.json} -o rtol=abc", "option 'rtol' expects float"),
    ("solve {inst.json} -o max_swaps=1.5", "option 'max_swaps' expects int"),
    ("solve {inst.json} --solver brute-force -o chunk=0", "option chunk must be >= 1"),
    ("solve {inst.json} --solver brute-force -o max_assignments=10", "exceeds max_assignments"),
    ("solve {inst.json} --solver price -o max_cg_iterations=0", "max_cg_iterations must be >= 1"),
    ("solve {inst.json} --solver price -o smoothing=1.5", "smoothing must be in [0, 1)"),
    ("solve {inst.json} --solver exact -o gap=2", "option gap must be in [0, 1)"),
    ("solve {inst.json} --solver exact -o time_limit=5", "has no option 'time_limit'"),
    ("solve {inst.json} --solver relax -o solver=gurobi_nope", "option solver must be one of"),
    ("solve {inst.json} --solver relax -o samples=-1", "samples must be >= 0"),
    ("solve {inst.json} --solver masac --policy {dir}/none.pt", "no policy checkpoint at"),
    ("solve {inst.json} --solver masac-uara -o final_allocation=magic", "final_allocation must be one of"),
    ("solve {inst.json} --time-limit 0", "--time-limit must be positive"),
    ("solve {inst.json} --time-limit -3", "--time-limit must be positive"),
    ("solve {inst.json} --seed -1", "--seed must be a non-negative integer"),
    ("solve {inst.json} --threads 0", "--threads must be a positive integer"),
    ("solve {inst.json} --bound nope", "unknown bound method 'nope'"),
    ("solve {inst.json} -O {a_folder}", "is a folder"),
    ("solve {inst.json} -O {a_file}/x.json", "is a file, not a folder"),
    ("solve {inst.json} -O {dir}/" + "x" * 300 + ".json", "at most 255"),
    # ---- inspect, solvers
    ("inspect {dir}/missing.json", "not found"),
    ("inspect {str_gain.json}", "expected a number, got str"),
    ("solvers --options nope", "unknown solver 'nope'"),
    # ---- validate
    ("validate {sol_str_objective.json} -i {inst.json}", "objective: expected a number"),
    # ---- export
    ("export {inst.json} --slot 99 --format lp -O {dir}/m.lp", "slot: expected an integer in"),
    ("export {malformed.json} --format mps -O {dir}/m.mps", "malformed JSON"),
    ("export {inst.json} --format lp --relax -O {dir}/m.lp", "--relax: only the cvxpy-json export"),
    ("validate {sol_frac_assoc.json} -i {inst.json}", "slots[0].association[0]: expected an integer"),
    ("validate {sol_str_assoc.json} -i {inst.json}", "slots[0].association[1]: expected an integer"),
    ("validate {sol_str_wall.json} -i {inst.json}", "wall_time_s: expected a finite number"),
    ("validate {sol_fingerprint.json} -i {inst.json}", "instance_fingerprint: solution was made for instance"),
    ("validate {sol_slot_objective.json} -i {inst.json}", "slots[1].objective: claims"),
    ("validate {sol_shares.json} -i {inst.json}", "slots[0]: infeasible"),
    ("validate {sol_bound.json} -i {inst.json}", "slots[0].lower_bound"),
    ("validate {sol_short.json} -i {inst.json}", "slots: expected 2 slots"),
    ("validate {malformed.json} -i {inst.json}", "malformed JSON"),
    ("validate {inst.json} -i {inst.json}", "format: expected 'uara-solution/1'"),
    # ---- build
    ("build --check", "--check needs --from-provenance"),
    ("build --channel free-space -q", "--output FILE is required"),
    ("build --channel free-space -c exponent -O {dir}/b.json", "--channel-option expects KEY=VALUE"),
    ("build --channel free-space --devices 0 -O {dir}/b.json", "devices: expected an integer >= 1"),
    ("build --channel free-space --seed -2 -O {dir}/b.json", "seed: expected an integer >= 0"),
    ("build --channel free-space --speed 5,1 -O {dir}/b.json", "speed_mps"),
    ("build --channel free-space --battery-range 0,2 -O {dir}/b.json", "battery_range"),
    ("build --channel free-space --params nope -O {dir}/b.json", "unknown parameter set 'nope'"),
    ("build --channel free-space --param lamda=1 -O {dir}/b.json", "params.lamda: unknown field"),
    ("build --channel free-space --param energy_weight=abc -O {dir}/b.json", "params.energy_weight: expected a number"),
    ("build --channel free-space --scene etoile -O {dir}/b.json", "only the sionna-rt channel uses a scene"),
    ("build --channel free-space --task-option gama=4 -O {dir}/b.json", "gama"),
    ("build --channel nope -O {dir}/b.json", "nope"),
    ("build --from-provenance {dir}/missing.json", "not found"),
    ("build --from-provenance {inst.json} --check -O {a_file}/x.json", "is a file, not a folder"),
    # ---- simulate
    ("simulate {inst.json} --seed -1 --no-latency", "--seed must be a non-negative integer"),
    ("simulate {inst.json} --param energy_weight=abc --no-latency", "params.energy_weight: expected a number"),
    ("simulate {inst.json} --param foo=1 --no-latency", "params.foo: unknown field"),
    ("simulate {inst.json} --solver nope --no-latency", "unknown solver 'nope'"),
    # ---- compare
    ("compare {inst.json} --time-limit 0 -O {dir}/cmp", "--time-limit must be positive"),
    ("compare {inst.json} --seeds=-1 -O {dir}/cmp", "--seeds must be a non-negative integer"),
    ("compare {inst.json} --threads 0 -O {dir}/cmp", "--threads must be a positive integer"),
    ("compare {inst.json} --workers 0 -O {dir}/cmp", "--workers must be a positive integer"),
    ("compare {inst.json} --param foo=1 -O {dir}/cmp", "params.foo: unknown field"),
    ("compare {inst.json} --param energy_weight=x -O {dir}/cmp", "values must be numbers"),
    ("compare {inst.json} --solvers nope -O {dir}/cmp", "unknown solver 'nope'"),
    ("compare {inst.json} -o tma:oops -O {dir}/cmp", "expects KEY=VALUE"),
    ("compare {inst.json} -o tma:rtol=-1 -O {dir}/cmp", "rtol must be in [0, 1)"),
    ("compare {dir}/missing.json -O {dir}/cmp", "instance not found"),
    ("compare {inst.json} --executor dask -O {dir}/cmp", "--executor dask needs --scheduler"),
    # ---- report
    ("report {dir}/missing_folder", "not found"),
    ("report {no_table}", "no results table"),
    # ---- train
    ("train masac --output {a_file}/x.pt", "is a file, not a folder"),
    ("train masac --batch-size 0", "--batch-size must be >= 1"),
    ("train masac --seed -1", "--seed must be >= 0"),
    ("train masac --instances {dir}/missing", "no such file or folder"),
    # ---- psd
    ("psd simulate --profile nope", "profile not found: nope"),
    ("psd simulate --tasks 0", "--tasks must be an integer >= 1"),
    ("psd simulate --seed -1", "--seed must be an integer >= 0"),
    ("psd simulate --alpha 2", "acceptance.alpha"),
    ("psd simulate --protocol bogus", "unknown name 'bogus'"),
    ("psd simulate --uplink-mbps 0", "--uplink-mbps must be positive"),
    ("psd latency {dir}/missing.json -i {inst.json}", "not found"),
    # ---- issue 22: the pipeline family's physical ranges, sizes and guards
    ("solve {p_output.json} --time-limit 5", "users[0].output_tokens: expected an integer in [1, 1e+06] tokens"),
    ("solve {p_rate_tiny.json}", "users[0].rate_bps: 5e-324 is outside the plausible range"),
    ("solve {p_rate_huge.json}", "users[0].rate_bps: 1e+308 is outside the plausible range"),
    ("solve {p_membw.json}", "sbs.memory_bandwidth_bytes_per_s: 1e+308 is outside"),
    ("solve {p_flops.json}", "mbs.flops: 1e-300 is outside"),
    ("solve {p_prompt.json}", "users[1].prompt_tokens: expected an integer in [1, 1e+07]"),
    ("solve {p_weights.json}", "models.draft.weight_bytes: 1e+300 is outside"),
    ("solve {p_fronthaul.json}", "link.fronthaul_bps: 1e-300 is outside"),
    ("solve {p_downlink.json}", "link.downlink_latency_s: 1000000000.0 is outside"),
    ("solve {p_token_bits.json}", "link.token_bits: expected an integer in [1, 64]"),
    ("solve {p_alpha.json}", "users[2].alpha: -0.1 is outside [0, 1]"),
    ("solve {p_context.json}", "models.target.flops_per_context_token: 1e+30 is outside"),
    ("inspect {p_rate_tiny.json}", "users[0].rate_bps"),
    ("solve {pipe.json} --bound relax", "--bound: the bound methods are P1's"),
    ("solve {pipe.json} --solver tma", "solver 'tma' solves P1 instances"),
    ("solve {inst.json} --solver pipeline-dp", "solver 'pipeline-dp' solves pipeline instances"),
    ("solve {pipe.json} -o bandwidth=zz", "option 'bandwidth' expects one of closed-form, uniform"),
    ("solve {pipe.json} -o lengths=99", "speculation length 99 is not a candidate"),
    ("solve {pipe.json} --time-limit 0", "--time-limit must be positive"),
    ("solve {pipe.json} --seed -1", "--seed must be a non-negative integer"),
    ("solve {pipe.json} -O {pipe.json}", "is also an input of this command"),
    ("compare {pipe.json} -s pipeline-dp -o pipeline-dp:nope=1 -O {dir}/cmp", "has no option 'nope'"),
    ("compare {pipe.json} -s pipeline-dp -o pipeline-dp:order=zz -O {dir}/cmp", "option 'order' expects one of"),
    ("compare {pipe.json} -s tma -O {dir}/cmp", "pipeline instances need pipeline-* solvers"),
    ("validate {sol.json} -i {pipe.json}", "format: expected 'uara-instance/1'"),
    ("build --problem pipeline --users 0 -O {dir}/b.json", "users: expected an integer in [1, 100,000]"),
    ("build --problem pipeline --users 200000 -O {dir}/b.json", "users: expected an integer in [1, 100,000]"),
    ("build --problem pipeline --users 4 --seed -1 -O {dir}/b.json", "seed: expected an integer in [0,"),
    ("build --problem pipeline --users 4 --channel nope -O {dir}/b.json", "unknown channel 'nope'"),
    # ---- issue 22: P1 inputs accepted silently before, sizes, huge numbers
    ("solve {dup_device.json}", "devices[1].name: 'd0' is also the name of devices[0]"),
    ("solve {dup_server.json}", "servers[1].name: 's0' is also the name of servers[0]"),
    ("solve {loud_noise.json}", "params.noise_dbm_per_hz: 100.0 dBm/Hz is outside [-220, -100]"),
    ("solve {psd_key.json}", "slots[0].tasks[0].psd.bogus: unknown field"),
    ("solve {bigint.json}", "an integer literal of 5000 digits"),
    ("inspect {bigint.json}", "an integer literal of 5000 digits"),
    ("validate {sol_topkey.json} -i {inst.json}", "bogus_top: unknown field of a solution"),
    ("solve {m2000.json} --solver brute-force", "4^2000 = 10^1204.1 associations exceeds max_assignments"),
    ("solve {inst.json} --seed 99999999999999999999", "at most 2^63 - 1"),
    ("simulate {inst.json} --seed 99999999999999999999 --no-latency", "at most 2^63 - 1"),
    ("solve {inst.json} --solver brute-force -o max_assignments=nan", "max_assignments"),
    # ---- issue 22: outputs
    ("solve {inst.json} -O {inst.json}", "inst.json: is also an input of this command"),
    ("simulate {inst.json} -O {inst.json} --no-latency", "is also an input of this command"),
    ("build --from-provenance {inst.json} -O {inst.json}", "is also an input of this command"),
    ("solve {inst.json} -O {empty}", "--output: empty path"),
    ("solve {inst.json} -O -", "--output '-': not a file name"),
    ("solve {inst.json} -O {dangling.json}", "whose folder does not exist"),
    ("solve {inst.json} -O /dev/full -q", "cannot write /dev/full: No space left on device"),
    ("build --channel free-space -c exponent=nan -O {dir}/b.json", "channel option exponent: expected a number"),
    ("build --channel free-space --devices 200000 -O {dir}/b.json", "devices: 200000 is more than 100,000"),
    ("build --channel free-space --devices 100000 --servers 100 --slots 100 -O {dir}/b.json", "channel gains"),
    ("build --from-provenance {prov_huge.json} -O {dir}/b.json", "devices: 100000000 is more than 100,000"),
    # ---- issue 22: compare arguments
    ("compare {inst.json} --seeds 99999999999999999999 -O {dir}/cmp2", "at most 2^63 - 1"),
    ("compare {inst.json} -o nope:x=1 -s max-sinr -O {dir}/cmp2", "solver 'nope' is not among the solvers run"),
    ("compare {inst.json} -o tma:rtol=0.1 -s max-sinr -O {dir}/cmp2", "solver 'tma' is not among the solvers run"),
    ("compare {inst.json} --solvers= -O {dir}/cmp2", "--solvers: no solver named"),
    ("report {sol.json}", "not a results table"),
    ("report {inst.json}", "not a results table"),
    # ---- issue 22: training hyperparameters, checked before any step
    ("train masac --gamma nan", "--gamma must be in [0, 1)"),
    ("train masac --gamma 1", "--gamma must be in [0, 1)"),
    ("train masac --policy-lr -1", "--policy-lr must be a positive number"),
    ("train masac --q-lr inf", "--q-lr must be a positive number"),
    ("train masac --tau 0", "--tau must be in (0, 1]"),
    ("train masac --alpha 0", "--alpha must be a positive number"),
    ("train masac --learning-starts -1", "--learning-starts must be >= 0"),
    # ---- issue 22: psd
    ("psd simulate --draft-length 0", "--draft-length must be an integer in [1, 64]"),
    ("psd simulate --latency-ms -1", "--latency-ms must be a finite number >= 0"),
    ("psd simulate --downlink-mbps nan", "--downlink-mbps must be positive"),
    ("psd latency {sol.json} -i {inst.json} --downlink-mbps 0", "--downlink-mbps must be positive"),
    ("psd simulate --server-tflops 0", "--server-tflops must be positive"),
    ("psd simulate --queue-s -1", "--queue-s must be a finite number >= 0"),
    ("train masac --beta-y nan", "--beta-y must be a finite number >= 0"),
    ("train masac --init-scale 0", "--init-scale must be a positive number"),
    ("inspect {p_output.json}", "users[0].output_tokens"),
    ("compare {p_rate_huge.json} -s pipeline-dp -O {dir}/cmp2", "users[0].rate_bps: 1e+308 is outside"),
    ("build --channel free-space --slots 20000 -O {dir}/b.json", "slots: 20000 is more than 10,000"),
    ("build --channel free-space --servers 5000 -O {dir}/b.json", "servers: 5000 is more than 1,000"),
]


def _argv(template: str, files: dict[str, Path]) -> list[str]:
    out = []
    for tok in template.split():
        tok = tok.replace("{empty}", "")
        for key, path in files.items():
            tok = tok.replace("{" + key + "}", str(path))
        assert "{" not in tok, tok
        out.append(tok)
    return out


def test_the_corpus_is_large_and_covers_every_subcommand():
    from uara.cli import COMMANDS

    assert len(CASES) >= 60
    covered = {c[0].split()[0] for c in CASES}
    assert set(COMMANDS) <= covered, set(COMMANDS) - covered


@pytest.mark.parametrize("template, words", CASES, ids=[c[0][:60] for c in CASES])
def test_bad_input_gets_one_line_naming_it(template, words, files, capsys):
    before = {p.name for p in files["dir"].iterdir()}
    rc = main(_argv(template, files))
    err = capsys.readouterr().err.strip().splitlines()
    assert rc != 0
    assert err and err[-1].startswith("uara: error: "), err
    assert words in err[-1], err[-1]
    assert len(err) == 1, f"more than one line: {err}"
    assert {p.name for p in files["dir"].iterdir()} <= before | {"cmp"}, "something was written"
    assert not (files["dir"] / "no_such_folder").exists(), "a folder was made through a dangling symlink"
