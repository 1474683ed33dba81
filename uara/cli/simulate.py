"""`uara simulate`: an episode, the state rolled forward with the solver's own decisions."""

from __future__ import annotations

import argparse

from uara.model.shared.formats import EPISODE_FORMAT, INSTANCE_FORMAT
from uara.cli._common import add_server_model_argument, load_instance, with_server_model
from uara.io import check_not_input, check_output_path, parse_key_values


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "simulate",
        help="roll battery and server backlog forward slot by slot with a solver's decisions",
        description=(
            "Start from slot 0's state of INSTANCE; at each slot solve the rolled state with --solver, then roll "
            "battery and backlog forward with its decisions (docs/model.md, 'Dynamics across slots'). Prints one "
            f"line per slot; --output writes the {EPISODE_FORMAT} JSON."
        ),
    )
    p.add_argument("instance", help=f"instance JSON ({INSTANCE_FORMAT})")
    p.add_argument("--solver", "-s", default="tma", help="back-end name (see `uara solvers`)")
    p.add_argument("--slots", type=int, default=None, help="stop after this many slots (default: all)")
    p.add_argument("--time-limit", type=float, default=None, metavar="S", help="seconds for the whole episode")
    p.add_argument("--seed", type=int, default=0, help="episode seed (default 0)")
    p.add_argument("--threads", type=int, default=1, help="threads a back-end may use (default 1)")
    p.add_argument("--option", "-o", action="append", metavar="KEY=VALUE", help="solver option, repeatable")
    p.add_argument("--param", action="append", metavar="NAME=VALUE", help="override an instance parameter, e.g. energy_weight=60")
    p.add_argument("--no-latency", action="store_true", help="skip the PSD end-to-end latency per slot")
    add_server_model_argument(p)
    p.add_argument("--output", "-O", default=None, metavar="FILE", help="write the episode JSON here (atomically)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from uara.experiments.episode import SLOT_HEADER, format_slot, run_episode
    from uara.io import atomic_write_json

    if args.output is not None:
        check_output_path(args.output, "--output")  # before any work, not after it
        check_not_input(args.output, [args.instance])
    inst = load_instance(args.instance)
    if args.param:
        raw = parse_key_values(args.param, "--param")
        inst = inst.with_params(**raw)
    inst = with_server_model(inst, args.server_model)
    print(f"episode  {inst.name}  ({inst.num_devices} devices, {inst.num_servers} servers, {inst.num_slots} slots)  solver {args.solver}  seed {args.seed}")
    print(SLOT_HEADER)
    ep = run_episode(
        inst, args.solver, options=parse_key_values(args.option, "--option"), seed=args.seed, time_limit=args.time_limit,
        threads=args.threads, num_slots=args.slots, latency=not args.no_latency,
        on_slot=lambda rec: print(format_slot(rec), flush=True),
    )
    print(f"total    I = {ep.objective:.10g}  (I - C = {ep.objective - ep.constant:.8g})  status {ep.status.value}  time {ep.wall_time_s:.3f} s")
    if args.output:
        atomic_write_json(args.output, ep.to_dict())
        print(f"wrote {args.output}")
    return 1 if ep.status.value == "error" else 0
