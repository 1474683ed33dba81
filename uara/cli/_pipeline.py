"""The pipelined serving problem on the command line: what `uara build`, `solve`, `inspect` and
`validate` do when the file is a ``PIPELINE_INSTANCE_FORMAT`` (docs/pipeline.md)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import numpy as np

from uara.errors import SolverError, UaraError
from uara.io import dumps_json, parse_key_values
from uara.model.pipeline.serving_instance import PipelineInstance


def build(args: argparse.Namespace) -> int:
    """``uara build --problem pipeline --users K --channel C --seed S --output F``."""
    from uara.scenario.pipeline_builder import PipelineBuildSpec, build_pipeline_instance

    if not args.output:
        raise UaraError("--output FILE is required (where to write the instance)")
    if args.users is None:
        raise UaraError("--users K is required with --problem pipeline")
    ignored = [flag for flag, dest in (("--devices", "spec_devices"), ("--servers", "spec_servers"),
                                       ("--slots", "spec_slots")) if getattr(args, dest, None) is not None]
    if ignored:
        raise UaraError(f"{ignored[0]} is a P1 option; a pipeline instance has --users and one SBS/MBS pair")
    changes: dict[str, Any] = {"users": args.users, "seed": args.spec_seed or 0}
    if args.spec_channel:
        changes["channel"] = args.spec_channel
    if args.spec_scene:
        changes["scene"] = args.spec_scene
    if args.spec_channel_options:
        changes["channel_options"] = parse_key_values(args.spec_channel_options, "--channel-option")
    if args.spec_catalog:
        changes["catalog"] = args.spec_catalog
    if args.spec_name:
        changes["name"] = args.spec_name
    t0 = time.perf_counter()
    inst = build_pipeline_instance(PipelineBuildSpec(**changes))
    inst.save(args.output)
    r = inst.rate_bps
    print(f"wrote {args.output}: pipeline, {inst.num_users} users, uplink rate {r.min() / 1e6:.3g}-{r.max() / 1e6:.3g} "
          f"Mbit/s, SBS {inst.sbs.label}, MBS {inst.mbs.label} ({time.perf_counter() - t0:.1f} s)")
    return 0


def rebuild(args: argparse.Namespace) -> int:
    """``uara build --from-provenance P.json [--check] [--output F]`` for a pipeline instance."""
    from uara.io import read_json
    from uara.model.pipeline.serving_instance import dumps_pipeline_instance
    from uara.scenario.pipeline_builder import PipelineBuildSpec, build_pipeline_instance

    t0 = time.perf_counter()
    data = read_json(args.from_provenance, what="instance file")
    spec = (data.get("provenance") or {}).get("build")
    if not isinstance(spec, dict):
        raise UaraError(f"{args.from_provenance}: provenance.build: missing (the file was not made by uara build)")
    inst = build_pipeline_instance(PipelineBuildSpec.from_dict(spec))
    if args.check:
        with open(args.from_provenance, encoding="utf-8") as fh:
            same = dumps_pipeline_instance(inst) == fh.read()
        print(f"{args.from_provenance}: rebuild {'identical' if same else 'DIFFERS'} ({time.perf_counter() - t0:.1f} s)")
        if not same:
            return 1
    if args.output:
        inst.save(args.output)
        print(f"wrote {args.output}")
    elif not args.check:
        raise UaraError("--output FILE is required (where to write the instance)")
    return 0


def solve(args: argparse.Namespace, inst: PipelineInstance) -> int:
    from uara.cli._common import emit_solution
    from uara.psd.simulation.serving_events import event_check_or_reason
    from uara.solvers import get_solver, problem_of

    if getattr(args, "bound", None):
        raise UaraError(f"--bound: the bound methods are P1's; {args.instance} is a pipeline instance "
                        "(pipeline-brute-force proves its optimum)")
    name = args.solver or "pipeline-dp"
    if problem_of(name) != "pipeline":
        raise SolverError(f"solver '{name}' solves P1 instances; {args.instance} is a pipeline instance "
                          "(try --solver pipeline-dp; `uara solvers` lists both families)")
    options = parse_key_values(args.option, "--option")
    solver = get_solver(name, **options)
    log = None if args.quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))
    sol = solver.solve(inst, time_limit=args.time_limit, seed=args.seed, log=log)
    if sol.feasible:
        checked, why = event_check_or_reason(inst, sol.decision)
        if checked is None:
            sol.info["event_driven_check"] = why
        else:
            sol.info["event_driven_objective_s"] = checked
    if sol.decision is not None and sol.decision.batches:
        from uara.model.pipeline.schedule import batch_peak_bytes

        peak = batch_peak_bytes(inst, sol.decision)
        sol.info["peak_memory_bytes_worst_batch"] = float(peak.max())
    record = json.loads(dumps_json(sol.to_dict()))
    return emit_solution(args, record, sol.save, lambda: summary(inst, sol), list(sol.evaluation.violations))


def summary(inst: PipelineInstance, sol: Any) -> str:
    from uara.psd.simulation.serving_events import EVENT_DRAWS

    ev, dec = sol.evaluation, sol.decision
    what = "sum of users' completion times" if inst.objective == "sum" else "makespan"
    lines = [f"instance   {inst.name}  (pipeline, {inst.num_users} users)",
             f"solver     {sol.solver}  status {sol.status.value}  time {sol.wall_time_s:.3f} s",
             f"objective  {sol.objective_s:.10g} s ({what}); mean latency {ev.completion_s.mean():.4g} s, "
             f"max {ev.completion_s.max():.4g} s"]
    if "event_driven_objective_s" in sol.info:
        e = sol.info["event_driven_objective_s"]
        lines.append(f"check      event-driven simulation {e:.10g} s (mean of {EVENT_DRAWS} replays, each drawing every "
                     f"user's rounds; relative difference {abs(e - sol.objective_s) / max(sol.objective_s, 1e-300):.1e})")
    elif "event_driven_check" in sol.info:
        lines.append(f"check      {sol.info['event_driven_check']}")
    if "peak_memory_bytes_worst_batch" in sol.info:
        cap = inst.mbs.memory_bytes
        lines.append(f"memory     worst batch needs {sol.info['peak_memory_bytes_worst_batch'] / 1e9:.2f} GB on the MBS "
                     f"(weights + peak KV cache); the MBS has "
                     f"{'no stated limit' if cap is None else f'{cap / 1e9:.2f} GB'}")
    lines.append(f"bandwidth  {dec.bandwidth_mode} shares, min {dec.shares.min():.3g}, max {dec.shares.max():.3g}")
    for m, (b, g, s) in enumerate(zip(dec.batches, dec.speculation_length, dec.micro_batches)):
        if m == 8:
            more = len(dec.batches) - 8
            lines.append(f"  ... {more} more batch{'es' if more != 1 else ''}")
            break
        lines.append(f"  batch {m}: {len(b)} users, gamma {g}, {s} micro-batch{'es' if s > 1 else ''}, "
                     f"ready {ev.batch_ready_s[m]:.4g} s, start {ev.batch_start_s[m]:.4g} s, end {ev.batch_end_s[m]:.4g} s")
    if "exact_over" in sol.info:
        lines.append(f"exact over {sol.info['exact_over']}")
    return "\n".join(lines)


def inspect(inst: PipelineInstance, as_json: bool) -> int:
    from uara.solvers import get_solver

    ref = get_solver("pipeline-dp").solve(inst)
    stats = {"users": inst.num_users, "objective": inst.objective, "speculation_lengths": list(inst.speculation_lengths),
             "rate_mbps": {"min": float(inst.rate_bps.min() / 1e6), "median": float(np.median(inst.rate_bps) / 1e6),
                           "max": float(inst.rate_bps.max() / 1e6)},
             "prompt_tokens_mean": float(inst.prompt_tokens.mean()), "output_tokens_mean": float(inst.output_tokens.mean()),
             "alpha_mean": float(inst.alpha.mean()), "sbs": inst.sbs.to_dict(), "mbs": inst.mbs.to_dict(),
             "reference": {"solver": "pipeline-dp", "objective_s": ref.objective_s,
                           "mean_latency_s": float(ref.evaluation.completion_s.mean())}}
    if as_json:
        print(json.dumps({"name": inst.name, **stats, "provenance": dict(inst.provenance)}, indent=1))
        return 0
    r = stats["rate_mbps"]
    print(f"{inst.name}: pipeline instance, {inst.num_users} users, objective {inst.objective}, "
          f"lengths {stats['speculation_lengths']}")
    print(f"  uplink rate (whole band) {r['min']:.3g} / {r['median']:.3g} / {r['max']:.3g} Mbit/s (min/median/max)")
    print(f"  prompts {stats['prompt_tokens_mean']:.1f} tokens, outputs {stats['output_tokens_mean']:.1f} tokens, "
          f"alpha {stats['alpha_mean']:.3f} (means)")
    print(f"  SBS {inst.sbs.label} ({inst.draft.name}), MBS {inst.mbs.label} ({inst.target.name})")
    print(f"  pipeline-dp: {ref.objective_s:.6g} s, mean latency {stats['reference']['mean_latency_s']:.4g} s")
    return 0


def validate(record: dict, instance_path: str) -> int:
    from uara.model.pipeline.serving_solution import verify_serving_solution

    inst = PipelineInstance.load(instance_path)
    ev = verify_serving_solution(record, inst)
    print(f"ok: the solution is feasible for {inst.name}; objective {ev.objective_s:.12g} s recomputed and matches the file")
    return 0
