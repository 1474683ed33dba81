"""uara report: figures exist and are non-empty; reductions stated as the paper states them."""

from __future__ import annotations

from pathlib import Path

import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("matplotlib")
pytest.importorskip("pyarrow")

from uara.cli import main
from uara.errors import UaraError
from uara.experiments.report import build_report, reduction_sentences, reductions
from uara.experiments.comparison import compare
from uara.experiments.grid import parse_param_grid
from uara.scenario.random_instance import random_instance


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("rep")
    d = root / "instances"
    d.mkdir()
    for m, e in [(6, 2), (9, 2), (9, 3)]:
        random_instance(m, e, slots=1, seed=m * 10 + e, name=f"m{m}_e{e}").save(d / f"m{m}_e{e}.json")
    out = root / "out"
    compare([d], ["random", "max-sinr", "max-compute", "tma", "brute-force"], [0, 1], out,
            params=parse_param_grid(["energy_weight=20,60,100"]), executor="serial", bounds=False)
    return out


def test_report_writes_nonempty_pngs(results: Path) -> None:
    res = build_report(results)
    assert res.markdown.exists() and res.html.exists()
    names = {p.name for p in res.figures}
    assert {"fig5_latency_vs_size.png", "fig6_energy_weight.png", "runtime_vs_size.png"} <= names
    for p in res.figures:
        assert p.stat().st_size > 5000 and p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = res.markdown.read_text()
    for section in ("Fig. 5", "Fig. 6", "Gap to the best known lower bound", "Runtime vs instance size",
                    "Headline: latency reduction vs the baselines", "P1 objective vs simulated latency"):
        assert section in md
    assert "than the three baselines (random, max-sinr, max-compute" in md
    assert "solver:brute-force" in md  # the bound's source is named
    html_text = res.html.read_text()
    assert "<img src='figures/fig5_latency_vs_size.png'" in html_text


def test_report_reads_claims_first_with_contents_intervals_captions_and_folds(results: Path) -> None:
    import re

    res = build_report(results)
    md, html_text = res.markdown.read_text(), res.html.read_text()
    # a table of contents whose links all land on an anchor
    links = re.findall(r"<a href='#([a-z0-9-]+)'>", html_text)
    ids = set(re.findall(r" id='([a-z0-9-]+)'", html_text))
    assert len(links) >= 8 and set(links) <= ids
    assert md.index("Headline") < md.index("Fig. 5") < md.index("Summary per instance")  # claims and figures first
    head = md[md.index("## Headline"):md.index("## Fig. 5")]
    assert "ci_low_pct" in head and "ci_high_pct" in head and "28.0 %" in head
    # every figure has a sentence under it; long tables are folded; no figure without data
    assert html_text.count("<figure>") == html_text.count("<figcaption>") >= 4
    assert "<details><summary>" in html_text
    assert "one value of" not in md or "no panels for it" in md


def test_fig5_is_left_out_when_there_is_one_size(tmp_path: Path) -> None:
    d = tmp_path / "i"
    d.mkdir()
    random_instance(6, 2, slots=1, seed=1, name="only").save(d / "only.json")
    compare([d], ["random", "tma"], [0, 1], tmp_path / "o", executor="serial", bounds=False)
    res = build_report(tmp_path / "o")
    assert not any(p.name.startswith("fig5") for p in res.figures)
    assert "all runs are on one instance size" in res.markdown.read_text()


def test_bootstrap_interval_brackets_the_mean_and_is_seeded() -> None:
    import numpy as np

    from uara.experiments.report.tables import bootstrap_ci

    v = np.random.default_rng(3).normal(10.0, 2.0, 200)
    lo, hi = bootstrap_ci(v)
    assert lo < v.mean() < hi and hi - lo == pytest.approx(2 * 1.96 * v.std(ddof=1) / np.sqrt(200), rel=0.2)
    assert bootstrap_ci(v) == (lo, hi) and np.isnan(bootstrap_ci([1.0])[0])


def test_reductions_arithmetic() -> None:
    df = pd.DataFrame({
        "fingerprint": ["a", "a", "a", "b", "b", "b"], "mode": ["static"] * 6,
        "solver": ["random", "max-sinr", "tma"] * 2, "latency_mean_s": [2.0, 4.0, 1.0, 1.0, 1.0, 0.9],
    })
    red = reductions(df, "latency_mean_s", baselines=("random", "max-sinr"))
    r = red.set_index("baseline")
    assert r.loc["random", "mean_reduction_pct"] == pytest.approx((50 + 10) / 2)
    assert r.loc["max-sinr", "max_reduction_pct"] == pytest.approx(75)
    (s,) = reduction_sentences(red, "latency")
    assert s.startswith("tma: up to 75.0 % and on average 36.2 % lower latency than the 2 baselines")
    assert s.endswith("(random, max-sinr; 2 scenarios).")
    one = reduction_sentences(reductions(df[df["fingerprint"] == "a"], "latency_mean_s", baselines=("random",)),
                              "latency")[-1]
    assert one == "tma: up to 50.0 % and on average 50.0 % lower latency than the baseline (random; 1 scenario)."


def test_report_cli_and_errors(results: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(results), "-O", str(tmp_path / "r")]) == 0
    assert (tmp_path / "r" / "figures" / "fig6_energy_weight.png").stat().st_size > 0
    assert main(["report", str(tmp_path / "nothing")]) == 2
    assert "results table not found" in capsys.readouterr().err
    (tmp_path / "e").mkdir()
    with pytest.raises(UaraError, match="no results table"):
        build_report(tmp_path / "e")


def test_summary_is_per_instance_with_status_and_spread(results: Path) -> None:
    from uara.experiments.report import prepare, summary_table
    from uara.experiments.table import load_table

    summ = summary_table(prepare(load_table(results)))
    # one row per (instance, solver): three instance sizes are never averaged together
    assert len(summ) == 3 * 5 and set(summ["instance"]) == {"m6_e2", "m9_e2", "m9_e3"}
    assert summ.groupby(["instance", "solver"]).size().max() == 1
    assert (summ["runs"] == 2).all()  # two seeds
    assert summ["statuses"].str.contains("x2").all()
    assert (summ.loc[summ["solver"] == "brute-force", "statuses"] == "optimal x2").all()
    assert summ["objective_sd"].notna().any()  # random differs across seeds: a spread is shown
    best = summ.groupby("instance")["above_best_pct"].min()
    assert (best.abs() < 1e-9).all()  # the best solver on each instance is 0 % above the best


def test_report_has_provenance_anytime_note_and_valid_html(results: Path, tmp_path: Path) -> None:
    from html.parser import HTMLParser

    res = build_report(results, output=tmp_path / "r")
    md = res.markdown.read_text()
    assert "## Provenance" in md and "commit" in md and "CPU(s)" in md
    assert "Anytime incumbent and bound" in md
    html_text = res.html.read_text()

    class Check(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.stack: list[str] = []
            self.images: list[str] = []

        def handle_starttag(self, tag, attrs):
            if tag == "img":
                self.images.append(dict(attrs)["src"])
            elif tag not in ("meta", "br"):
                self.stack.append(tag)

        def handle_endtag(self, tag):
            assert self.stack and self.stack[-1] == tag, (tag, self.stack[-3:])
            self.stack.pop()

    chk = Check()
    chk.feed(html_text)
    assert chk.stack == []
    assert chk.images and all((tmp_path / "r" / src).stat().st_size > 5000 for src in chk.images)


def test_term_rank_correlations_split_i_minus_c_into_its_parts():
    """Per scenario, Spearman across solvers of I - C, of server + sync and of the communication energy with
    the simulated latency, checked against scipy on a table where the energy part orders methods backwards."""
    import numpy as np
    from scipy.stats import spearmanr

    from uara.experiments.report.p1_section import term_rank_correlations

    rng = np.random.default_rng(0)
    lat = np.array([2.0, 2.5, 3.0, 4.0, 5.0])
    server = lat * 100 + rng.uniform(0, 1, 5)
    energy = (6 - lat) * 30
    rows = pd.DataFrame({"instance": "x", "params": "{}", "solver": list("abcde"), "controllable": server + 30 + energy,
                         "server_s": server, "sync_penalty": 30.0, "energy_comm": energy, "latency_mean_s": lat})
    got = term_rank_correlations(rows).iloc[0]
    assert got["rho_latency_part"] == pytest.approx(1.0)
    assert got["rho_energy_part"] == pytest.approx(-1.0)
    assert got["rho_controllable"] == pytest.approx(spearmanr(rows["controllable"], lat).statistic)
    best = rows["controllable"].idxmin()
    assert got["energy_share_of_best"] == pytest.approx(energy[best] / rows["controllable"][best])
    assert got["solvers"] == 5


def test_the_latency_scale_parameter_set_puts_p1_terms_on_one_scale():
    from uara.model.instance import PARAMETER_SETS

    ls, cred = PARAMETER_SETS["latency-scale"], PARAMETER_SETS["credible"]
    assert ls.lambda_ == 1e-6 and ls.energy_weight == 0.25
    assert {k: v for k, v in vars(ls).items() if k not in ("lambda_", "energy_weight")} == \
        {k: v for k, v in vars(cred).items() if k not in ("lambda_", "energy_weight")}


def test_two_campaigns_side_by_side(results: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from uara.experiments.report.campaigns import matched_changes
    from uara.experiments.report.tables import base_rows, prepare
    from uara.experiments.table import load_table

    other = tmp_path / "other"
    inst_dir = results.parent / "instances"
    compare([inst_dir], ["random", "max-sinr", "tma"], [0, 1], other, options={"tma": {"max_swaps": 0}},
            params=parse_param_grid(["energy_weight=20,60,100"]), executor="serial", bounds=False)
    assert main(["report", str(results), str(other), "--labels", "old,new", "-O", str(tmp_path / "cmp")]) == 0
    md = (tmp_path / "cmp" / "report.md").read_text()
    assert "Only in old: brute-force, max-compute; only in new: none" in md and "Headlines side by side" in md
    assert (tmp_path / "cmp" / "figures" / "campaign_change.png").stat().st_size > 5000
    ch = matched_changes(base_rows(prepare(load_table(results / "results.parquet"))),
                         base_rows(prepare(load_table(other / "results.parquet")))).set_index("solver")
    assert ch.loc["random", "controllable_change_pct"] == 0 and ch.loc["random", "matched_runs"] == 6
    # matched by back-end name: tma without its swap phase is never better, and worse somewhere
    assert ch.loc["tma", "matched_runs"] == 6 and ch.loc["tma", "controllable_change_pct"] > 0
    assert main(["report", str(results), str(other), "--labels", "same,same"]) == 2
    assert "--labels: expected two different names" in capsys.readouterr().err
