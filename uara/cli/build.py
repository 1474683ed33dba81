"""``uara build``: make an instance from a channel model (Sionna RT by default), or rebuild one.

    uara build --devices 60 --servers 8 --slots 10 --channel sionna-rt --scene etoile --seed 0 \\
               --output instances/m60_e8.json
    uara build --from-provenance instances/m60_e8.json --output /tmp/again.json
    uara build --from-provenance instances/m60_e8.json --check      # exit 1 unless identical
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from uara.model.shared.formats import INSTANCE_FORMAT
from uara.errors import UaraError
from uara.io import check_not_input, check_output_path
from uara.scenario.build_spec import add_arguments, from_arguments


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "build", help="build an instance from Sionna RT / 3GPP / free-space channels, or rebuild one",
        description=f"Build an instance ({INSTANCE_FORMAT}): hardware from the catalog, servers on rooftops and "
                    "devices on streets (ray tracing) or in an open area, random-waypoint mobility, one task per "
                    "device and slot. The file's provenance rebuilds it bit for bit (--from-provenance).")
    p.add_argument("--problem", choices=["p1", "pipeline"], default="p1",
                   help="p1 (default): a P1 instance; pipeline: a pipelined serving instance (docs/pipeline.md) with "
                        "--users, --channel, --scene, --seed, --catalog")
    p.add_argument("--users", "-k", type=int, default=None, metavar="K", help="with --problem pipeline: number of users")
    add_arguments(p)  # one flag per BuildSpec field (uara/scenario/build_spec.py)
    p.add_argument("--output", "-O", default=None, metavar="FILE", help="where to write the instance JSON (atomically)")
    p.add_argument("--from-provenance", default=None, metavar="FILE",
                   help="rebuild from the provenance of an instance file (or a provenance JSON); other build "
                        "options are ignored")
    p.add_argument("--check", action="store_true",
                   help="with --from-provenance: compare the rebuild with FILE and exit 1 if they differ")
    p.add_argument("--channel-cache", default=None, metavar="DIR",
                   help="cache channel results here by their exact inputs (e.g. ~/.cache/uara/channels): re-making "
                        "an instance after changing tasks, hardware or parameters skips the ray tracing")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _summary(inst: Any) -> str:
    gains = np.stack([s.gain_db for s in inst.slots])
    floor = inst.params.gain_floor_db
    ok = gains > floor
    med = float(np.median(gains[ok])) if ok.any() else float("nan")
    return (f"{inst.num_devices} devices, {inst.num_servers} servers, {inst.num_slots} slots; "
            f"no-path pairs {100 * (1 - ok.mean()):.1f} %, median gain {med:.1f} dB")


def run(args: argparse.Namespace) -> int:
    if args.output is not None:
        check_output_path(args.output, "--output")  # before any work, not after it
        check_not_input(args.output, [args.from_provenance, getattr(args, 'catalog', None), getattr(args, 'scene', None)])
    if args.from_provenance and Path(args.from_provenance).is_file():
        from uara.model.shared.family import family_of_file

        if family_of_file(args.from_provenance).name == "pipeline":
            from uara.cli._pipeline import rebuild as rebuild_pipeline

            return rebuild_pipeline(args)
    if args.problem == "pipeline":
        from uara.cli._pipeline import build as build_pipeline

        return build_pipeline(args)
    if args.users is not None:
        raise UaraError("--users is for --problem pipeline; a P1 instance has --devices")
    from uara.model.instance import dumps_instance
    from uara.scenario.builder import build_instance, rebuild

    t0 = time.perf_counter()
    if args.from_provenance:
        inst = rebuild(args.from_provenance, progress=not args.quiet, channel_cache=args.channel_cache)
        if args.check:
            with open(args.from_provenance, encoding="utf-8") as fh:
                original = fh.read()
            same = dumps_instance(inst) == original
            print(f"{args.from_provenance}: rebuild {'identical' if same else 'DIFFERS'} "
                  f"({time.perf_counter() - t0:.1f} s)")
            if not same:
                _explain_difference(original, inst)
                return 1
            if not args.output:
                return 0
    else:
        if args.check:
            raise UaraError("--check needs --from-provenance FILE")
        if not args.output:
            raise UaraError("--output FILE is required (where to write the instance)")
        inst = build_instance(from_arguments(args), progress=not args.quiet, channel_cache=args.channel_cache)
    if not args.output:
        raise UaraError("--output FILE is required (where to write the instance)")
    inst.save(args.output)
    print(f"wrote {args.output}: {_summary(inst)} ({time.perf_counter() - t0:.1f} s)")
    return 0


def _explain_difference(original: str, inst: Any) -> None:
    """Print the first differing top-level field (and slot) of a failed --check."""
    try:
        a = json.loads(original)
    except json.JSONDecodeError:
        print("  the original file is not valid JSON", file=sys.stderr)
        return
    b = inst.to_dict()
    for key in a.keys() | b.keys():
        if key == "slots" and isinstance(a.get(key), list):
            for t, (sa, sb) in enumerate(zip(a["slots"], b["slots"])):
                if json.dumps(sa, sort_keys=True) != json.dumps(sb, sort_keys=True):
                    diff = [k for k in sa.keys() | sb.keys() if json.dumps(sa.get(k)) != json.dumps(sb.get(k))]
                    print(f"  slots[{t}] differs in {sorted(diff)}", file=sys.stderr)
                    return
        elif json.dumps(a.get(key), sort_keys=True) != json.dumps(b.get(key), sort_keys=True):
            print(f"  field {key!r} differs", file=sys.stderr)
            return
