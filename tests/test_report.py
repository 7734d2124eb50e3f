"""The comparison report: self-contained, every section present, rebuildable."""

import re

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import scenarios
from experiments.cli import app
from experiments.report.comparison import (
    forecast_sentences,
    forecast_value,
    knows_the_future,
    number,
    service_section,
    unit_table,
    write_report,
)
from experiments.study.folder import MARKER
from experiments.study.run import run_study
from experiments.study.service_levels import verdict
from experiments.study.stats import summarise
from experiments.trained import backtest

CHEAP = "policies=[{name: static}, {name: baseline}]"  # the study, not the policies, under test


def run_and_report(scenario, out, source):
    """What `hospsim run` does: the study, then the report from the folder it wrote."""
    study = run_study(scenario, out, source=source)
    return study, write_report(out)


@pytest.mark.slow
def test_report_is_self_contained_with_every_section(tmp_path):
    scenario = scenarios.load("winter_peak", ["horizon_days=30", "warmup_days=7",
                                              "replications=3", CHEAP])
    (tmp_path / MARKER).write_text("{}")  # a results folder, holding an earlier run's files
    stale = pd.DataFrame({"policy": ["baseline"], "milp": [True], "fallback": [""]})
    stale.to_parquet(tmp_path / "solves.parquet")
    (tmp_path / "forecast_backtest.csv").write_text("model,rmse\nlinear,1.0\n")
    _, paths = run_and_report(scenario, tmp_path, source="winter_peak")
    html = paths["report.html"].read_text()
    assert not (tmp_path / "solves.parquet").exists()
    for heading in ("In 30 seconds", "Key indicators", "Service levels",
                    "Each policy against static",
                    "Occupancy over the 30 days", "When the peaks come", "How much it varies",
                    "Ventilators", "Breakeven: where one more bed stops paying for itself",
                    "Reproducibility"):
        assert heading in html
    assert "Forecast error gains" not in html  # no policy plans with a trained forecast
    assert "The morning solver" not in html  # no policy solves a MILP
    assert not (tmp_path / "forecast_backtest.csv").exists()
    assert html.count("<svg") == 8
    assert not re.search(r"(src|href)=\"https?://", html)  # nothing fetched from a network
    assert "What this scenario changes in the one it extends" in html
    assert "respiratory season" in html  # the diff against baseline shows the surge
    assert "baseline against static:" in paths["summary.md"].read_text()


@pytest.mark.slow
def test_report_command_rebuilds_from_a_results_folder(tmp_path):
    run_study(scenarios.load("baseline", ["horizon_days=20", "warmup_days=5",
                                          "replications=2", CHEAP]), tmp_path, source="baseline")
    assert not (tmp_path / "report.html").exists()  # the study writes no report
    result = CliRunner().invoke(app, ["report", str(tmp_path), "--reference", "baseline"])
    assert result.exit_code == 0, result.output
    assert "Each policy against baseline" in (tmp_path / "report.html").read_text()
    missing = CliRunner().invoke(app, ["report", str(tmp_path / "nothing")])
    assert missing.exit_code == 2 and "no manifest.json" in missing.output


@pytest.mark.slow
def test_an_auto_warmup_is_shown_with_its_mser_plot(tmp_path):
    scenario = scenarios.load("baseline", ["horizon_days=60", "warmup_days=auto",
                                           "replications=2"])
    _, paths = run_and_report(scenario, tmp_path, source="baseline")
    html = paths["report.html"].read_text()
    assert "MSER-5 deletes the first" in html
    assert html.count("<svg") == 10  # with the oracle gap bridge: milp+ml and the oracle


@pytest.mark.slow
def test_forecast_sources_of_one_policy_are_compared_downstream(tmp_path):
    scenario = scenarios.load("policy_comparison", [
        "horizon_days=20", "warmup_days=7", "replications=2",
        "policies=[{name: milp, label: milp+historical, params: {forecast: historical}},"
        " {name: milp, label: milp+perfect, params: {forecast: perfect}}]",
    ])
    _, paths = run_and_report(scenario, tmp_path, source="policy_comparison")
    html = paths["report.html"].read_text()
    assert "What better forecasting is worth: milp" in html
    assert "perfect <span class=\"ci\">(milp+perfect)</span>" in html
    assert "vs\n  historical" in html
    assert "Forecast MAE (arrivals/day)" in html


@pytest.mark.slow
def test_one_ml_milp_gets_the_backtest_and_solver_tables_kept_for_rebuilds(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("HOSPSIM_CACHE", str(tmp_path / "cache"))
    scenario = scenarios.load("policy_comparison", [
        "horizon_days=20", "warmup_days=7", "replications=2",
        "policies=[{name: milp, params: {forecast: ml}}]",
    ])
    out = tmp_path / "run"
    study, paths = run_and_report(scenario, out, source="policy_comparison")
    html = paths["report.html"].read_text()
    assert "Forecast error gains" in html and "Each policy against" not in html
    assert "Breakeven: where one more bed stops paying for itself" in html
    solves = pd.read_parquet(out / "solves.parquet")
    assert len(solves) == 2 * len(solves[solves["replication"] == 0]) > 10
    assert "The morning solver" in html and f"<td>{len(solves)}</td>" in html
    table = pd.read_csv(out / "forecast_backtest.csv", dtype={"horizon": str})
    overall = table[(table["horizon"] == "all") & (table["freq"] == "daily")]
    assert {"historical_average", "linear", "random_forest", "xgboost"} <= set(overall["model"])
    linear = overall.set_index("model").loc["linear"]
    assert f"<td>linear</td><td>{number(linear['rmse'])}</td>" in html
    assert "## Forecast error gains" in paths["summary.md"].read_text()

    def recompute(_):
        raise AssertionError("the backtest should come from the cache or the results folder")

    monkeypatch.setattr(backtest, "_run_backtest", recompute)
    cached = backtest.backtest_table(study.scenario)
    pd.testing.assert_frame_equal(cached, table)
    (out / "report.html").unlink()
    write_report(out)
    assert "Forecast error gains" in (out / "report.html").read_text()


def test_the_oracle_is_the_milps_perfect_information_row():
    scenario = scenarios.load("baseline", [
        "policies=[{name: baseline}, {name: milp, label: milp+ml, params: {forecast: ml}},"
        " {name: oracle}]",
    ])
    rng = np.random.default_rng(1)
    shared = rng.normal(1e6, 5e4, 8)  # common random numbers: noise both policies share
    kpis = pd.DataFrame({
        "policy": ["baseline"] * 8 + ["milp+ml"] * 8 + ["oracle"] * 8,
        "replication": list(range(8)) * 3,
        "cost_total": np.concatenate([shared + 9e4, shared + 5e4, shared]),
        "staffed_bed_days": 100.0, "occupied_bed_days": 90.0,
    })
    (group,) = forecast_value(kpis, scenario)
    assert (group["name"], group["reference"]) == ("milp", "ml")
    ml, truth = group["rows"]
    assert (ml["source"], truth["source"], truth["policy"]) == (
        "ml", "perfect information", "oracle")
    cost = group["columns"].index("Total cost")
    assert ml["cells"][cost]["diff"] is None
    assert truth["cells"][cost]["diff"].startswith("−50,000 (")  # exact: the noise is shared
    (sentence,) = forecast_sentences([group])
    assert "milp: perfect information instead of ml changes total cost by −50,000" in sentence
    assert [knows_the_future(s) for s in scenario.policies] == [False, False, True]


def test_a_verdict_needs_the_whole_interval_on_one_side_of_the_target():
    assert verdict([0.01, 0.02, 0.015, 0.012], 0.05)[0] == "meets"
    assert verdict([0.20, 0.25, 0.22, 0.21], 0.05)[0] == "breaches"
    assert verdict([0.02, 0.09, 0.04, 0.07], 0.05)[0] == "undecided"  # CI straddles 5%
    assert verdict([0.03], 0.05)[0] == "undecided"  # one replication: no interval
    assert verdict([0.05, 0.05, 0.05], 0.05)[0] == "meets"  # at the target is within it
    # a count whose target is 0: met only if no replication had one; one case proves the
    # mean is above 0, however wide the interval
    assert verdict([0, 0, 0, 0], 0)[0] == "meets"
    result, mean, low, high = verdict([0, 0, 1, 0], 0)
    assert result == "breaches"
    assert low == 0 < high and mean == 0.25  # the interval is cut at 0


SERVICE = "policies=[{name: static}, {name: baseline}, {name: greedy}, {name: oracle}]"


def _kpis(cost: dict, refusals: dict, waits: dict | None = None) -> pd.DataFrame:
    """Synthetic replications: per policy a mean cost and ICU refusal rate (with a little
    spread), every other service level met."""
    rows = []
    for policy in cost:
        for r, noise in enumerate((-1, 0, 1, 0.5, -0.5)):
            rows.append({"policy": policy, "replication": r,
                         "cost_total": cost[policy] * (1 + 0.01 * noise),
                         "icu_refusal_rate": refusals[policy] + 0.002 * noise,
                         "long_wait_share": (waits or {}).get(policy, 0.01) + 0.002 * noise,
                         "elective_cancellation_rate": 0.0,
                         "ventilator_shortfall_patients": 0.0})
    return pd.DataFrame(rows)


def test_the_cheapest_policy_is_not_best_if_it_breaches_a_service_level():
    scenario = scenarios.load("baseline", [SERVICE])
    kpis = _kpis(cost={"static": 1e6, "baseline": 2e6, "greedy": 3e6, "oracle": 0.5e6},
                 refusals={"static": 0.20, "baseline": 0.02, "greedy": 0.01, "oracle": 0.01})
    section = service_section(kpis, scenario, ["static", "baseline", "greedy", "oracle"])
    assert section["best"] == "baseline"  # not static (breaches), not oracle (a bound)
    assert section["lead"] == "baseline"
    assert "the lowest mean total cost of the 2 of 3 that meet every service level" in (
        section["rest"])
    assert "Cheaper, but not meeting them: static breaches ICU refusal rate." in section["rest"]
    assert "oracle knows the future: a bound, never named best." in section["rest"]
    static = next(row for row in section["rows"] if row["policy"] == "static")
    assert static["cells"][0] == {"mean": "20.0%", "low": "19.8", "high": "20.2%",
                                  "verdict": "breaches"}
    assert [level["target"] for level in section["levels"]] == ["≤ 5%", "≤ 5%", "≤ 1%", "≤ 0"]


def test_when_every_policy_breaches_the_summary_names_no_winner():
    scenario = scenarios.load("baseline", [SERVICE])
    kpis = _kpis(cost={"static": 1e6, "baseline": 2e6, "greedy": 3e6, "oracle": 0.5e6},
                 refusals={"static": 0.20, "baseline": 0.30, "greedy": 0.05, "oracle": 0.01},
                 waits={"greedy": 0.12})
    section = service_section(kpis, scenario, ["static", "baseline", "greedy", "oracle"])
    assert section["best"] is None
    assert section["lead"] == "No policy a hospital could run meets every service level"
    assert section["shortfalls"] == [
        "static breaches ICU refusal rate", "baseline breaches ICU refusal rate",
        "greedy breaches waits beyond target and is undecided on ICU refusal rate"]
    assert section["rest"].startswith(
        ", so none is named best: static breaches ICU refusal rate; baseline breaches ICU "
        "refusal rate; greedy breaches waits beyond target and is undecided on ICU refusal "
        "rate. oracle knows the future: a bound, never named best.")
    assert "more replications may decide" in section["rest"]


def test_no_policy_is_named_best_when_the_cheapest_cannot_be_told_from_the_next():
    """baseline and greedy both meet every level and cost within 0.1% of each other with
    1% noise: the leader is named with the tie and the replications that would decide."""
    scenario = scenarios.load("baseline", [SERVICE])
    kpis = _kpis(cost={"static": 1e6, "baseline": 2e6, "greedy": 2.002e6, "oracle": 0.5e6},
                 refusals={"static": 0.20, "baseline": 0.02, "greedy": 0.01, "oracle": 0.01})
    kpis.loc[kpis["policy"] == "greedy", "cost_total"] += np.array([3e4, -2e4, 1e4, -3e4, 0])
    section = service_section(kpis, scenario, ["static", "baseline", "greedy", "oracle"])
    assert section["best"] is None
    assert section["lead"] == "No policy is named best at 5 replications"
    assert section["rest"].startswith(": baseline has the lowest mean total cost of the 2 of 3 "
                                      "that meet every service level, but cannot be told "
                                      "from greedy (cost +")
    assert "replications would tell them apart" in section["rest"]


def test_the_per_unit_table_reads_each_units_kpis_beside_its_beds():
    scenario = scenarios.load("baseline")
    rows = [{"policy": "p", "replication": r, "seed": r, "mean_census.icu": 14.0 + r,
             "staffed_beds.icu": 18.0, "idle_pct.icu": 20.0 + r, "premium_bed_days.icu": 0.0}
            for r in range(3)]
    summary = summarise(pd.DataFrame(rows)).set_index(["policy", "kpi"])
    icu = next(row for row in unit_table(summary, scenario, ["p"]) if row["unit"] == "icu")
    assert icu["beds"] == next(u.beds for u in scenario.units if u.name == "icu")
    assert icu["cells"] == [{"census": "15.0", "staffed": "18.0", "idle": "21.0",
                             "premium": None}]


def test_the_summary_keeps_the_space_after_the_named_best_policy(tmp_path):
    from experiments.report.comparison import summary_markdown

    context = {"scenario": scenarios.load("baseline"), "policies": ["a_b"], "n": 3,
               "service": {"lead": "a_b", "rest": " is the best policy", "levels": []},
               "findings": [], "forecast_sentences": [], "error_curves": [],
               "bridge_sentence": None, "table": [], "forecast_value": [], "bridge": None,
               "forecast_errors": None, "breakeven": None}
    assert "**a\\_b** is the best policy" in summary_markdown(context, None)
