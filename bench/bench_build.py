"""Bench: build m60_e8 (60 devices, 8 servers, 10 slots, Sionna RT on etoile, seed 0); print time and peak memory.

    python bench/bench_build.py                 # the shipped configuration
    python bench/bench_build.py --threads 0     # ray tracing on every core (faster, not bit-reproducible)

Also reports whether the result is identical to the shipped instances/m60_e8.json
(the rebuild-from-provenance check of the shipped set).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1, help="Dr.Jit threads while tracing (default 1; 0 = all)")
    ap.add_argument("--slots", type=int, default=10)
    args = ap.parse_args()

    import os

    from uara.scenario.builder import build_instance
    from uara.scenario.channels.llvm import ensure_llvm
    from uara.model.instance import dumps_instance

    t0 = time.perf_counter()
    ensure_llvm()
    t_probe = time.perf_counter() - t0
    opts = dict(devices=60, servers=8, slots=args.slots, channel="sionna-rt", scene="etoile", seed=0)
    if args.threads != 1:
        opts["channel_options"] = {"threads": args.threads}
    t1 = time.perf_counter()
    inst = build_instance(progress=True, **opts)
    t_build = time.perf_counter() - t1
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    stats = inst.provenance["build_stats"]
    shipped = ROOT / "instances" / "m60_e8.json"
    same = shipped.exists() and dumps_instance(inst) == shipped.read_text()
    print(f"machine: {os.cpu_count()} cores; ray-tracing threads: {args.threads or os.cpu_count()}")
    print(f"libLLVM self-test: {t_probe:.1f} s")
    print(f"build m60_e8, {args.slots} slots: {t_build:.1f} s ({t_build / args.slots:.1f} s per slot, "
          f"slot 0 traces {60 + stats['spare_positions']} positions)")
    print(f"peak memory (max RSS of this process): {peak_mib:.0f} MiB")
    print(f"no-path pairs per slot: {stats['no_path_pairs']} of {60 * 8}; held moves {sum(stats['held_moves'])}; "
          f"resampling rounds {stats['resample_rounds']}; dropped {stats['dropped_devices']}")
    if args.slots == 10 and args.threads == 1:
        print(f"identical to {shipped.relative_to(ROOT)}: {'yes' if same else 'NO'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
