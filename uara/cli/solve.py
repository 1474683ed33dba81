"""`uara solve`: solve an instance with one back-end and write the solution JSON."""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from uara.model.shared.formats import INSTANCE_FORMAT, PIPELINE_INSTANCE_FORMAT, PIPELINE_SOLUTION_FORMAT, SOLUTION_FORMAT
from uara.cli._common import (add_run_arguments, add_server_model_argument, emit_solution, fmt, load_any_instance,
                              with_server_model)
from uara.errors import SolverError
from uara.io import check_not_input, check_output_path, dumps_json, parse_key_values


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "solve",
        help="solve an instance with one back-end",
        description=f"Solve every slot of INSTANCE with --solver and print a summary; --output writes the {SOLUTION_FORMAT} "
                    f"(or {PIPELINE_SOLUTION_FORMAT}) JSON.",
    )
    p.add_argument("instance", help=f"instance JSON ({INSTANCE_FORMAT}, or {PIPELINE_INSTANCE_FORMAT})")
    p.add_argument("--solver", "-s", default=None, help="back-end name, e.g. tma (the default for P1), max-sinr+exact, exact, relax, "
                                                        "masac; pipeline-dp (the default for pipeline instances), "
                                                        "pipeline-brute-force, pipeline-uniform (see `uara solvers`)")
    p.add_argument("--allocation", choices=["uniform", "exact"], default=None, help="allocation for association-only solvers")
    p.add_argument("--policy", default=None, help="policy checkpoint for --solver masac")
    add_run_arguments(p)
    p.add_argument("--output", "-O", default=None, metavar="FILE", help="write the solution JSON here (atomically)")
    p.add_argument("--json", action="store_true", help="print the solution JSON instead of the summary")
    p.add_argument("--no-latency", action="store_true", help="skip the PSD end-to-end latency simulation")
    add_server_model_argument(p)
    p.add_argument("--quiet", "-q", action="store_true", help="no per-slot progress lines on stderr")
    p.add_argument("--bound", nargs="?", const="relax", default=None, metavar="METHODS",
                   help="also score the solution against the best known lower bound of the instance, computing "
                        "the bounds of METHODS (comma-separated: relax, exact, price; default relax) where not "
                        "cached; cached bounds of every method count (see uara.experiments.bounds)")
    p.add_argument("--bound-time-limit", type=float, default=None, metavar="S",
                   help="seconds per slot and bound method; default: what --time-limit leaves after the solve, shared "
                        "among the bounds to compute, or 60 without --time-limit. Bounds are cached in the user cache "
                        "($UARA_CACHE_DIR or e.g. ~/.cache/uara), shared with `uara compare`")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from uara.solvers import get_solver, problem_of

    if args.output is not None:
        check_output_path(args.output, "--output")  # before any work, not after it
        check_not_input(args.output, [args.instance, args.policy])
    family, instance = load_any_instance(args.instance)
    if family.name == "pipeline":
        from uara.cli._pipeline import solve as solve_pipeline

        return solve_pipeline(args, instance)
    instance = with_server_model(instance, args.server_model)
    args.solver = args.solver or family.default_solver
    if problem_of(args.solver) != family.name:
        raise SolverError(f"solver '{args.solver}' solves {problem_of(args.solver)} instances; "
                          f"{args.instance} is a {family.name} instance")
    bound_methods = [m.strip() for m in args.bound.split(",") if m.strip()] if args.bound else []
    if bound_methods:
        from uara.experiments.bounds import check_methods

        check_methods(bound_methods)
    options = parse_key_values(args.option, "--option")
    if args.allocation:
        options["allocation"] = args.allocation
    if args.policy:
        options["policy"] = args.policy
    solver = get_solver(args.solver, **options)
    log = None if args.quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))
    started = time.monotonic()
    solution = solver.solve(instance, time_limit=args.time_limit, seed=args.seed, threads=args.threads, log=log)
    if args.bound:
        left = None if args.time_limit is None else max(0.0, args.time_limit - (time.monotonic() - started))
        attach_best_bound(instance, solution, methods=bound_methods, time_limit=args.bound_time_limit,
                          budget_s=left, threads=args.threads, log=log)
    if not args.no_latency:
        attach_latency(instance, solution)
    record = json.loads(dumps_json(solution.to_dict()))  # exactly what is written
    if solution.feasible:
        from uara.model.verify import verify_solution

        verify_solution(record, instance)  # the same honesty check as `uara validate`
    return emit_solution(args, record, solution.save, lambda: summary(instance, solution),
                         [] if solution.feasible else list(solution.violations))


def attach_latency(instance, solution) -> None:
    """Fill ``solution.latency`` from the PSD simulator when it is installed (a failure is a note, not a crash)."""
    from uara.psd.latency_floor import latency_with_floor

    found, note = latency_with_floor(instance, solution)
    solution.latency = found if found is not None else {"mean_s": None, "p95_s": None, "note": note}


#: seconds per slot and bound method without --time-limit or --bound-time-limit
DEFAULT_BOUND_S = 60.0
#: the least a bound task is given when --time-limit leaves less (relax needs a moment for its dual)
MIN_BOUND_S = 1.0


def bound_budget(n_tasks: int, time_limit: float | None, budget_s: float | None) -> tuple[float, str]:
    """(seconds per bound task, where that figure comes from): ``--bound-time-limit`` when given, else the
    time ``--time-limit`` left after the solve shared among the tasks (at least ``MIN_BOUND_S``), else 60."""
    if time_limit is not None:
        return float(time_limit), "--bound-time-limit"
    if budget_s is not None:
        return max(MIN_BOUND_S, budget_s / max(1, n_tasks)), f"the {budget_s:.1f} s --time-limit left after the solve"
    return DEFAULT_BOUND_S, "the default; --time-limit or --bound-time-limit to change"


def attach_best_bound(instance, solution, *, methods=("relax",), time_limit: float | None = None,
                      budget_s: float | None = None, threads: int = 1, log=None) -> None:
    """Record the best known lower bound (uara.experiments.bounds) and the gap to it in ``solution.info``;
    the bounds not cached are computed with :func:`bound_budget` seconds each, and ``log`` gets the
    budget first, then one line per bound with k/N and the ETA."""
    from uara.experiments.bounds import best_lower_bound, missing_pairs, record_bound
    from uara.model.solution import relative_gap

    base = solution.solver.partition("+")[0].partition("[")[0]
    for t, dec in enumerate(solution.slots):  # the run's own proven bounds: not recomputed below
        if dec.lower_bound is not None:
            record_bound(instance, t, base, dec.lower_bound, time_s=dec.info.get("wall_time_s"))
    n = len(missing_pairs(instance, methods))
    per_task, why = bound_budget(n, time_limit, budget_s)
    if n and log is not None:
        log(f"bounds: {n} to compute ({', '.join(methods)} x {instance.num_slots} slots, cached ones skipped), "
            f"at most {per_task:.3g} s each ({why})")
    bounds = best_lower_bound(instance, methods=methods, time_limit=per_task, threads=threads, log=log)
    own = [s.lower_bound for s in solution.slots]
    best = [max((b for b in (lb, o) if b is not None), default=None) for lb, o in zip(bounds, own)]
    if any(b is None for b in best):
        return
    total = float(sum(best))  # type: ignore[arg-type]
    solution.info["best_lower_bound"] = total
    solution.info["gap_to_best_bound"] = relative_gap(solution.objective, total, solution.constant)


def _split_line(controllable: float, b: dict) -> str:
    """I - C as its latency part (server + sync) and its energy part (communication energy; compute energy is in C)."""
    lat = (b.get("server_s") or 0.0) + (b.get("sync_penalty") or 0.0)
    energy = b.get("energy_comm") or 0.0
    share = f" ({100 * energy / controllable:.1f} % of I - C)" if controllable else ""
    return f"  I - C by part    latency {fmt(lat, 8)} (server + sync), energy {fmt(energy, 8)} (comm){share}"


def summary(instance, solution) -> str:
    b = solution.breakdown()
    lines = [
        f"instance   {instance.name}  ({instance.num_devices} devices, {instance.num_servers} servers, {instance.num_slots} slot{'s' if instance.num_slots != 1 else ''})",
        f"solver     {solution.solver}  status {solution.status.value}  time {solution.wall_time_s:.3f} s"
        + ("  (optimal over the usable links: docs/model.md, coverage)" if solution.status.value == "optimal" else ""),
        f"objective  I = {fmt(solution.objective, 10)}   (constant C = {fmt(solution.constant, 10)}; controllable I - C = {fmt(solution.objective - solution.constant, 8)})",
        f"  device compute   sum a_i                  {fmt(b.get('device_s'), 8)}",
        f"  server           sum q_j + f/(z F)        {fmt(b.get('server_s'), 8)}",
        f"  sync penalty     lambda sum (a_i - T_i)^2 {fmt(b.get('sync_penalty'), 8)}",
        f"  energy           w sum E/B                {fmt(b.get('energy'), 8)}  (compute {fmt(b.get('energy_compute'), 8)}, comm {fmt(b.get('energy_comm'), 8)})",
        _split_line(solution.objective - solution.constant, b),
        f"lower bound {fmt(solution.lower_bound, 10)}   gap {('%.4g %%' % (100 * solution.gap)) if solution.gap is not None else 'n/a'} (of the controllable part; bounds hold over the usable links)",
    ]
    if "gap_to_best_bound" in solution.info:
        lines.append(f"best known bound {fmt(solution.info['best_lower_bound'], 10)}   gap to it "
                     f"{100 * solution.info['gap_to_best_bound']:.4g} % (of the controllable part)")
    lat = solution.latency
    if lat and lat.get("mean_s") is not None:
        lines.append(f"latency    PSD end-to-end mean {lat['mean_s']:.3f} s, p95 {lat['p95_s']:.3f} s")
        if lat.get("gap_to_floor") is not None:
            own = lat.get("floor_own_length_mean_s")
            lines.append(f"           certified floor {lat['floor_mean_s']:.3f} s (each device alone on its best server at its "
                         f"best draft length in 1..8, no contention); gap to it {100 * lat['gap_to_floor']:.1f} %"
                         + (f"; at the tasks' own draft length {own:.3f} s" if own is not None else ""))
        g = [s.draft_length for s in solution.slots if s.draft_length is not None]
        if g:
            counts = np.bincount(np.concatenate(g))
            lines.append("draft      per-device lengths chosen (latency-aware UARA): "
                         + ", ".join(f"{k}: {c}" for k, c in enumerate(counts) if c))
        cov = lat.get("in_coverage")
        if cov and cov.get("share", 1.0) < 1.0:
            lines.append(f"           in coverage ({100 * cov['share']:.1f} % of device-slots, best-server SNR >= -6 dB): "
                         f"mean {cov['mean_s']:.3f} s, median {cov['median_s']:.3f} s, p95 {cov['p95_s']:.3f} s")
    return "\n".join(lines)
