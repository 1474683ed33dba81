"""Build the shipped instance set and write instances/README.md with its channel statistics.

    python bench/make_instances.py                 # build the missing files, then write the README
    python bench/make_instances.py --only m60_e8    # one file
    python bench/make_instances.py --readme        # statistics only (no building)
    python bench/make_instances.py --force         # rebuild everything
    python bench/make_instances.py --sensitivity   # also the variants of m60_e8 under instances/sensitivity/

The set is the paper's scales: M in {30, 60, 90, 120, 150, 180} with E = 8 and
E in {4, 8, 12, 16, 20} with M = 60, each with T = 10 slots, Sionna RT on the
etoile scene with the builder's defaults (the ``credible`` preset, docs/model.md
"Parameter sets") and seed 0. The sensitivity set holds m60_e8 with one choice
changed (payload protocol, or the whole ``paper-literal`` preset); the protocol
variants reuse m60_e8's cached channels. Build times of builds that
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
SENS = OUT / "sensitivity"
#: m60_e8 with one thing changed: name -> (preset, field changes). The header (+h320, 40 bytes per message) is
#: kept on every protocol but full@4, which stays exactly the Fig. 2 calibration.
SENSITIVITY = {
    "m60_e8_topk128": ("credible", {"task_options": {"protocol": "topk:128+h320", "draft_length": 4}}),
    "m60_e8_full4": ("credible", {"task_options": {"protocol": "full@4", "draft_length": 4}}),
    "m60_e8_split": ("credible", {"task_options": {"protocol": "split+h320", "draft_length": 4}}),
    "m60_e8_pearl": ("credible", {"task_options": {"protocol": "pearl+h320", "draft_length": 4}}),
    "m60_e8_paper_literal": ("paper-literal", {}),
}
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


def build_variant(name: str) -> float:
    """Build and save one sensitivity instance (module docstring); returns seconds."""
    from uara.scenario.build_spec import BuildSpec
    from uara.scenario.builder import build_instance

    preset, changes = SENSITIVITY[name]
    spec = BuildSpec.preset(preset, devices=60, servers=8, name=name, **OPTIONS, **changes)
    t0 = time.perf_counter()
    inst = build_instance(spec, progress=True, channel_cache=CACHE)
    SENS.mkdir(parents=True, exist_ok=True)
    inst.save(SENS / f"{name}.json")
    return time.perf_counter() - t0


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
    """Row of the README tables: channel statistics (:func:`uara.scenario.statistics.instance_stats`), the
    load and credibility figures (:func:`uara.scenario.statistics.load_stats`) and the build statistics
    recorded in provenance."""
    from uara.scenario.statistics import instance_stats, load_stats

    st, ld = instance_stats(inst), load_stats(inst)
    prov = inst.provenance.get("build_stats", {})
    return {
        "name": inst.name, "M": inst.num_devices, "E": inst.num_servers, "T": inst.num_slots,
        "no_path_share": st["no_path_share"],
        "best_snr_p5_median_p95_db": st["snr_db_best_p5_p50_p95"],
        "best_snr_min_db": st["snr_db_best_min"],
        "noise_figure_db": inst.params.noise_figure_db,
        "held_moves": int(np.sum(prov.get("held_moves", [0]))),
        "coverage_rejected": int(prov.get("coverage_rejected", 0)),
        "coverage_held": int(prov.get("coverage_held", 0)),
        "dropped_devices": int(prov.get("dropped_devices", 0)),
        "protocol": (inst.provenance.get("resolved", {}).get("tasks") or {}).get("protocol") or "profile (full@4)",
        **ld,
        "size_kb": None,
    }


def _row(r: dict, times: dict, folder: str = "") -> str:
    bt = times.get(r["name"])
    snr = "/".join(f"{v:.0f}" for v in r["best_snr_p5_median_p95_db"])
    up, comp = r["uplink_util_p50_p95_max"], r["compute_util_p50_p95_max"]
    return (f"| {folder}{r['name']}.json | {r['M']} | {r['E']} | {r['T']} | {100 * r['no_path_share']:.1f} % | "
            f"{r['noise_figure_db']:g} | {snr} ({r['best_snr_min_db']:.1f}) | {100 * r['in_coverage']:.1f} % | "
            f"{r['coverage_rejected']} / {r['coverage_held']} | {r['spectral_efficiency_max']:.2f} | "
            f"{1e3 * r['bits_median_mbit']:.1f} | {up[1]:.3g} ({100 * r['uplink_util_below_1']:.0f} %) | "
            f"{comp[1]:.3g} ({100 * r['compute_util_below_1']:.0f} %) | {100 * r['draft_within_slot']:.1f} % | "
            f"{r['drafting_power_w'][0]:.1f}-{r['drafting_power_w'][1]:.1f} | {'' if bt is None else f'{bt:.0f}'} | "
            f"{r['size_kb']} |")


HEADER = ("| file | M | E | T | no path | NF dB | best-server SNR dB p5/p50/p95 (min) | in coverage | rejected / held "
          "| max rate/W b/s/Hz | median d_i kbit | uplink util p95 (< 1) | compute util p95 (< 1) | a_i <= tau | "
          "drafting W | build s | KB |")


def write_readme(times: dict) -> None:
    rows, sens = [], []
    for m, e in sorted(SHIPPED, key=lambda me: (me[1] != 8, me[1], me[0])):
        path = OUT / f"m{m}_e{e}.json"
        if path.exists():
            rows.append(dict(stats(Instance.load(path)), size_kb=round(path.stat().st_size / 1024)))
    for name in SENSITIVITY:
        path = SENS / f"{name}.json"
        if path.exists():
            sens.append(dict(stats(Instance.load(path)), size_kb=round(path.stat().st_size / 1024)))
    lines = [
        "# Shipped instances",
        "",
        "Built with Sionna RT 2.2 ray tracing on the `etoile` scene (Paris, Place de l'Etoile) at 3.5 GHz:",
        "servers at rooftop edges (3 m masts), devices on streets at 1.5 m, random-waypoint pedestrians",
        "(0.5-1.5 m/s), T = 10 slots of 10 s, hardware from `uara/scenario/data/hardware.json`, seed 0: the",
        "defaults of `uara build`, i.e. the **credible** preset (docs/model.md, \"Parameter sets\"): a 5 dB",
        "noise figure, the attenuated and capped Shannon link (alpha 0.6, 7.4 b/s/Hz), the -6 dB coverage",
        "rule, one task per device and slot from the GPT2 / GPT2-XL PSD profiles with token-id payloads",
        "(`ids+h320`, draft length 4), Lindley queues under the Max-SINR association with 30 % background",
        "load, delta_CP = 1e-10 J/FLOP and the physical energy model. See docs/channels.md for the channel rules.",
        "",
        "Rebuild any of them bit for bit (same package versions, single-threaded ray tracing):",
        "",
        "    uara build --from-provenance instances/m60_e8.json --check",
        "",
        "Regenerate the set and this file: `python bench/make_instances.py --sensitivity` (statistics only:",
        "`--readme`). Channel results are cached in `.uara-cache/channels`, so only the first build ray traces.",
        "",
        "Statistics over all slots. *No path*: device-server pairs the ray tracer connects by no path.",
        "*Best-server SNR*: each device's best server, over its server's band W/E with the noise figure NF.",
        "*In coverage*: device-slots with a best-server SNR of at least -6 dB. *Rejected / held*: slot-0",
        "positions resampled and moves cancelled by the coverage rule. *Max rate/W*: the largest spectral",
        "efficiency of any usable link. *Uplink / compute util*: per server-slot under the Max-SINR",
        "association, sum_i b_ij / tau and sum_i s_ij / tau (b_ij full-band uplink time, s_ij = f_i^ES / F_j),",
        "95th percentile and the share of server-slots below 1. *a_i <= tau*: device-slots whose drafting",
        "fits in a slot. *Drafting W*: delta_CP F_i^MD over the devices.",
        "",
        HEADER,
        "|" + "---|" * 17,
        *[_row(r, times) for r in rows],
        "",
        "Build s: wall time of a build that ray traced every slot (2-core machine shared with other jobs, one",
        "ray-tracing thread); empty where the file was last made from cached channel results.",
        "",
        "## Sensitivity: m60_e8 with one choice changed (`instances/sensitivity/`)",
        "",
        "The same devices, servers and (for the protocol variants) the same channels as m60_e8; only the",
        "payload protocol differs, or the whole scenario is the paper's (`--preset paper-literal`: Table I as",
        "printed, pure Shannon, no noise figure, no coverage rule, eq. 8, `full@4` payloads, 1 s slots,",
        "uniform queues; its devices move for 1 s per slot, so its channels are traced anew).",
        "",
        "| file | protocol | median d_i kbit | uplink util p95 (< 1) | compute util p95 (< 1) | a_i <= tau | best-server SNR min dB |",
        "|---|---|---|---|---|---|---|",
        *[f"| sensitivity/{r['name']}.json | {r['protocol']} | {1e3 * r['bits_median_mbit']:.1f} | "
          f"{r['uplink_util_p50_p95_max'][1]:.3g} ({100 * r['uplink_util_below_1']:.0f} %) | "
          f"{r['compute_util_p50_p95_max'][1]:.3g} ({100 * r['compute_util_below_1']:.0f} %) | "
          f"{100 * r['draft_within_slot']:.1f} % | {r['best_snr_min_db']:.1f} |" for r in sens],
        "",
    ]
    (OUT / "README.md").write_text("\n".join(lines))
    print(f"wrote {OUT / 'README.md'} ({len(rows)} instances, {len(sens)} sensitivity)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default=None, help="comma-separated names, e.g. m60_e8,m30_e8")
    ap.add_argument("--force", action="store_true", help="rebuild files that are already current")
    ap.add_argument("--readme", action="store_true", help="only write the README")
    ap.add_argument("--sensitivity", action="store_true", help="also build instances/sensitivity/ (m60_e8 variants)")
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
        if args.sensitivity:
            for name in SENSITIVITY:
                if only and name not in only:
                    continue
                print(f"{name}: built in {build_variant(name):.0f} s", flush=True)
    write_readme(times)
    return 0


if __name__ == "__main__":
    sys.exit(main())
