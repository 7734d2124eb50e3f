"""`hospsim data synth` and `hospsim forecast ...` end to end on small data."""

import pandas as pd
import pytest
from typer.testing import CliRunner

from experiments.cli import app

runner = CliRunner()


@pytest.mark.slow
def test_synth_then_backtest_beats_the_historical_average(tmp_path):
    synth = runner.invoke(app, ["data", "synth", "--years", "2", "--out", str(tmp_path / "d")])
    assert synth.exit_code == 0, synth.output
    result = runner.invoke(app, ["forecast", "backtest", "--data", str(tmp_path / "d"),
                                 "--test-days", "120", "--out", str(tmp_path / "f")])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(tmp_path / "f" / "backtest.csv")
    total = table[(table["unit"] == "total") & (table["freq"] == "daily")
                  & (table["horizon"] == "all")].set_index("model")
    best = total.drop(index=["historical_average", "true_mean"])["rmse"].min()
    assert best < total.loc["historical_average", "rmse"]
    assert total.loc["true_mean", "rmse"] <= best * 1.05  # the floor, within noise
    assert (tmp_path / "f" / "backtest_total.png").stat().st_size > 10_000


@pytest.mark.slow
def test_los_on_a_user_sparcs_file(tmp_path):
    runner.invoke(app, ["data", "synth", "--years", "1", "--out", str(tmp_path / "d")])
    result = runner.invoke(app, ["forecast", "los", "--data", str(tmp_path / "d" / "sparcs.csv"),
                                 "--kind", "linear", "--out", str(tmp_path / "f")])
    assert result.exit_code == 0, result.output
    metrics = pd.read_csv(tmp_path / "f" / "los_metrics.csv").set_index("model")
    assert 0.1 < metrics.loc["linear", "r2"] < 0.5  # honest: no discharge-time columns
    calibration = pd.read_csv(tmp_path / "f" / "los_calibration.csv")
    assert (calibration["share_below"] - calibration["q"]).abs().max() < 0.05


def test_forecast_errors_name_the_problem(tmp_path):
    bad = tmp_path / "admissions.csv"
    bad.write_text("date,unit,admissions\n2024-01-01,medicine,3\n2024-01-02,medicine,x\n")
    result = runner.invoke(app, ["forecast", "backtest", "--data", str(bad)])
    assert result.exit_code == 2 and "row 3" in result.output
    result = runner.invoke(app, ["forecast", "backtest", "--model", "arima"])
    assert result.exit_code == 2 and "unknown --model 'arima'" in result.output
    assert "linear_lag14" in result.output
    result = runner.invoke(app, ["forecast", "los", "--kind", "gbm"])
    assert result.exit_code == 2 and "unknown --kind 'gbm'" in result.output


@pytest.mark.slow
def test_backtest_by_horizon_through_a_scenarios_surge(tmp_path):
    """A pandemic wave cut to 120 days: origins every day from four weeks before the wave to
    the run's end, models fitted once before it; the horizon-aware forecaster, reading the
    last days, must beat the lag-14 one in the first days ahead."""
    short = tmp_path / "short_pandemic.yaml"
    short.write_text("extends: pandemic_surge\nname: short_pandemic\nhorizon_days: 120\n")
    out = tmp_path / "f"
    result = runner.invoke(app, ["forecast", "backtest", "--scenario", str(short),
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "backtest_by_horizon.csv", dtype={"horizon": str})
    total = table[table["unit"] == "total"].set_index("horizon")
    assert total.index.tolist() == [*map(str, range(1, 15)), "all"]
    assert {"rmse_linear", "rmse_linear_lag14", "mape_linear", "r2_linear_lag14"} <= set(total)
    assert (total.loc[["1", "2", "3"], "rmse_change_pct"] < -5).all()
    forecasts = pd.read_csv(out / "forecasts.csv", parse_dates=["origin"])
    assert forecasts["origin"].min() == pd.Timestamp("2025-01-01") + pd.Timedelta(days=60 - 28)
    assert (out / "backtest_by_horizon.png").stat().st_size > 10_000
    clash = runner.invoke(app, ["forecast", "backtest", "--scenario", "baseline",
                                "--data", str(short)])
    assert clash.exit_code == 2 and "not both" in clash.output
