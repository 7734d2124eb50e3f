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
from forecasting.features import HORIZON_AWARE, LAG_14, FeatureSpec, calendar_features
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
    models = {**FAST, "random_forest": make_model("random_forest", n_estimators=20)}
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


@pytest.mark.parametrize("gaps", [HORIZON_AWARE, LAG_14])
def test_each_horizons_features_never_read_past_the_origin(gaps):
    series = synthetic()[0].set_index("date")["admissions"].astype(float)
    origin = series.index[400]
    spec = FeatureSpec(gaps=gaps)
    for horizon in range(1, 15):
        target = pd.DatetimeIndex([origin + horizon * DAY])
        gap = spec.gap(horizon)
        changed = series.copy()
        changed[changed.index > origin] *= 3  # the future, as it might have turned out
        built = spec.build(series, target, gap)[0]
        assert built.equals(spec.build(changed, target, gap)[0])
        assert built.equals(spec.build(series.loc[:origin], target, gap)[0])
        latest = series.copy()
        latest[origin] += 50  # the last day known at the origin
        fresh = not built.equals(spec.build(latest, target, gap)[0])
        assert fresh == (gap == horizon), horizon  # its windows end at the origin
    with pytest.raises(ValueError, match="more than 14 days"):
        spec.build(series.loc[:origin], pd.DatetimeIndex([origin + 15 * DAY]), 14)
    with pytest.raises(ValueError, match="more than 1 days"):
        spec.build(series.loc[:origin], pd.DatetimeIndex([origin + 2 * DAY]), 1)
    with pytest.raises(ValueError, match="look-ahead"):
        FeatureSpec(lags=(7,), gaps=gaps)


def test_a_horizons_model_reads_lags_of_its_weekday_at_its_gap():
    spec = FeatureSpec(lags=(14, 21, 28), gaps=(1, 3, 7, 14))
    assert spec.gap(np.arange(1, 15)).tolist() == [1, 3, 3, 7, 7, 7, 7, *[14] * 7]
    assert spec.lags_at(np.array([1, 7, 8, 14])).tolist() == [
        [7, 14, 21], [7, 14, 21], [14, 21, 28], [14, 21, 28]]
    with pytest.raises(ValueError, match=r"within 1\.\.14"):
        spec.gap(np.array([15]))


@pytest.mark.slow
def test_backtest_forecasts_do_not_depend_on_days_after_their_origin():
    admissions, _ = synthetic()
    cut = admissions["date"].iloc[630]
    changed = admissions.copy()
    later = changed["date"] > cut
    changed.loc[later, "admissions"] = changed.loc[later, "admissions"] * 2 + 5
    light = {"linear": LinearRegression(), "xgboost": XGBoost(n_estimators=30, learning_rate=0.3)}
    kept, moved = (
        backtest(frame, light, test_days=126, step=14, refit_every=2).forecasts
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


def test_quantiles_are_calibrated_on_a_later_year():
    """Central 50/80/95% intervals (quantiles from the errors of each horizon's model on the
    last of two training years) against a third, later year, as the LOS quantiles are checked.
    Origins every 3 days, horizons 1..14: ~1,600 forecasts of ~350 distinct days, so each
    coverage is known to about +-0.03 (0.01 at 95%); the tolerances allow that twice."""
    series = synthetic(days=1095)[0].set_index("date")["admissions"].astype(float)
    fitted = series.index[729]
    model = LinearRegression(interval_days=365).fit(series.loc[:fitted])
    levels = (0.025, 0.1, 0.25, 0.5, 0.75, 0.9, 0.975)
    inside = {0.5: [], 0.8: [], 0.95: []}
    for origin in pd.date_range(fitted, series.index[-15], freq="3D"):
        quantiles = model.predict_quantiles(series.loc[:origin], 14, levels)
        actual = series.reindex(quantiles.index).to_numpy()
        assert (np.diff(quantiles.to_numpy(), axis=1) >= 0).all()  # ordered levels
        for k, width in enumerate(inside):
            low, high = quantiles[levels[2 - k]], quantiles[levels[4 + k]]
            inside[width].extend((actual >= low) & (actual <= high))
    coverage = {width: float(np.mean(hits)) for width, hits in inside.items()}
    assert abs(coverage[0.5] - 0.5) < 0.06, coverage
    assert abs(coverage[0.8] - 0.8) < 0.06, coverage
    assert abs(coverage[0.95] - 0.95) < 0.03, coverage
    with pytest.raises(ValueError, match="interval_days"):
        LinearRegression().fit(series).predict_quantiles(series, 7, (0.5,))


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
