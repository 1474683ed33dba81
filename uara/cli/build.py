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
from typing import Any

import numpy as np

from uara.errors import UaraError
from uara.io import parse_key_values


def _pair(text: str) -> tuple[float, float]:
    parts = text.split(",")
    try:
        vals = tuple(float(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LOW,HIGH numbers, got {text!r}") from None
    if len(vals) == 1:
        vals = (vals[0], vals[0])
    if len(vals) != 2:
        raise argparse.ArgumentTypeError(f"expected LOW,HIGH, got {text!r}")
    return vals  # type: ignore[return-value]


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "build", help="build an instance from Sionna RT / 3GPP / free-space channels, or rebuild one",
        description="Build an instance (uara-instance/1): hardware from the catalog, servers on rooftops and "
                    "devices on streets (ray tracing) or in an open area, random-waypoint mobility, one task per "
                    "device and slot. The file's provenance rebuilds it bit for bit (--from-provenance).")
    p.add_argument("--devices", "-m", type=int, default=60, help="M, number of devices (default 60)")
    p.add_argument("--servers", "-e", type=int, default=8, help="E, number of edge servers (default 8)")
    p.add_argument("--slots", "-t", type=int, default=10, help="T, number of time slots (default 10)")
    p.add_argument("--channel", default="sionna-rt",
                   help="sionna-rt (default), sionna-umi, sionna-uma or free-space")
    p.add_argument("--scene", default=None,
                   help="Sionna RT scene: built-in name (etoile, munich, florence, simple_street_canyon, ...) or "
                        "XML file (default etoile)")
    p.add_argument("--seed", type=int, default=0, help="seed of every random draw (default 0)")
    p.add_argument("--channel-option", "-c", action="append", metavar="KEY=VALUE",
                   help="channel option, repeatable (e.g. samples_per_src=300000, diffraction=false, threads=0)")
    p.add_argument("--catalog", default=None, metavar="FILE", help="hardware catalog (uara-catalog/1); default built-in")
    p.add_argument("--device-kinds", default=None, metavar="K1,K2", help="restrict device kinds (catalog names)")
    p.add_argument("--server-kinds", default=None, metavar="K1,K2", help="restrict server kinds (catalog names)")
    p.add_argument("--tasks", default="psd",
                   help="task sampler: psd (default; PSD profiles of uara.psd) or parametric (uara/scenario/task_sources.py)")
    p.add_argument("--task-option", action="append", metavar="KEY=VALUE",
                   help="task sampler option, repeatable (psd: profiles=gpt2, protocol=topk:64, draft_length=8, ...)")
    p.add_argument("--params", default=None, metavar="SET", help="named parameter set (default, paper-table1-literal)")
    p.add_argument("--param", action="append", metavar="KEY=VALUE",
                   help="override a parameter (bandwidth_hz, lambda, energy_weight, slot_s, ...), repeatable")
    p.add_argument("--speed", type=_pair, default=(0.5, 1.5), metavar="LOW,HIGH",
                   help="device speed range in m/s (default 0.5,1.5; 0 keeps devices still)")
    p.add_argument("--max-resample", type=int, default=10,
                   help="rounds of new slot-0 positions for devices that reach no server before dropping them")
    p.add_argument("--name", default=None, help="instance name (default m{M}_e{E})")
    p.add_argument("--output", "-o", default=None, metavar="FILE", help="where to write the instance JSON")
    p.add_argument("--from-provenance", default=None, metavar="FILE",
                   help="rebuild from the provenance of an instance file (or a provenance JSON); other build "
                        "options are ignored")
    p.add_argument("--check", action="store_true",
                   help="with --from-provenance: compare the rebuild with FILE and exit 1 if they differ")
    p.add_argument("--channel-cache", default=None, metavar="DIR",
                   help="cache channel results here by their exact inputs (e.g. .uara-cache/channels): re-making "
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
    from uara.scenario.builder import build_instance, rebuild
    from uara.model.instance import dumps_instance

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
        params: Any = args.params
        overrides = parse_key_values(args.param, "--param")
        if overrides:
            from uara.model.instance import PARAMETER_SETS

            if args.params and args.params not in PARAMETER_SETS:
                raise UaraError(f"--params: unknown parameter set {args.params!r}; known: {', '.join(PARAMETER_SETS)}")
            base = PARAMETER_SETS[args.params or "default"].to_dict()
            base.update(overrides)
            params = base
        inst = build_instance(
            devices=args.devices, servers=args.servers, slots=args.slots, channel=args.channel, scene=args.scene,
            seed=args.seed, channel_options=parse_key_values(args.channel_option, "--channel-option"),
            catalog=args.catalog,
            device_kinds=args.device_kinds.split(",") if args.device_kinds else None,
            server_kinds=args.server_kinds.split(",") if args.server_kinds else None,
            tasks=args.tasks, task_options=parse_key_values(args.task_option, "--task-option"), params=params,
            speed_mps=args.speed, max_resample=args.max_resample, name=args.name, progress=not args.quiet,
            channel_cache=args.channel_cache,
        )
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
