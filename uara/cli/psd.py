"""`uara psd`: speculative-decoding profiles, timeline simulation, Fig. 2.

Sub-commands: ``profile`` (measure a local model pair), ``simulate`` (one
profile through the timeline simulator), ``figure2`` (the seed paper's Fig. 2),
``profiles`` (list the shipped ones), ``latency`` (end-to-end latency of a
solution file), ``declared`` (rewrite the declared GPT2 profiles),
``build-draft`` (distil the SmolLM2 draft).
"""

from __future__ import annotations

import argparse
import math
import json
import sys

from uara.model.shared.formats import PSD_VALIDATION_FORMAT, SOLUTION_FORMAT
from uara.errors import UaraError
from uara.cli._common import add_server_model_argument


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("psd", help="speculative decoding: profiles, simulator, Fig. 2",
                       description=__doc__.splitlines()[0])
    psub = p.add_subparsers(dest="psd_command", metavar="SUBCOMMAND")
    p.set_defaults(func=lambda a: (p.print_help(), 2)[1])

    _add_profile(psub)
    _add_simulate(psub)
    _add_figure2(psub)
    _add_profiles(psub)
    _add_latency(psub)
    _add_declared(psub)
    _add_validate_real(psub)
    _add_validate_contention(psub)
    _add_build_draft(psub)


def _add_profile(psub: argparse._SubParsersAction) -> None:
    """``uara psd profile``."""
    q = psub.add_parser("profile", help="measure a (draft, target) pair on prompts -> profile JSON",
                        description="Run greedy SD/PSD with a local Hugging Face pair on prompts, check it is lossless "
                                    "against the target's own greedy output, record acceptance traces, write a profile.")
    q.add_argument("--draft", required=True, help="draft model: local folder, .gguf file, a Hugging Face id in the "
                                                  "local cache (org/name), or 'smollm2'")
    q.add_argument("--target", required=True, help="target model: local folder, .gguf file, a Hugging Face id in the "
                                                   "local cache (org/name), or 'smollm2'")
    q.add_argument("--prompts", required=True, help="humaneval, mtbench, jsonl:PATH or PATH.jsonl")
    q.add_argument("--output", "-O", required=True, help="profile JSON to write")
    q.add_argument("--split", default="eval", choices=["all", "train", "eval"], help="prompt split (default eval)")
    q.add_argument("--limit", type=int, default=None, help="first N prompts of the split")
    q.add_argument("--field", default=None, help="JSONL field holding the text")
    q.add_argument("--name", default=None, help="profile name (default: output file stem)")
    q.add_argument("--task-type", default=None, choices=["code", "summarisation", "chat"])
    q.add_argument("--draft-length", type=int, default=8)
    q.add_argument("--mode", default="psd", choices=["sd", "psd"])
    q.add_argument("--no-pre-verify", action="store_true")
    q.add_argument("--max-new-tokens", type=int, default=128)
    q.add_argument("--protocol", default="full@4", help="default payload protocol written into the profile")
    q.add_argument("--style", default="auto", choices=["auto", "chat", "raw"], help="prompt rendering")
    q.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    q.set_defaults(func=run_profile)


def _add_simulate(psub: argparse._SubParsersAction) -> None:
    """``uara psd simulate``."""
    s = psub.add_parser("simulate", help="simulate tasks of a profile on the timeline simulator",
                        description="Simulate N tasks drawn from a profile at given speeds; print the mean latency "
                                    "and its breakdown for each mode.")
    s.add_argument("--profile", default="gpt2_code", help="shipped profile name or JSON path")
    s.add_argument("--mode", default="both", choices=["sd", "psd", "both"])
    s.add_argument("--draft-length", type=int, default=None)
    s.add_argument("--adaptive", action="store_true", help="adaptive draft length (+2 on full acceptance, -1 else)")
    s.add_argument("--no-pre-verify", action="store_true")
    s.add_argument("--no-stream", action="store_true", help="send each block only once drafted")
    s.add_argument("--protocol", default=None, help="ids, full, full@4, topk:K, split ...")
    s.add_argument("--alpha", type=float, default=None, help="replace the acceptance by i.i.d. alpha")
    s.add_argument("--device-gflops", type=float, default=70.0, help="effective phone GFLOP/s")
    s.add_argument("--server-tflops", type=float, default=25.0, help="effective server TFLOP/s (z * F)")
    s.add_argument("--verify-call-ms", type=float, default=0.0, help="fixed server time per verification")
    s.add_argument("--uplink-mbps", type=float, default=50.0)
    s.add_argument("--downlink-mbps", type=float, default=100.0)
    s.add_argument("--latency-ms", type=float, default=10.0, help="one-way link latency per message")
    s.add_argument("--queue-s", type=float, default=0.0)
    s.add_argument("--tasks", type=int, default=1000)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(func=run_simulate)


def _add_figure2(psub: argparse._SubParsersAction) -> None:
    """``uara psd figure2``."""
    f = psub.add_parser("figure2", help="reproduce the seed paper's Fig. 2 (PNG + JSON)")
    f.add_argument("--output", "-O", default="results/figure2", help="output folder")
    f.add_argument("--profiles", nargs="+", default=["gpt2_code", "gpt2_summarisation"],
                   help="profile names/paths (one per task type)")
    f.add_argument("--tasks", type=int, default=400)
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--protocol", default=None)
    f.set_defaults(func=run_figure2)


def _add_profiles(psub: argparse._SubParsersAction) -> None:
    """``uara psd profiles``."""
    ls = psub.add_parser("profiles", help="list the shipped profiles")
    ls.set_defaults(func=run_profiles)


def _add_latency(psub: argparse._SubParsersAction) -> None:
    """``uara psd latency``."""
    lt = psub.add_parser("latency", help="end-to-end latency of a solution file",
                         description="Simulate every slot of SOLUTION on INSTANCE with the PSD simulator (docs/psd.md) and "
                                     "print the mean, median and p95 end-to-end latency and where the critical path's "
                                     "time goes; --json prints the whole record (per device, per stage).")
    lt.add_argument("solution", help=f"solution JSON ({SOLUTION_FORMAT})")
    lt.add_argument("--instance", "-i", required=True, help="the instance the solution is for")
    lt.add_argument("--protocol", default=None, help="PSD protocol (default: the instance's tasks' own)")
    lt.add_argument("--latency-ms", type=float, default=10.0, help="one-way link latency in ms (default 10)")
    add_server_model_argument(lt)
    lt.add_argument("--downlink-mbps", type=float, default=100.0, help="downlink rate in Mbit/s (default 100)")
    lt.add_argument("--json", action="store_true", help="print the whole latency record as JSON")
    lt.set_defaults(func=run_latency)


def _add_declared(psub: argparse._SubParsersAction) -> None:
    """``uara psd declared``."""
    d = psub.add_parser("declared", help="write the declared GPT2/GPT2-XL profiles")
    d.add_argument("--output", "-O", default="psd/profiles")
    d.set_defaults(func=run_declared)


def _add_validate_real(psub: argparse._SubParsersAction) -> None:
    """``uara psd validate-real``."""
    v = psub.add_parser("validate-real", help="hold the simulator against real two-process runs over a shaped link",
                        description="Run the draft (phone) and the target (server) in two processes pinned to two cores, "
                                    "over a shaped local link, with the real payload of each protocol; calibrate on "
                                    "train-split prompts, predict eval-split runs with the simulator, write "
                                    f"validation.json ({PSD_VALIDATION_FORMAT}), runs.jsonl and a plot. See docs/psd.md.")
    v.add_argument("--draft", default="~/.cache/uara/drafts/smollm2-135m-draft4",
                   help="draft model folder (default: the distilled SmolLM2 draft of `uara psd build-draft`)")
    v.add_argument("--target", default="smollm2", help="target model: 'smollm2', a folder or a .gguf file")
    v.add_argument("--output", "-O", default="results/psd/validation")
    v.add_argument("--prompts-per-source", type=int, default=5, help="validation prompts per source (HumanEval, MT-bench)")
    v.add_argument("--calibration-per-source", type=int, default=2)
    v.add_argument("--max-new-tokens", type=int, default=48)
    v.add_argument("--delay-ms", type=float, default=5.0, help="one-way link delay (ms)")
    v.add_argument("--draft-length", type=int, default=4)
    v.add_argument("--reuse-runs", action="store_true",
                   help="re-analyse OUTPUT/runs.jsonl (calibration, predictions, comparison) without new runs")
    v.set_defaults(func=run_validate_real)


def _add_validate_contention(psub: argparse._SubParsersAction) -> None:
    """``uara psd validate-contention``."""
    v = psub.add_parser("validate-contention", help="hold the batched server model against real concurrent runs",
                        description="N = 1, 2, 4, 8 trace-driven clients (each replaying its draft's recorded tokens "
                                    "and draft times) against one target server that batches their verifications "
                                    "into real forward passes, over shaped links; calibrate on N = 1, 2 and train-split "
                                    "prompts, predict the other runs with the batched and the reserved server models, "
                                    f"write validation.json ({PSD_VALIDATION_FORMAT}), runs.jsonl and traces.jsonl. "
                                    "See docs/server.md.")
    v.add_argument("--draft", default="~/.cache/uara/drafts/smollm2-135m-draft4",
                   help="draft model folder whose tokens and times the clients replay (default: the distilled "
                        "SmolLM2 draft of `uara psd build-draft`)")
    v.add_argument("--target", default="smollm2", help="target model: 'smollm2', a folder or a .gguf file")
    v.add_argument("--output", "-O", default="results/psd/contention")
    v.add_argument("--rate-mbps", type=float, default=10.0, help="each client's link rate, both directions")
    v.add_argument("--delay-ms", type=float, default=5.0, help="one-way link delay (ms)")
    v.add_argument("--repeats", type=int, default=4, help="validation runs per (clients, protocol)")
    v.add_argument("--calibration-repeats", type=int, default=3, help="calibration runs per (clients, protocol)")
    v.add_argument("--seed", type=int, default=0)
    v.add_argument("--reuse-runs", action="store_true", help="re-analyse runs.jsonl and traces.jsonl, no new runs")
    v.set_defaults(func=run_validate_contention)


def _add_build_draft(psub: argparse._SubParsersAction) -> None:
    """``uara psd build-draft``."""
    b = psub.add_parser("build-draft", help="distil a same-tokenizer draft for SmolLM2 on CPU")
    b.add_argument("--output", "-O", default="~/.cache/uara/drafts/smollm2-135m-draft4")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--threads", type=int, default=1)
    b.add_argument("--gen-cpu-s", type=float, default=600.0, help="generation budget in CPU seconds")
    b.add_argument("--train-cpu-s", type=float, default=480.0, help="training budget in CPU seconds")
    b.set_defaults(func=run_build_draft)


def _resolve_models(*flags: tuple[str, str]) -> None:
    """Check each model name or path (standard library only) before anything imports torch."""
    from uara.psd.measure.hf import resolve

    for flag, spec in flags:
        try:
            resolve(spec)
        except UaraError as exc:
            raise UaraError(f"{flag}: {exc}") from None


def run_profile(args: argparse.Namespace) -> int:
    from pathlib import Path

    _resolve_models(("--draft", args.draft), ("--target", args.target))
    from uara.psd.measure import prompts as P
    from uara.psd.measure.profiling import profile_pair

    kw = {"field": args.field} if args.field else {}
    ps = P.load_prompts(args.prompts, args.split, args.limit, **kw)
    name = args.name or Path(args.output).stem
    prof, runs = profile_pair(
        args.draft, args.target, ps, name=name, task_type=args.task_type, draft_length=args.draft_length,
        mode=args.mode, pre_verify=not args.no_pre_verify, max_new_tokens=args.max_new_tokens,
        protocol=args.protocol, threads=args.threads, style=args.style,
        prompts_label=f"{args.prompts} ({args.split} split, {len(ps)} prompts)",
        log=lambda s: print(s, file=sys.stderr))
    prof.save(args.output)
    m = prof.measured or {}
    ll = m.get("lossless", {})
    print(f"wrote {args.output}: alpha {prof.acceptance.alpha:.3f}, tokens/round {m.get('tokens_per_round', 0):.2f}, "
          f"lossless {ll.get('passed')}/{ll.get('checked')}, blocks consistent with traces "
          f"{m.get('blocks_consistent_with_trace')}/{m.get('blocks_checked')}")
    return 0 if ll.get("passed") == ll.get("checked") else 1


def run_simulate(args: argparse.Namespace) -> int:
    import dataclasses

    import numpy as np

    from uara.psd.simulation.acceptance import Acceptance
    from uara.psd.workload.profiles import load_profile
    from uara.psd.simulation.simulator import Timing, simulate

    for flag, value, low in (("--tasks", args.tasks, 1), ("--seed", args.seed, 0)):
        if value < low:
            raise UaraError(f"{flag} must be an integer >= {low}, got {value}")
    if args.draft_length is not None and not 1 <= args.draft_length <= 64:
        raise UaraError(f"--draft-length must be an integer in [1, 64], got {args.draft_length}")
    _check_positive(("--device-gflops", args.device_gflops), ("--server-tflops", args.server_tflops),
                    ("--uplink-mbps", args.uplink_mbps), ("--downlink-mbps", args.downlink_mbps))
    _check_non_negative(("--latency-ms", args.latency_ms), ("--queue-s", args.queue_s),
                        ("--verify-call-ms", args.verify_call_ms))
    prof = load_profile(args.profile)
    if args.alpha is not None:
        prof = dataclasses.replace(prof, acceptance=Acceptance.iid(args.alpha))
    rng = np.random.default_rng(args.seed)
    n_out = prof.output_tokens.sample(rng, args.tasks)
    n_prompt = prof.prompt_tokens.sample(rng, args.tasks)
    ctx = prof.context_tokens(n_prompt, n_out)
    modes = ["sd", "psd"] if args.mode == "both" else [args.mode]
    decs = [prof.decoding(mode=m, draft_length=args.draft_length, protocol=args.protocol, adaptive=args.adaptive,
                          pre_verify=False if args.no_pre_verify else None,
                          stream_uplink=False if args.no_stream else None) for m in modes]
    length = int(n_out.max()) + max(d.max_block for d in decs) + 1
    ntr = len(prof.acceptance.trace_list)
    match = prof.acceptance.sample(args.tasks, length, rng, index=rng.integers(ntr, size=args.tasks) if ntr else None)
    timing = Timing(draft_s_per_token=prof.draft.flops_per_token(ctx) / (args.device_gflops * 1e9),
                    verify_s_per_position=prof.target.flops_per_token(ctx) / (args.server_tflops * 1e12),
                    verify_s_per_call=args.verify_call_ms / 1e3, uplink_bps=args.uplink_mbps * 1e6,
                    downlink_bps=args.downlink_mbps * 1e6, link_latency_s=args.latency_ms / 1e3, queue_s=args.queue_s)
    out = {}
    for dec in decs:
        out[dec.mode] = {"draft_length": dec.draft_length, "protocol": dec.protocol.spec,
                         **simulate(n_out, match, timing, dec).summary()}
    if args.json:
        print(json.dumps({"profile": prof.name, "alpha": prof.acceptance.alpha, "results": out}, indent=1))
        return 0
    print(f"profile {prof.name} ({prof.task_type}), alpha {prof.acceptance.alpha:.3f}, {args.tasks} tasks, "
          f"uplink {args.uplink_mbps:g} Mbit/s, one-way latency {args.latency_ms:g} ms")
    keys = ["draft_length", "latency_mean_s", "latency_p95_s", "critical_device_s", "critical_uplink_s",
            "critical_queue_s", "critical_server_s", "critical_downlink_s", "device_busy_s", "device_idle_s",
            "server_busy_s", "tokens_per_round", "rounds", "drafted_tokens", "uplink_bits"]
    print(f"{'':22s}" + "".join(f"{m.upper():>14s}" for m in out))
    for k in keys:
        print(f"{k:22s}" + "".join(f"{out[m][k]:>14.4g}" for m in out))
    return 0


def run_figure2(args: argparse.Namespace) -> int:
    import dataclasses

    from uara.psd.measure import figure2
    from uara.psd.workload.profiles import load_profile_set

    profs = load_profile_set(list(args.profiles))
    setup = dataclasses.replace(figure2.Fig2Setup(), n_tasks=args.tasks, seed=args.seed, protocol=args.protocol)
    data = figure2.write(profs, args.output, setup)
    for ttype, e in data["profiles"].items():
        for mode, m in e["modes"].items():
            sat = m["saturation_rate_bps"]
            print(f"{ttype:14s} {mode.upper():4s} best gamma {m['best_gamma']:>3d}  latency {m['best_latency_s']:.3f} s  "
                  f"saturation {'n/a' if sat is None else f'{sat / 1e6:g} Mbit/s'}")
    for p in data["files"]:
        print(f"wrote {p}")
    return 0


def run_profiles(args: argparse.Namespace) -> int:
    from uara.psd.workload.profiles import list_profiles, load_profile

    print(f"{'name':22s} {'type':14s} {'kind':9s} {'alpha':>6s} {'gamma':>5s} {'protocol':>9s} "
          f"{'GFLOP/tok d,t':>14s} {'out tok':>8s}  models")
    for n in list_profiles():
        p = load_profile(n)
        s = p.summary()
        print(f"{n:22s} {p.task_type:14s} {p.provenance.get('kind', '?'):9s} {p.acceptance.alpha:6.3f} "
              f"{p.draft_length:5d} {p.protocol.spec:>9s} "
              f"{s['draft_flops_per_token'] / 1e9:6.3f},{s['target_flops_per_token'] / 1e9:6.3f}  "
              f"{p.output_tokens.mean():8.1f}  {p.draft.name} -> {p.target.name}")
    return 0


def _check_positive(*flags: tuple[str, float]) -> None:
    for flag, value in flags:
        if not (value > 0 and math.isfinite(value)):
            raise UaraError(f"{flag} must be positive, got {value}")


def _check_non_negative(*flags: tuple[str, float]) -> None:
    for flag, value in flags:
        if not (value >= 0 and math.isfinite(value)):
            raise UaraError(f"{flag} must be a finite number >= 0, got {value}")


def run_latency(args: argparse.Namespace) -> int:
    from uara.model.instance import Instance
    from uara.io import dumps_json, read_json
    from uara.psd.latency import LatencyOptions, solution_latency

    _check_positive(("--downlink-mbps", args.downlink_mbps))
    _check_non_negative(("--latency-ms", args.latency_ms))
    inst = Instance.load(args.instance)
    data = read_json(args.solution, what="solution file")
    lat = solution_latency(inst, data, protocol=args.protocol,
                           options=LatencyOptions(downlink_bps=args.downlink_mbps * 1e6,
                                                  link_latency_s=args.latency_ms / 1e3,
                                                  server_model=args.server_model))
    lat.pop("per_slot", None)
    if args.json:
        print(dumps_json(lat), end="")
        return 0
    print(latency_summary(lat, len(data.get("slots", []))))
    return 0


def latency_summary(lat: dict, slots: int) -> str:
    """The few lines of ``uara psd latency``: the latency statistics, coverage and the critical path."""
    cov = lat.get("in_coverage") or {}
    b = lat.get("breakdown_mean_s") or {}
    lines = [f"PSD end-to-end latency over {slots} slot(s), server model {lat.get('server_model')} ({lat.get('simulator')})",
             f"  mean {lat['mean_s']:.4f} s, median {lat['median_s']:.4f} s, p95 {lat['p95_s']:.4f} s"
             + (f"; {len(lat['infinite'])} device-slot(s) never finish" if lat.get("infinite") else "")]
    if cov:
        lines.append(f"  in coverage: {100 * cov.get('share', 1.0):.1f} % of {cov.get('device_slots')} device-slots, "
                     f"mean {cov.get('mean_s', float('nan')):.4f} s")
    crit = {k.removeprefix("critical_").removesuffix("_s"): v for k, v in b.items() if k.startswith("critical_")}
    if crit:
        lines.append("  critical path, mean per task: " + ", ".join(f"{k} {v:.3f} s" for k, v in crit.items()))
    lines += [f"  note: {n}" for n in lat.get("notes") or []]
    lines.append("  (--json for the whole record: per device, per stage)")
    return "\n".join(lines)


def run_declared(args: argparse.Namespace) -> int:
    from uara.psd.workload.declared import write_declared

    for p in write_declared(args.output):
        print(f"wrote {p}")
    return 0


def run_validate_real(args: argparse.Namespace) -> int:
    from pathlib import Path

    draft = str(Path(args.draft).expanduser())
    if not Path(draft).is_dir():
        raise UaraError(f"--draft: no model folder at {draft} (build the SmolLM2 draft with `uara psd build-draft`)")
    _resolve_models(("--target", args.target))
    from uara.psd.testbed.validation_campaign import run_validation

    rec = run_validation(draft, args.target, args.output, calibration_per_source=args.calibration_per_source,
                         validation_per_source=args.prompts_per_source, max_new_tokens=args.max_new_tokens,
                         delay_s=args.delay_ms / 1000, draft_length=args.draft_length, reuse_runs=args.reuse_runs,
                         log=lambda s: print(s, file=sys.stderr, flush=True))
    for r in rec["settings"]:
        print(f"{r['protocol']:<10} {r['bandwidth_bps'] / 1e6:>6g} Mbit/s {r['mode']:<4} measured {r['measured_s']:.3f} s "
              f"predicted {r['predicted_s']:.3f} s error {r['error_pct']:+.1f} %")
    s = rec["summary"]
    print(f"median |error| {s['median_abs_err_pct']:.2f} %, p95 {s['p95_abs_err_pct']:.2f} %; lossless "
          f"{rec['lossless']['lossless']}/{rec['lossless']['runs']}; wrote {args.output}/validation.json")
    return 0


def run_validate_contention(args: argparse.Namespace) -> int:
    from pathlib import Path

    draft = str(Path(args.draft).expanduser())
    if not Path(draft).is_dir() and draft != "smollm2":
        raise UaraError(f"--draft: no model folder at {draft} (build the SmolLM2 draft with `uara psd build-draft`)")
    _resolve_models(("--target", args.target))
    from uara.psd.testbed.contention_campaign import run_contention

    rec = run_contention(draft, args.target, args.output, rate_bps=args.rate_mbps * 1e6, delay_s=args.delay_ms / 1000,
                         repeats=args.repeats, calibration_repeats=args.calibration_repeats, seed=args.seed,
                         reuse_runs=args.reuse_runs, log=lambda s: print(s, file=sys.stderr, flush=True))
    for r in rec["settings"]:
        print(f"{r['clients']} clients {r['protocol']:<8} measured {r['measured_s']:.3f} s batched {r['predicted_s']:.3f} s "
              f"({r['error_pct']:+.1f} %) reserved {r['reserved_predicted_s']:.3f} s ({r['reserved_error_pct']:+.1f} %)")
    s = rec["summary"]
    print(f"batched: median |error| {s['median_abs_err_pct']:.2f} %, p95 {s['p95_abs_err_pct']:.2f} %; reserved: median "
          f"{s['reserved']['median_abs_err_pct']:.2f} %, p95 {s['reserved']['p95_abs_err_pct']:.2f} %; lossless "
          f"{rec['lossless']['lossless']}/{rec['lossless']['runs']}; wrote {args.output}/validation.json")
    return 0


def run_build_draft(args: argparse.Namespace) -> int:
    from uara.psd.measure.draft_build import DraftBuildConfig, build_draft

    info = build_draft(DraftBuildConfig(output=args.output, seed=args.seed, threads=args.threads,
                                        gen_cpu_s=args.gen_cpu_s, train_cpu_s=args.train_cpu_s),
                       log=lambda s: print(s, file=sys.stderr, flush=True))
    print(json.dumps({k: info[k] for k in ("layers", "heldout_agreement", "total_s")}))
    return 0
