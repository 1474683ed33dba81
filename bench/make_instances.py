"""Build the shipped instance set and write instances/README.md with its channel statistics.

    python bench/make_instances.py                 # build the missing files, then write the README
    python bench/make_instances.py --only m60_e8    # one file
    python bench/make_instances.py --readme        # statistics only (no building)
    python bench/make_instances.py --force         # rebuild everything

The set is the paper's scales: M in {30, 60, 90, 120, 150, 180} with E = 8 and
E in {4, 8, 12, 16, 20} with M = 60, each with T = 10 slots, Sionna RT on the
etoile scene with the builder's defaults and seed 0. Build times of builds that
traced every slot go to results/instances/build_times.json (not into the instances,
which must rebuild bit for bit). Channel results are cached in .uara-cache/channels (keyed by their
exact inputs), so re-making the set after a change of the task model or the
catalog takes seconds instead of hours of ray tracing.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from uara.model.instance import Instance  # noqa: E402

OUT = ROOT / "instances"
SHIPPED = [(60, 8)] + [(m, 8) for m in (30, 90, 120, 150, 180)] + [(60, e) for e in (4, 12, 16, 20)]
OPTIONS = dict(slots=10, channel="sionna-rt", scene="etoile", seed=0)


CACHE = ROOT / ".uara-cache" / "channels"


def build_one(m: int, e: int) -> tuple[float, bool]:
    """Build and save one instance; returns (seconds, traced) where traced is True when every
    slot was ray traced now (no cached channel results), i.e. the time is a real build time."""
    from uara.scenario.builder import build_instance

    before = len(list(CACHE.glob("*.npz"))) if CACHE.exists() else 0
    t0 = time.perf_counter()
    inst = build_instance(devices=m, servers=e, progress=True, channel_cache=CACHE, **OPTIONS)
    inst.save(OUT / f"{inst.name}.json")
    new = len(list(CACHE.glob("*.npz"))) - before
    return time.perf_counter() - t0, new >= inst.num_slots


def is_current(path: Path, m: int, e: int) -> bool:
    if not path.exists():
        return False
    try:
        prov = json.loads(path.read_text())["provenance"]
        build = prov["build"]
    except (KeyError, json.JSONDecodeError):
        return False
    want = dict(OPTIONS, devices=m, servers=e)
    return all(build.get(k) == v for k, v in want.items())


def stats(inst: Instance) -> dict:
    """Row of the README table: channel statistics from :func:`uara.scenario.statistics.instance_stats`
    (gains of pairs with a path, share without, SNR of every pair with a path and of each
    device's best server) plus the build statistics recorded in provenance."""
    from uara.scenario.statistics import instance_stats

    st = instance_stats(inst)
    prov = inst.provenance.get("build_stats", {})
    n_pairs = inst.num_devices * inst.num_servers * inst.num_slots
    return {
        "name": inst.name, "M": inst.num_devices, "E": inst.num_servers, "T": inst.num_slots,
        "median_gain_db": st["gain_db_median"],
        "gain_p5_p95_db": st["gain_db_p5_p95"],
        "no_path_share": st["no_path_share"],
        "snr_range_db": st["snr_db_range"],
        "best_snr_p5_median_p95_db": st["snr_db_best_p5_p50_p95"],
        "best_snr_min_db": st["snr_db_best_min"],
        "cell_edge_share": st["cell_edge_share"],
        "los_share": (float(np.sum(prov["los_pairs"]) / n_pairs) if prov.get("los_pairs")
                      and None not in prov["los_pairs"] else None),
        "held_moves": int(np.sum(prov.get("held_moves", [0]))),
        "dropped_devices": int(prov.get("dropped_devices", 0)),
        "resample_rounds": int(prov.get("resample_rounds", 0)),
        "size_kb": None,
    }


def write_readme(times: dict) -> None:
    rows = []
    for m, e in sorted(SHIPPED, key=lambda me: (me[1] != 8, me[1], me[0])):
        path = OUT / f"m{m}_e{e}.json"
        if not path.exists():
            continue
        st = stats(Instance.load(path))
        st["size_kb"] = round(path.stat().st_size / 1024)
        rows.append(st)
    lines = [
        "# Shipped instances",
        "",
        "Built with Sionna RT 2.2 ray tracing on the `etoile` scene (Paris, Place de l'Etoile) at 3.5 GHz:",
        "servers at rooftop edges (3 m masts), devices on streets at 1.5 m, random-waypoint pedestrians",
        "(0.5-1.5 m/s), T = 10 slots of 1 s, hardware from `uara/scenario/data/hardware.json`, one task per device",
        "and slot from the GPT2 / GPT2-XL PSD profiles (`uara.psd`, default protocol), seed 0: the defaults",
        "of `uara build`. See docs/channels.md for every rule.",
        "",
        "Rebuild any of them bit for bit (same package versions, single-threaded ray tracing):",
        "",
        "    uara build --from-provenance instances/m60_e8.json --check",
        "",
        "Regenerate the set and this file: `python bench/make_instances.py` (statistics only: `--readme`).",
        "",
        "Statistics over all slots and device-server pairs. *No path*: pairs the ray tracer connects by no",
        "path (gain at the floor, -200 dB). *Gain*: median (5th-95th percentile) over pairs with a path.",
        "*SNR*: G_ij + P_i - N0 - 10 log10(W/E) over pairs with a path; *best-server SNR*: each device's",
        "best server, 5th percentile / median / 95th percentile. *Held*: device moves cancelled because",
        "they would have left the device reaching no server (docs/channels.md).",
        "",
        "| file | M | E | T | no path | gain dB: median (p5..p95) | SNR range dB | best-server SNR dB p5/p50/p95 (min) | below 0 dB | LOS | held | dropped | build s | KB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        bt = times.get(r["name"])
        los = "n/a" if r["los_share"] is None else f"{100 * r['los_share']:.1f} %"
        build_s = "" if bt is None else f"{bt:.0f}"
        lines.append(
            f"| {r['name']}.json | {r['M']} | {r['E']} | {r['T']} | {100 * r['no_path_share']:.1f} % | "
            f"{r['median_gain_db']:.1f} ({r['gain_p5_p95_db'][0]:.1f}..{r['gain_p5_p95_db'][1]:.1f}) | "
            f"{r['snr_range_db'][0]:.0f}..{r['snr_range_db'][1]:.0f} | "
            + "/".join(f"{v:.0f}" for v in r["best_snr_p5_median_p95_db"])
            + f" ({r['best_snr_min_db']:.0f}) | {100 * r['cell_edge_share']:.1f} % | {los} | {r['held_moves']} | {r['dropped_devices']} | {build_s} | {r['size_kb']} |"
        )
    lines += ["", "Build s: wall time of a build that ray traced every slot (2-core machine shared with other",
              "jobs, one ray-tracing thread); empty where the file was last made from cached channel results.", "",
              "*Below 0 dB*: device-slots whose best server has an SNR below 0 dB over its server's band. The",
              "builder keeps every device that has *a* path to some server, however weak (docs/channels.md);",
              "ray tracing in a dense city leaves a few devices deep in shadow (best-server SNR down to about",
              "-30 dB). Their uplink takes minutes, and through the quadratic sync penalty these few devices",
              "dominate I - C and the mean simulated latency of every method: read sums and means with that in",
              "mind, and look at medians and per-device results. A coverage threshold (treat links below a",
              "minimum SNR as no path) is a builder option still to add; it changes the ray-traced set.", ""]
    (OUT / "README.md").write_text("\n".join(lines))
    print(f"wrote {OUT / 'README.md'} ({len(rows)} instances)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default=None, help="comma-separated names, e.g. m60_e8,m30_e8")
    ap.add_argument("--force", action="store_true", help="rebuild files that are already current")
    ap.add_argument("--readme", action="store_true", help="only write the README")
    args = ap.parse_args()
    times_path = ROOT / "results" / "instances" / "build_times.json"
    times_path.parent.mkdir(parents=True, exist_ok=True)
    times = json.loads(times_path.read_text()) if times_path.exists() else {}
    if not args.readme:
        only = set(args.only.split(",")) if args.only else None
        for m, e in SHIPPED:
            name = f"m{m}_e{e}"
            if only and name not in only:
                continue
            if not args.force and is_current(OUT / f"{name}.json", m, e):
                print(f"{name}: current, skipped")
                continue
            seconds, traced = build_one(m, e)
            if traced:
                times[name] = round(seconds, 1)
            elif seconds > 60:  # partly from the cache: neither this time nor an older one holds
                times.pop(name, None)
            times_path.write_text(json.dumps(times, indent=1) + "\n")
            print(f"{name}: built in {seconds:.0f} s{'' if traced else ' (channel results from the cache)'}",
                  flush=True)
    write_readme(times)
    return 0


if __name__ == "__main__":
    sys.exit(main())
