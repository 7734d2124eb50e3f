"""Admission forecasting: metrics by hand, no look-ahead, the backtest protocol, and models
against the historical-average reference and the true-mean floor on series whose truth is known."""

from typing import ClassVar

import holidays
import numpy as np
import pandas as pd
import pytest

from forecasting.admissions import (
    DayOfWeekAverage,
    HistoricalAverage,
    LinearRegression,
    SeasonalNaive,
    XGBoost,
    make_model,
    model_names,
)
from forecasting.backtest import backtest, plot_backtest, rolling_origins, weekly_forecasts
from forecasting.features import FeatureSpec, calendar_features, history_features
from forecasting.metrics import error_table, mae, mape, r2, rmse

DAY = pd.Timedelta(days=1)
WEEKDAY = np.array([1.2, 1.1, 1.05, 1.0, 1.0, 0.7, 0.85])
FAST = {
    "linear": LinearRegression(),
    "xgboost": XGBoost(n_estimators=150, learning_rate=0.1),
}


def synthetic(
    days: int = 730, level: float = 60.0, seed: int = 0, unit: str = "ward"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Negative binomial admissions (dispersion 50) around a known mean: weekday x annual
    Fourier x holiday (0.6) and day-after (1.2) effects. Returns (admissions, expected)."""
    dates = pd.date_range("2022-01-01", periods=days, freq="D")
    calendar = holidays.country_holidays("US", subdiv="NY", years=range(2021, 2026))
    off = pd.DatetimeIndex(list(calendar))
    angle = 2 * np.pi * dates.day_of_year.to_numpy() / 365.25
    season = 1 + 0.15 * np.cos(angle - 0.3) + 0.05 * np.sin(2 * angle)
    holiday = np.where(dates.isin(off), 0.6, 1.0) * np.where((dates - DAY).isin(off), 1.2, 1.0)
    mean = level * WEEKDAY[dates.day_of_week] * season * holiday
    rng = np.random.default_rng(seed)
    counts = rng.negative_binomial(50, 50 / (50 + mean))
    frame = pd.DataFrame({"date": dates, "unit": unit})
    return frame.assign(admissions=counts), frame.assign(expected=mean)


@pytest.fixture(scope="module")
def structured():
    """A two-year backtest of the fast models on one unit with weekday, annual and holiday
    structure; shared because it is the slow part of this file."""
    admissions, expected = synthetic()
    models = {**FAST, "random_forest": make_model("random_forest", n_estimators=60)}
    return backtest(admissions, models, expected, test_days=182, refit_every=8)


def test_metrics_match_hand_computed_values():
    actual, predicted = [1, 2, 0, 4], [2, 2, 1, 2]  # errors -1, 0, -1, 2
    assert rmse(actual, predicted) == pytest.approx(np.sqrt(6 / 4))
    assert mae(actual, predicted) == pytest.approx(1.0)
    assert mape(actual, predicted) == pytest.approx(100 * (1 + 0 + 0.5) / 3)  # the 0 is skipped
    assert r2(actual, predicted) == pytest.approx(1 - 6 / 8.75)  # SST around 1.75
    assert error_table(actual, predicted) == {
        "n": 4, "rmse": rmse(actual, predicted), "mae": 1.0, "mape": 50.0,
        "r2": r2(actual, predicted),
    }
    assert np.isnan(mape([0, 0], [1, 2])) and np.isnan(r2([3, 3], [1, 2]))
    with pytest.raises(ValueError):
        rmse([1, 2], [1])


def test_calendar_features_mark_weekdays_and_holidays():
    dates = pd.date_range("2023-07-02", "2023-07-06", freq="D")  # Sunday .. Thursday
    features = calendar_features(dates, fourier_order=2)
    dow = features[[f"dow_{d}" for d in range(7)]]
    assert (dow.sum(axis=1) == 1).all() and dow.loc["2023-07-02", "dow_6"] == 1
    assert features["holiday"].tolist() == [0, 0, 1, 0, 0]  # 4 July
    assert features["holiday_before"].tolist() == [0, 1, 0, 0, 0]
    assert features["holiday_after"].tolist() == [0, 0, 0, 1, 0]
    assert {"sin_2", "cos_2"} <= set(features) and "sin_3" not in features


def test_history_features_never_read_past_the_origin():
    series = synthetic()[0].set_index("date")["admissions"].astype(float)
    origin = series.index[400]
    targets = pd.date_range(origin + DAY, periods=14, freq="D")
    changed = series.copy()
    changed[changed.index > origin] *= 3  # the future, as it might have turned out
    spec = FeatureSpec()
    assert spec.build(series, targets)[0].equals(spec.build(changed, targets)[0])
    assert spec.build(series.loc[:origin], targets)[0].equals(spec.build(series, targets)[0])
    with pytest.raises(ValueError, match="more than 14 days"):
        spec.build(series.loc[:origin], targets.union([origin + 15 * DAY]))
    with pytest.raises(ValueError, match="look-ahead"):
        history_features(series, targets, lags=(7,))


@pytest.mark.slow
def test_backtest_forecasts_do_not_depend_on_days_after_their_origin():
    admissions, _ = synthetic()
    cut = admissions["date"].iloc[600]
    changed = admissions.copy()
    later = changed["date"] > cut
    changed.loc[later, "admissions"] = changed.loc[later, "admissions"] * 2 + 5
    kept, moved = (
        backtest(frame, FAST, test_days=182, refit_every=2).forecasts
        for frame in (admissions, changed)
    )
    before = kept["origin"] <= cut
    assert before.sum() > 0 and (~before).sum() > 0
    pd.testing.assert_series_equal(kept.loc[before, "forecast"], moved.loc[before, "forecast"])
    assert not np.allclose(kept.loc[~before, "forecast"], moved.loc[~before, "forecast"])


class Spy(HistoricalAverage):
    """Records the last day of every history it is fitted on or forecasts from."""

    calls: ClassVar[list[tuple[str, pd.Timestamp]]] = []

    def fit(self, history):
        Spy.calls.append(("fit", history.index[-1]))
        return super().fit(history)

    def predict(self, history, horizon=14):
        Spy.calls.append(("predict", history.index[-1]))
        return super().predict(history, horizon)


def test_backtest_origins_are_ordered_and_training_precedes_every_target():
    admissions, _ = synthetic(days=500)
    Spy.calls.clear()
    result = backtest(admissions, {"spy": Spy()}, test_days=120, step=7, refit_every=3)
    forecasts = result.forecasts[result.forecasts["model"] == "spy"]
    origins = rolling_origins(pd.DatetimeIndex(admissions["date"]), 120, 7, 14)
    assert forecasts["origin"].unique().tolist() == origins.tolist()
    assert (np.diff(origins.asi8) > 0).all() and origins[-1] + 14 * DAY <= admissions["date"].max()
    assert ((forecasts["date"] - forecasts["origin"]).dt.days == forecasts["horizon"]).all()

    predicted = [day for kind, day in Spy.calls if kind == "predict"]
    assert predicted == origins.tolist() * 2  # the unit, then the total
    fitted_through = None
    for kind, day in Spy.calls:
        if kind == "fit":
            fitted_through = day
        else:  # the fit in use saw nothing after this origin, and all targets follow it
            assert fitted_through <= day
    assert [kind for kind, _ in Spy.calls].count("fit") == 2 * int(np.ceil(origins.size / 3))


@pytest.mark.slow
def test_models_beat_the_historical_average_but_not_the_true_mean(structured):
    table = structured.table
    overall = table[(table["unit"] == "total") & (table["horizon"] == "all")]
    daily = overall[overall["freq"] == "daily"].set_index("model")
    weekly = overall[overall["freq"] == "weekly"].set_index("model")
    floor = daily.loc["true_mean", "rmse"]
    best = daily.loc[["linear", "xgboost", "random_forest"], "rmse"].idxmin()
    assert daily.loc[best, "rmse_reduction_pct"] > 15  # weekday, season and holidays learnt
    assert daily.loc[best, "mae_reduction_pct"] > 15
    assert 0.97 * floor <= daily.loc[best, "rmse"] <= 1.15 * floor
    assert daily.loc["historical_average", "rmse_reduction_pct"] == 0
    assert weekly.loc[best, "rmse"] < weekly.loc["historical_average", "rmse"]
    assert weekly.loc[best, "rmse"] >= 0.9 * weekly.loc["true_mean", "rmse"]


@pytest.mark.slow
def test_backtest_reports_every_model_unit_and_horizon(structured, tmp_path):
    table = structured.table
    models = {"historical_average", "linear", "xgboost", "random_forest", "true_mean"}
    assert set(table["model"]) == models and set(table["unit"]) == {"ward", "total"}
    daily = table[table["freq"] == "daily"]
    assert set(daily["horizon"]) == {*range(1, 15), "all"}
    assert set(table.loc[table["freq"] == "weekly", "horizon"]) == {1, 2, "all"}
    assert structured.forecasts.columns.tolist() == [
        "origin", "date", "horizon", "model", "unit", "forecast", "actual",
    ]
    path = plot_backtest(structured, tmp_path / "backtest.png")
    assert path.stat().st_size > 10_000


def test_weekly_forecasts_sum_seven_days_per_origin():
    origin = pd.Timestamp("2024-01-07")
    daily = pd.DataFrame({
        "origin": origin,
        "date": pd.date_range(origin + DAY, periods=15, freq="D"),
        "horizon": range(1, 16),
        "model": "m",
        "unit": "u",
        "forecast": np.arange(1.0, 16.0),
        "actual": 2.0,
    })
    weekly = weekly_forecasts(daily)
    assert weekly["horizon"].tolist() == [1, 2]  # the 15th day starts a partial week: dropped
    assert weekly["forecast"].tolist() == [sum(range(1, 8)), sum(range(8, 15))]
    assert weekly["actual"].tolist() == [14.0, 14.0]
    assert weekly["date"].tolist() == [origin + DAY, origin + 8 * DAY]


def test_baselines_on_a_pure_weekly_pattern():
    dates = pd.date_range("2024-01-01", periods=70, freq="D")  # starts on a Monday
    pattern = np.array([30.0, 28, 27, 26, 25, 12, 15])
    series = pd.Series(pattern[dates.day_of_week], index=dates)
    expected = pattern[(np.arange(14) + 70) % 7]
    for model in (SeasonalNaive(7), DayOfWeekAverage()):
        assert np.array_equal(model.fit(series).predict(series, 14).to_numpy(), expected)
    assert np.allclose(HistoricalAverage().fit(series).predict(series, 3), pattern.mean())

    unusual = series.copy()
    unusual.iloc[-7:] += 10  # seasonal naive repeats last week; the weekday mean barely moves
    naive = SeasonalNaive(7).fit(unusual).predict(unusual, 14).to_numpy()
    assert np.array_equal(naive, expected + 10)
    weekday = DayOfWeekAverage().fit(unusual).predict(unusual, 14).to_numpy()
    assert np.allclose(weekday, expected + 1)


def test_feature_models_forecast_next_to_nothing_for_a_closed_unit():
    rng = np.random.default_rng(3)
    dates = pd.date_range("2023-01-01", periods=520, freq="D")
    counts = np.where(np.arange(520) < 400, rng.poisson(5, 520), 0)  # closed for 120 days
    series = pd.Series(counts, index=dates)
    for name in ("linear", "xgboost"):
        forecast = make_model(name).fit(series).predict(series, 14)
        assert forecast.between(0, 0.5).all()


def test_registry_builds_every_model_by_name():
    assert model_names() == [
        "linear", "random_forest", "xgboost", "historical_average", "dow_average",
        "seasonal_naive",
    ]
    assert make_model("random_forest", n_estimators=10).get_params()["n_estimators"] == 10
    assert make_model("xgboost").get_params()["n_jobs"] <= 2
    with pytest.raises(ValueError, match="available: linear"):
        make_model("arima")
