"""The comparison report: self-contained, every section present, rebuildable."""

import re

import numpy as np
import pandas as pd
from typer.testing import CliRunner

import scenarios
from experiments import forecast_errors
from experiments.cli import app
from experiments.report import (
    forecast_sentences,
    forecast_value,
    knows_the_future,
    number,
    write_report,
)
from experiments.study import run_study

CHEAP = "policies=[{name: static}, {name: baseline}]"  # the study, not the policies, under test


def test_report_is_self_contained_with_every_section(tmp_path):
    scenario = scenarios.load("winter_peak", ["horizon_days=30", "warmup_days=7",
                                              "replications=3", CHEAP])
    stale = pd.DataFrame({"policy": ["baseline"], "milp": [True], "fallback": [""]})
    stale.to_parquet(tmp_path / "solves.parquet")  # an earlier run's, into the same folder
    (tmp_path / "forecast_backtest.csv").write_text("model,rmse\nlinear,1.0\n")
    study = run_study(scenario, tmp_path, source="winter_peak")
    html = study.paths["report.html"].read_text()
    assert not (tmp_path / "solves.parquet").exists()
    for heading in ("In 30 seconds", "Key indicators", "Each policy against static",
                    "Occupancy over the year", "When the peaks come", "How much it varies",
                    "Ventilators", "Breakeven: where one more bed stops paying for itself",
                    "Reproducibility"):
        assert heading in html
    assert "Forecast error gains" not in html  # no policy plans with a trained forecast
    assert "The morning solver" not in html  # no policy solves a MILP
    assert not (tmp_path / "forecast_backtest.csv").exists()
    assert html.count("<svg") == 6
    assert not re.search(r"(src|href)=\"https?://", html)  # nothing fetched from a network
    assert "What this scenario changes in the one it extends" in html
    assert "respiratory season" in html  # the diff against baseline shows the surge
    assert "baseline against static:" in study.paths["summary.md"].read_text()


def test_report_command_rebuilds_from_a_results_folder(tmp_path):
    run_study(scenarios.load("baseline", ["horizon_days=20", "warmup_days=5",
                                          "replications=2", CHEAP]), tmp_path, source="baseline")
    (tmp_path / "report.html").unlink()
    result = CliRunner().invoke(app, ["report", str(tmp_path), "--reference", "baseline"])
    assert result.exit_code == 0, result.output
    assert "Each policy against baseline" in (tmp_path / "report.html").read_text()
    missing = CliRunner().invoke(app, ["report", str(tmp_path / "nothing")])
    assert missing.exit_code == 2 and "no manifest.json" in missing.output


def test_an_auto_warmup_is_shown_with_its_mser_plot(tmp_path):
    scenario = scenarios.load("baseline", ["horizon_days=60", "warmup_days=auto",
                                           "replications=2"])
    study = run_study(scenario, tmp_path, source="baseline")
    html = study.paths["report.html"].read_text()
    assert "MSER-5 deletes the first" in html
    assert html.count("<svg") == 7


def test_forecast_sources_of_one_policy_are_compared_downstream(tmp_path):
    scenario = scenarios.load("policy_comparison", [
        "horizon_days=20", "warmup_days=7", "replications=2",
        "policies=[{name: milp, label: milp+historical, params: {forecast: historical}},"
        " {name: milp, label: milp+perfect, params: {forecast: perfect}}]",
    ])
    study = run_study(scenario, tmp_path, source="policy_comparison")
    html = study.paths["report.html"].read_text()
    assert "What better forecasting is worth: milp" in html
    assert "perfect <span class=\"ci\">(milp+perfect)</span>" in html
    assert "vs\n  historical" in html
    assert "Forecast MAE (arrivals/day)" in html


def test_one_ml_milp_gets_the_backtest_and_solver_tables_kept_for_rebuilds(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("HOSPSIM_CACHE", str(tmp_path / "cache"))
    scenario = scenarios.load("policy_comparison", [
        "horizon_days=20", "warmup_days=7", "replications=2",
        "policies=[{name: milp, params: {forecast: ml}}]",
    ])
    out = tmp_path / "run"
    study = run_study(scenario, out, source="policy_comparison")
    html = study.paths["report.html"].read_text()
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
    assert "## Forecast error gains" in study.paths["summary.md"].read_text()

    def recompute(_):
        raise AssertionError("the backtest should come from the cache or the results folder")

    monkeypatch.setattr(forecast_errors, "_run_backtest", recompute)
    cached = forecast_errors.backtest_table(study.scenario)
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
