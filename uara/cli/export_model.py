"""`uara export`: one slot's P1 model as a file for one's own solver (lp, mps, nl, cvxpy-json)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export", help="write one slot's MISOCP as an LP/MPS/NL file or as cvxpy's conic data",
        description="Write slot --slot of INSTANCE as the MISOCP that `exact` solves (objective I - C over the usable "
                    "pairs; docs/solvers.md): lp, mps, nl through Pyomo's writers, or cvxpy-json (cvxpy's conic data "
                    "with the pair index and C). A pairs file (OUTPUT.pairs.json) says which (device, server) each x "
                    "is and holds C, to decode a solution.")
    p.add_argument("instance", help="P1 instance JSON")
    p.add_argument("--slot", type=int, default=0, help="slot index (default 0)")
    p.add_argument("--format", "-f", required=True, choices=["lp", "mps", "nl", "cvxpy-json"], help="file format")
    p.add_argument("--relax", action="store_true", help="cvxpy-json only: the continuous relaxation (x in [0, 1])")
    p.add_argument("--output", "-O", required=True, metavar="FILE", help="the model file (written atomically)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from uara.io import atomic_write_json, check_not_input, check_output_path
    from uara.model.instance import Instance
    from uara.solvers.model_export import export_info, write_model

    check_output_path(args.output, "--output")
    check_not_input(args.output, [args.instance])
    inst = Instance.load(args.instance)
    info = export_info(inst, args.slot)
    path = write_model(inst, args.slot, args.output, args.format, relax=args.relax)
    pairs = atomic_write_json(f"{args.output}.pairs.json", info.to_dict())
    print(f"wrote {path} ({args.format}: slot {args.slot} of {inst.name}, {info.device.size} usable pairs; objective "
          f"I - C with C = {info.constant:.10g}) and {pairs}")
    return 0
