"""`uara inspect`: summarise an instance (sizes, channel, workload, objective terms)."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("inspect", help="summarise an instance",
                       description="Print sizes, parameters, channel and workload statistics, and the per-term objective breakdown under Max-SINR + exact allocation.")
    p.add_argument("instance", help="instance JSON")
    p.add_argument("--json", action="store_true", help="print the statistics as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from uara.cli._common import fmt
    from uara.solvers import get_solver
    from uara.scenario.statistics import instance_stats, load_stats

    from uara.cli._common import load_any_instance
    family, inst = load_any_instance(args.instance)
    if family.name == "pipeline":
        from uara.cli._pipeline import inspect as inspect_pipeline

        return inspect_pipeline(inst, args.json)
    stats = instance_stats(inst)
    stats["load"] = load_stats(inst)
    ref = get_solver("max-sinr", allocation="exact").solve(inst)
    stats["reference"] = {"solver": "max-sinr+exact", "objective": ref.objective, "constant": ref.constant, "breakdown": ref.breakdown()}
    if args.json:
        print(json.dumps({"name": inst.name, "devices": inst.num_devices, "servers": inst.num_servers,
                          "slots": inst.num_slots, "params": inst.params.to_dict(), "provenance": inst.provenance, **stats}, indent=1))
        return 0
    p = inst.params
    print(f"instance   {inst.name}: {inst.num_devices} devices, {inst.num_servers} servers, {inst.num_slots} slots (fingerprint {inst.fingerprint()})")
    print(f"params     W = {p.bandwidth_hz / 1e6:g} MHz (W_j = {p.bandwidth_hz / inst.num_servers / 1e6:g} MHz), N0 = {p.noise_dbm_per_hz:g} dBm/Hz, "
          f"lambda = {p.lambda_:g}, w = {p.energy_weight:g}, delta_CP = {p.delta_cp_j_per_flop:g} J/FLOP, delta_CM = {p.delta_cm:g}, tau = {p.slot_s:g} s")
    print(f"hardware   {', '.join(f'{k} x{v}' for k, v in stats['kinds'].items())}")
    print(f"channel    median gain {stats['gain_db_median']:.1f} dB, no-path pairs {100 * stats['no_path_share']:.1f} %, "
          f"best-server SNR {stats['snr_db_best_min']:.1f} .. {stats['snr_db_best_max']:.1f} dB (median {stats['snr_db_best_median']:.1f})")
    q = lambda k: " / ".join(fmt(v, 3) for v in stats[k])  # noqa: E731
    print(f"workload   a_i draft time [s] p5/p50/p95 {q('device_s_p5_p50_p95')};  b_i full-band uplink [s] {q('uplink_s_full_best_p5_p50_p95')};  "
          f"{'c_i energy cost/share' if p.energy_model == 'paper' else 'p_i energy cost/s of uplink'} {q('energy_cost_p5_p50_p95')};  d_i [bit] {q('bits_p5_p50_p95')}")
    ld = stats["load"]
    tri = lambda k: " / ".join(f"{v:.3g}" for v in ld[k])  # noqa: E731
    print(f"load       under Max-SINR, per server-slot p50/p95/max: uplink sum b/tau {tri('uplink_util_p50_p95_max')} "
          f"({100 * ld['uplink_util_below_1']:.0f} % below 1), compute sum s/tau {tri('compute_util_p50_p95_max')} "
          f"({100 * ld['compute_util_below_1']:.0f} % below 1); a_i <= tau in {100 * ld['draft_within_slot']:.1f} % of device-slots")
    print(f"radio      noise figure {p.noise_figure_db:g} dB, best-server SNR >= {ld['best_snr_db_min']:.1f} dB "
          f"({100 * ld['in_coverage']:.1f} % of device-slots at >= -6 dB), max rate/W_j {ld['spectral_efficiency_max']:.2f} b/s/Hz; "
          f"median d_i {ld['bits_median_mbit']:.3g} Mbit; drafting power {ld['drafting_power_w'][0]:.2g}-{ld['drafting_power_w'][1]:.2g} W; "
          f"energy model {p.energy_model}")
    b = ref.breakdown()
    print(f"objective  under max-sinr+exact: I = {fmt(ref.objective, 9)} = C {fmt(ref.constant, 9)} + controllable {fmt(ref.objective - ref.constant, 6)}")
    print(f"           device {fmt(b['device_s'], 6)} | server {fmt(b['server_s'], 6)} | sync {fmt(b['sync_penalty'], 6)} | "
          f"energy compute {fmt(b['energy_compute'], 6)} + comm {fmt(b['energy_comm'], 6)}")
    prov = inst.provenance
    if prov:
        print("provenance " + ", ".join(f"{k}={v}" for k, v in prov.items() if not isinstance(v, (dict, list))))
    return 0
