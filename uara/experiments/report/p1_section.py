"""The P1 section of a report: what was run, the summary per instance and solver, Fig. 5 and 6, the
gap table, runtime, anytime curves, the reductions vs the baselines (the paper's 28.0 % / 23.7 %),
P1's objective against the simulated latency, and the per-slot / per-device view.

Registered for the ``p1`` family by :mod:`uara.experiments.report.assembly`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from uara.errors import UaraError
from uara.experiments.report.document import Doc
from uara.experiments.report.figures import fig5, fig6, fig_anytime, fig_device_latency, fig_runtime
from uara.experiments.report.tables import (REDUCTION_METRICS, base_rows, bootstrap_ci, headline, per_slot_table, prepare,
                                            reduction_sentences, reductions, solver_order, stored_solutions,
                                            summary_table, sweep_rows)
from uara.experiments.table import load_table
from uara.io import read_json


def p1_section(doc: Doc, src: Path, out: Path, figdir: Path) -> list[Path]:
    """Add the P1 results of ``src`` (a results table, or the comparison folder holding it) to ``doc``;
    returns the figures written."""
    df = load_table(src)
    if not len(df):
        raise UaraError(f"results table in {src} has no rows")
    folder = src if src.is_dir() else src.parent
    manifest: dict[str, Any] = {}
    if (folder / "manifest.json").exists():
        try:
            manifest = read_json(folder / "manifest.json", what="manifest")
        except UaraError:
            manifest = {}
    df = prepare(df)
    figs: list[Path] = []
    base = base_rows(df)
    _what_was_run(doc, df, manifest)  # then claims and figures first, long tables last (folded)
    _headline(doc, base)
    _figures_5_and_6(doc, df, figdir, out, figs)
    _gap_table(doc, df)
    _runtime_and_anytime(doc, df, folder, figdir, out, figs)
    _reduction_tables(doc, base)
    _summary_per_solver(doc, df)
    _proxy_vs_latency(doc, base)
    _per_slot_and_device(doc, df, folder, figdir, out, figs)
    return figs


#: the paper's headline (Koh & Yang, Sec. V): TMA-MASAC vs the three baselines
PAPER_HEADLINE = "up to 28.0 % and on average 23.7 % lower latency (the paper's Fig. 5, its own simulator)"

_PCT = {c: "{:.1f}" for c in ("mean_reduction_pct", "ci_low_pct", "ci_high_pct", "up_to_pct", "max_reduction_pct",
                              "min_reduction_pct", "mean_gap_pct", "gap_ci_low_pct", "gap_ci_high_pct", "max_gap_pct")}


def _server_models(df: Any) -> str:
    models = sorted(str(m) for m in df["server_model"].dropna().unique()) if "server_model" in df else []
    return ", ".join(models) if models else "the instances' own"


def _headline(doc: Doc, base: Any) -> None:
    doc.h("Headline: latency reduction vs the baselines")
    metric, words = REDUCTION_METRICS[0]
    top = headline(base, metric)
    if not len(top):
        doc.p("No method/baseline pair with matched scenarios (need at least one of random, max-sinr, max-compute "
              "and another method): no reduction to state.")
        return
    doc.table(top, formats=_PCT, fold=False)
    doc.p(f"Reduction of the mean {words}, server model {_server_models(base)}: mean_reduction_pct is the paper's "
          "'on average' (the mean over the baselines of the mean over scenarios), with its 95 % bootstrap interval "
          "(ci_low_pct, ci_high_pct: scenarios resampled, 2000 draws, seeded); up_to_pct is the largest over scenarios "
          f"and baselines. A scenario is an instance at given parameters, mean over seeds. The paper states {PAPER_HEADLINE}; "
          "which of our rows is the paper's method is in docs/masac.md (masac: the paper's semantics).")


def _runtime_and_anytime(doc: Doc, df: Any, folder: Path, figdir: Path, out: Path, figs: list[Path]) -> None:
    doc.h("Runtime vs instance size")
    pr = fig_runtime(df, figdir)
    figs.append(out / pr)
    doc.img(pr, "runtime", "One point per instance and method: the wall time of one run (mean over seeds; optional "
            "packages imported before the clock starts), against M x E on log axes. Time limits cap the exact "
            "back-ends, so their points show the limit, not the time to optimality.")
    doc.h("Anytime incumbent and bound")
    pa, note_a = fig_anytime(df, folder, figdir)
    if pa:
        figs.append(out / pa)
        doc.img(pa, "anytime curves", "For each method that records a trace, the median over every slot of every "
                "instance of its incumbent's gap to the best bound known for that slot, 100 (I(tau) - LB) / "
                "(I(tau) - C), against the time since that slot's solve started; the band is the inter-quartile range. A curve "
                "starts once half the slots have an incumbent.")
    if note_a:
        doc.p(note_a)


def _per_slot_and_device(doc: Doc, df: Any, folder: Path, figdir: Path, out: Path, figs: list[Path]) -> None:
    inst_t, sols = stored_solutions(df, folder)  # read once, used twice
    if not sols:
        return
    doc.h("Per slot and per device")
    doc.p(f"I(t) - C(t) of each slot and its status on {inst_t} (first stored seed of each solver):")
    doc.table(per_slot_table(sols))
    pd_, note_d = fig_device_latency(str(inst_t), sols, figdir)
    if pd_:
        figs.append(out / pd_)
        doc.img(pd_, "per-device latency", f"The distribution over device-slots of each device's simulated "
                f"end-to-end latency on {inst_t} (first stored seed of each method): a curve to the left is faster; "
                "its right tail shows the devices a method leaves slow.")
    if note_d:
        doc.p(note_d)


def _what_was_run(doc: Doc, df: Any, manifest: dict[str, Any]) -> None:
    doc.h("What was run")
    n_err = int((df["status"] == "error").sum())
    doc.p(f"{len(df)} runs: {df['instance'].nunique()} instance(s), solvers {', '.join(solver_order(df))}, "
          f"seeds {', '.join(str(s) for s in sorted(df['seed'].dropna().unique()))}, modes {', '.join(sorted(df['mode'].unique()))}; "
          f"{n_err} error row(s). Every objective below was recomputed by the shared evaluator from the stored decisions "
          f"and compared with the solver's claim (relative tolerance 1e-9); a mismatch or an infeasible decision is an error row.")
    cmds = [i.get("command") for i in manifest.get("invocations", []) if i.get("command")] or \
        ([manifest["command"]] if manifest.get("command") else [])
    if cmds:
        doc.p("Made by:")
        doc.code("\n".join(cmds))
    for name, why in (manifest.get("skipped_solvers") or {}).items():
        doc.p(f"Skipped solver {name}: {why}.")
    for n in sorted({str(n) for n in df["latency_note"].dropna().unique()}):
        doc.p(f"Latency: {n}.")




def _summary_per_solver(doc: Doc, df: Any) -> None:
    doc.h("Summary per instance and solver (P1 objective and simulated latency side by side)")
    summ = summary_table(df)
    if len(summ):
        doc.table(summ[["instance", "M", "E", "mode", "solver", "statuses", "runs", "objective", "objective_sd",
                        "above_best_pct", "gap_pct"]], floatfmt="{:.10g}",
                  formats={"above_best_pct": "{:.3f}", "gap_pct": "{:.3f}", "objective_sd": "{:.4g}"},
                  summary=f"P1 objective per instance and solver ({len(summ)} rows)")
        doc.table(summ[["instance", "solver", "latency_mean_s", "latency_sd_s", "latency_median_s", "latency_p95_s",
                        "coverage_share", "latency_cov_mean_s", "latency_cov_p95_s", "energy_j", "energy_comm",
                        "wall_time_s"]], summary=f"simulated latency, energy and wall time per instance and solver "
                                                 f"({len(summ)} rows)")
    doc.p("Static feasible runs at the instances' own parameters (sweep runs are in the Fig. 6 and gap tables), one row per "
          "instance: instances of different sizes are never averaged together. statuses: how the runs ended "
          "(time_limit = stopped by the limit with its best solution); objective: I summed over slots, mean over seeds, "
          "with its standard deviation over seeds (objective_sd; empty with one seed); above_best_pct: 100 (I - I_best) / "
          "(I_best - C) against the best solver on that instance; gap_pct: 100 (I - LB) / (I - C) against the best proven "
          "bound; latency_*: PSD simulator, latency_sd_s its spread over seeds, latency_cov_* over the device-slots in coverage (best-server SNR >= -6 dB; coverage_share of them); energy_j: E^CP + E^CM per device and slot (J), "
          "dominated by drafting energy, which no decision changes; energy_comm: P1's communication-energy term "
          "w sum E^CM / B (objective units), the part the bandwidth shares decide.")
    if (df["status"] == "error").any():
        doc.h("Error rows", 3)
        doc.table(df[df["status"] == "error"][["instance", "solver", "seed", "params", "error"]])


def _figures_5_and_6(doc: Doc, df: Any, figdir: Path, out: Path, figs: list[Path]) -> None:
    doc.h("Fig. 5: latency vs number of devices and servers")
    path, note = fig5(df, figdir)
    if path:
        figs.append(out / path)
        doc.img(path, "Fig. 5", "Each panel is one method: its mean PSD end-to-end latency (server model "
                f"{_server_models(df)}) at each size, with 95 % bootstrap error bars over instance builds and seeds; "
                "the grey lines are the other methods, for comparison. The first block varies M at fixed E, the second "
                "E at fixed M (each panel's title says which).")
        path_p1, _ = fig5(df, figdir, metric="ctrl_per_device")
        if path_p1:
            figs.append(out / path_p1)
            doc.img(path_p1, "Fig. 5, P1 objective", "The same panels for P1's objective, (I - C) per device and slot: "
                    "the proxy the solvers minimise, to read beside the simulated latency above.")
    if note:
        doc.p(f"Note: {note} (ship instances that vary it for a curve).")
    _figure_6(doc, df, figdir, out, figs)


def _flat_lines(d: Any, column: str, rtol: float = 0.01) -> list[str]:
    """The solvers whose mean ``column`` varies by less than ``rtol`` (relative) over the energy weights."""
    g = d.groupby(["solver", "energy_weight"], observed=True)[column].mean().unstack("energy_weight")
    spread = (g.max(axis=1) - g.min(axis=1)) / g.abs().max(axis=1)
    return sorted(str(k) for k, v in spread.items() if v == v and v < rtol)


def _figure_6(doc: Doc, df: Any, figdir: Path, out: Path, figs: list[Path]) -> None:
    from uara.experiments.table import HIGH_BATTERY

    doc.h("Fig. 6: energy weight vs latency and energy by battery level")
    path6, note6 = fig6(df, figdir)
    if not path6:
        doc.p(f"No figure: {note6}.")
        return
    figs.append(out / path6)
    ok6 = sweep_rows(df)
    if (ok6["params"] != "{}").any():
        ok6 = ok6[ok6["params"] != "{}"]  # the sweep's own runs, as in the figure
    flat = _flat_lines(ok6, "latency_mean_s") if ok6["latency_mean_s"].notna().any() else []
    why = (f" Flat lines (latency within 1 % over w): {', '.join(flat)}. Their decisions do not depend on w: the "
           "association comes from SNR, compute speed or chance and the shares are uniform, while w only enters "
           "P1 through the communication-energy term that the optimised shares trade against latency."
           if flat else "")
    doc.img(path6, "Fig. 6", f"Instance {ok6['instance'].iloc[0]}: mean latency (left) and energy per device and slot "
            f"(right) against the energy weight w, high-battery devices solid and low-battery dashed (B >= "
            f"{HIGH_BATTERY} / below, or the paper's B >= 0.8 / B <= 0.2 where the table has them); means over seeds "
            f"and slots; one row per energy model in the sweep.{why}")
    keys = ["energy_model", "solver", "energy_weight"] if "energy_model" in ok6 else ["solver", "energy_weight"]
    t6 = ok6.groupby(keys, observed=True)[
        ["latency_high_s", "latency_low_s", "uplink_mean_s", "energy_j_high", "energy_j_low"]].mean().reset_index()
    doc.table(t6, summary=f"Fig. 6's values ({len(t6)} rows)")
    if note6:
        doc.p(f"Note: {note6}.")


def _gap_table(doc: Doc, df: Any) -> None:
    import pandas as pd

    doc.h("Gap to the best known lower bound")
    ok = df[df["feasible"].fillna(False).astype(bool)]
    st = ok[ok["mode"] == "static"]
    if not st["lower_bound"].notna().any():
        doc.p("No lower bound is known for any instance (uara.experiments.bounds not installed and no solver reported a proven bound): gaps are n/a.")
        return
    per_inst = st.groupby(["instance", "energy_weight", "solver"], observed=True)["gap"].mean().mul(100)
    rows = []
    for solver, g in per_inst.groupby(level="solver", observed=True):
        lo, hi = bootstrap_ci(g.to_numpy(dtype=float))
        rows.append({"solver": solver, "instances": len(g), "mean_gap_pct": g.mean(), "gap_ci_low_pct": lo,
                     "gap_ci_high_pct": hi, "max_gap_pct": g.max()})
    doc.table(pd.DataFrame(rows).sort_values("mean_gap_pct"), formats={**_PCT, "mean_gap_pct": "{:.3g}",
                                                                      "max_gap_pct": "{:.3g}"}, fold=False)
    doc.p("Gap = 100 (I - LB) / (I - C), in % of the controllable part, per instance (mean over seeds), then its mean "
          "over instances with a 95 % bootstrap interval and its maximum. LB is the best of uara.experiments.bounds "
          "and every proven bound a solver reported on that instance; the per-instance table names its source. A gap "
          "of 0 with a solver's own bound means it proved optimality.")
    g = st.groupby(["instance", "M", "E", "energy_weight", "solver"], observed=True)["gap"].mean().mul(100).unstack("solver")
    lb = st.groupby(["instance", "M", "E", "energy_weight"], observed=True).agg(
        lower_bound=("lower_bound", "first"), source=("lower_bound_source", "first"), best_objective=("objective", "min"))
    full = lb.join(g).reset_index()
    doc.table(full, floatfmt="{:.4g}", formats={"lower_bound": "{:.10g}", "best_objective": "{:.10g}"},
              summary=f"gap per instance and solver, % ({len(full)} rows)")


def _reduction_tables(doc: Doc, base: Any) -> None:
    doc.h("Latency reduction vs each baseline, by metric")
    any_red = False
    for metric, words in REDUCTION_METRICS:
        red = reductions(base, metric)
        if not len(red):
            continue
        any_red = True
        doc.h(words, 3)
        for s in reduction_sentences(red, words):
            doc.p(s)
        doc.table(red, formats=_PCT, summary=f"per method and baseline ({len(red)} rows)")
    if not any_red:
        doc.p("No method/baseline pair with matched scenarios (need at least one of random, max-sinr, max-compute and another method).")
    doc.p("Reduction = 1 - L_method / L_baseline per scenario (instance at given parameters; mean over seeds), with its "
          "mean's 95 % bootstrap interval over scenarios. 'Up to' is the largest over scenarios and baselines, 'on "
          "average' the mean over baselines of the per-baseline mean, as the paper's 28.0 % / 23.7 %.")


def _proxy_vs_latency(doc: Doc, base: Any) -> None:
    doc.h("P1 objective vs simulated latency, term by term")
    both = base.dropna(subset=["latency_mean_s", "ctrl_per_device"])
    if not (len(both) and both["solver"].nunique() > 1):
        doc.p("Simulated latency unavailable (or a single solver): only P1's objective is compared.")
        return
    per = term_rank_correlations(both)
    doc.p("I - C splits into a **latency part** (server queue and compute, sum q_j + f_i / (z F_j), and the sync "
          "penalty lambda sum (a_i - T_i)^2) and an **energy part** (the communication energy w sum E^CM / B_i; the "
          "compute energy is in C). Spearman rank correlation of each with the simulated mean latency (the "
          "instance's server model) across solvers, per scenario, and the energy part's share of I - C for each "
          f"scenario's best P1 method. Mean over {len(per)} scenario{'s' if len(per) != 1 else ''}: I - C {per['rho_controllable'].mean():.2f}, "
          f"latency part {per['rho_latency_part'].mean():.2f}, energy part {per['rho_energy_part'].mean():.2f} "
          "(1 = the term orders methods as the simulator does).")
    doc.table(per.reset_index())
    rk = both.groupby(["fingerprint", "solver"], observed=True)[["ctrl_per_device", "latency_mean_s"]].mean()
    rk["rank_p1"] = rk.groupby(level=0)["ctrl_per_device"].rank()
    rk["rank_latency"] = rk.groupby(level=0)["latency_mean_s"].rank()
    doc.table(rk.groupby(level=1)[["ctrl_per_device", "latency_mean_s", "rank_p1", "rank_latency"]].mean().reset_index())


def term_rank_correlations(rows: Any) -> Any:
    """Per scenario (instance, its parameters): the Spearman correlation across solvers (mean over seeds) of
    I - C, of its latency part (server_s + sync_penalty) and of its energy part (energy_comm) with the
    simulated mean latency, the number of solvers, and the energy part's share of I - C for the solver with
    the lowest I - C."""
    import pandas as pd

    cols = ["controllable", "server_s", "sync_penalty", "energy_comm", "latency_mean_s"]
    m = rows.groupby(["instance", "params", "solver"], observed=True)[cols].mean()
    m["latency_part"] = m["server_s"] + m["sync_penalty"]
    out = []
    for (inst, params), g in m.groupby(level=[0, 1], observed=True):
        rank_lat = g["latency_mean_s"].rank()
        rho = {f"rho_{k}": g[k].rank().corr(rank_lat) for k in ("controllable", "latency_part")}
        rho["rho_energy_part"] = g["energy_comm"].rank().corr(rank_lat)
        best = g["controllable"].idxmin()
        out.append({"instance": inst, "params": params, "solvers": len(g), **rho,
                    "energy_share_of_best": float(g.loc[best, "energy_comm"] / g.loc[best, "controllable"])})
    return pd.DataFrame(out).set_index(["instance", "params"])
