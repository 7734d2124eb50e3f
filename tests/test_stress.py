"""Stress sweeps: parsing, breaking points with their certainty, shipped studies."""

import pandas as pd
import pytest
from typer.testing import CliRunner

from experiments.cli import app
from experiments.study.stress import (
    Condition,
    Sweep,
    _breaking_points,
    load_study,
    run_stress,
    study_names,
)


def test_sweep_and_condition_parsing():
    assert Sweep.parse("ventilators=10:16:2").values == [10, 12, 14, 16]
    assert Sweep.parse("surges.0.arrival_multiplier=1:1.2:0.1").values == [1.0, 1.1, 1.2]
    with pytest.raises(ValueError, match="PATH=START:STOP:STEP"):
        Sweep.parse("ventilators=10:16")
    condition = Condition.parse("icu_refusal_rate>0.05")
    assert (condition.kpi, condition.op, condition.threshold) == ("icu_refusal_rate", ">", 0.05)
    assert condition.holds(0.06) and not condition.holds(0.05)
    with pytest.raises(ValueError, match="KPI>THRESHOLD"):
        Condition.parse("icu_refusal_rate is high")


def test_breaking_points_interpolate_the_mean_and_bound_it_by_the_ci():
    curve = pd.DataFrame({"value": [1, 2, 3, 4], "mean": [0.02, 0.04, 0.08, 0.12],
                          "ci_low": [0.01, 0.03, 0.045, 0.10],
                          "ci_high": [0.03, 0.055, 0.11, 0.14]})
    crossing, certain, possible = _breaking_points(curve, Condition.parse("x>0.05"))
    assert crossing == pytest.approx(2.25)  # 0.04 -> 0.08 crosses 0.05 a quarter of the way
    assert (certain, possible) == (4, 2)


@pytest.mark.slow
def test_sweep_finds_the_ventilators_needed(tmp_path):
    result = run_stress(
        "pandemic_surge", Sweep.parse("ventilators=4:16:6"),
        Condition.parse("ventilator_shortfall_days_per_month<1"), tmp_path,
        overrides=["horizon_days=150", "warmup_days=14", "replications=3"], policy="static",
    )
    means = result.curve.set_index("value")["mean"]
    assert means[4] > means[10] >= 0  # more ventilators, less shortfall
    assert result.crossing is not None and 4 < result.crossing <= 16
    assert (tmp_path / "value=4" / "kpis.csv").is_file()


@pytest.mark.slow
def test_shipped_studies_load_and_the_cli_writes_the_report(tmp_path):
    assert set(study_names()) >= {"surge_absorption", "ventilators_needed"}
    assert load_study("ventilators_needed").until.startswith("ventilator_shortfall")
    result = CliRunner().invoke(app, [
        "stress", "--study", "surge_absorption", "--vary",
        "surges.0.arrival_multiplier=1.0:1.3:0.3", "-n", "2", "--out", str(tmp_path),
        "--set", "horizon_days=120", "--set", "warmup_days=14",
    ])
    assert result.exit_code == 0, result.output
    assert "icu_refusal_rate > 0.05" in result.output
    html = (tmp_path / "stress.html").read_text()
    assert "<svg" in html and "Stress test: pandemic_surge" in html
    assert list(pd.read_csv(tmp_path / "stress.csv").columns[:3]) == ["value", "mean", "ci_low"]
