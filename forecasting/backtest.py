"""Rolling-origin (expanding window) backtest of daily admission forecasters, per unit and in
total, scored against the historical average and, on synthetic data, the true-mean floor.

Origins fall every `step` days over the last `test_days` of the data. An origin is the last
observed day; its forecasts are for the `horizon` days after it, and only origins with all of
those days observed are used, so every horizon is scored on the same origins. At every
`refit_every`-th origin each model is refitted on all days up to that origin; in between it keeps
that fit and forecasts from the history up to the new origin. That is still leakage-free: the
parameters were learnt from days up to an earlier origin, the features read days up to the
current origin only (the forecaster is handed `series.loc[:origin]`), and every target lies after
it. Refitting less often only makes a model staler than it could be: a handicap, not a leak.

The total (the sum over units) is forecast as a series of its own. Weekly totals are the sums of
days 1-7 and 8-14 after each origin, scored the same way as the days.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.dates import ConciseDateFormatter
from matplotlib.figure import Figure
from sklearn.base import clone

from forecasting.admissions import Forecaster, HistoricalAverage, TrueMean, make_model, model_names
from forecasting.features import DAY
from forecasting.metrics import error_table

REFERENCE = "historical_average"
FLOOR = "true_mean"
TOTAL = "total"
ALL = "all"
COLUMNS = ["origin", "date", "horizon", "model", "unit", "forecast", "actual"]


@dataclass(frozen=True)
class BacktestResult:
    table: pd.DataFrame
    """One row per unit (or 'total') x model x freq ('daily', 'weekly') x horizon (days or
    weeks ahead, and 'all'): n, rmse, mae, mape, r2, rmse_reduction_pct, mae_reduction_pct."""
    forecasts: pd.DataFrame
    """Every daily forecast: origin, date, horizon, model, unit, forecast, actual."""


def _by_unit(frame: pd.DataFrame, value: str) -> pd.DataFrame:
    """Date x unit table of `value` plus the total; a missing unit-day is an error, not a 0."""
    wide = frame.assign(date=pd.to_datetime(frame["date"])).pivot(
        index="date", columns="unit", values=value
    )
    if wide.isna().any(axis=None):
        raise ValueError(f"{value}: every unit needs a row on every day")
    wide = wide.sort_index().rename(columns=str)
    wide.columns.name = None
    wide[TOTAL] = wide.sum(axis=1)
    return wide


def rolling_origins(
    dates: pd.DatetimeIndex, test_days: int = 365, step: int = 7, horizon: int = 14
) -> pd.DatetimeIndex:
    """Every `step` days from `test_days` before the last date, while `horizon` days follow."""
    first, last = dates[-1] - test_days * DAY, dates[-1] - horizon * DAY
    if first <= dates[0] or first > last:
        raise ValueError(
            f"{dates.size} days cannot hold a {test_days}-day test period of {horizon}-day "
            "forecasts after some training history"
        )
    return pd.date_range(first, last, freq=f"{step}D")


def _forecast(
    model: Forecaster,
    series: pd.Series,
    origins: pd.DatetimeIndex,
    horizon: int,
    refit_every: int,
) -> pd.DataFrame:
    paths = []
    for k, origin in enumerate(origins):
        history = series.loc[:origin]
        if k % refit_every == 0:
            model.fit(history)
        paths.append(model.predict(history, horizon))
    forecast = pd.concat(paths)
    return pd.DataFrame({
        "origin": np.repeat(origins, horizon),
        "date": forecast.index,
        "horizon": np.tile(np.arange(1, horizon + 1), origins.size),
        "forecast": forecast.to_numpy(),
        "actual": series.reindex(forecast.index).to_numpy(),
    })


def weekly_forecasts(forecasts: pd.DataFrame) -> pd.DataFrame:
    """Weekly totals of daily forecasts: week w sums days 7(w-1)+1..7w after the origin (a
    partial last week is dropped); `date` is the week's first day, `horizon` is w."""
    grouped = forecasts.assign(horizon=(forecasts["horizon"] - 1) // 7 + 1).groupby(
        ["unit", "model", "origin", "horizon"], sort=False
    )
    weekly = grouped.agg(
        date=("date", "min"),
        days=("date", "size"),
        forecast=("forecast", "sum"),
        actual=("actual", "sum"),
    ).reset_index()
    return weekly.loc[weekly["days"] == 7, COLUMNS].reset_index(drop=True)


def score(forecasts: pd.DataFrame) -> pd.DataFrame:
    """Errors per unit, model and horizon and over all horizons, with the % reduction in RMSE
    and MAE against the historical average of the same unit and horizon."""
    rows = []
    for (unit, model), group in forecasts.groupby(["unit", "model"], sort=False):
        for horizon, part in [*group.groupby("horizon"), (ALL, group)]:
            rows.append({
                "unit": unit, "model": model, "horizon": horizon,
                **error_table(part["actual"], part["forecast"]),
            })
    table = pd.DataFrame(rows)
    keys = ["unit", "horizon"]
    reference = table.loc[table["model"] == REFERENCE, [*keys, "rmse", "mae"]]
    joined = table.merge(reference, on=keys, how="left", suffixes=("", "_reference"))
    for measure in ("rmse", "mae"):
        table[f"{measure}_reduction_pct"] = 100 * (
            1 - joined[measure] / joined[f"{measure}_reference"]
        )
    return table


def backtest(
    admissions: pd.DataFrame,
    models: Mapping[str, Forecaster] | None = None,
    expected: pd.DataFrame | None = None,
    test_days: int = 365,
    step: int = 7,
    horizon: int = 14,
    refit_every: int = 4,
    origins: pd.DatetimeIndex | None = None,
) -> BacktestResult:
    """Backtest `models` (default: every registered model; the historical average is always
    added as the reference) on each unit of `admissions` (date, unit, admissions) and on the
    total. `expected` (date, unit, expected), the generator's true mean, adds `true_mean`.
    `origins` (each followed by `horizon` observed days) replace the rolling ones, e.g. to
    forecast through a surge."""
    if min(step, horizon, refit_every) < 1:
        raise ValueError("step, horizon and refit_every must be at least 1")
    actual = _by_unit(admissions, "admissions")
    truth = None if expected is None else _by_unit(expected, "expected")
    if models is None:
        models = {name: make_model(name) for name in model_names()}
    models = {REFERENCE: HistoricalAverage(), **models}
    if origins is None:
        origins = rolling_origins(actual.index, test_days, step, horizon)
    elif origins.min() <= actual.index[0] or origins.max() + horizon * DAY > actual.index[-1]:
        raise ValueError(f"origins must leave history before them and {horizon} days after")
    parts = []
    for unit, series in actual.items():
        forecasters = {name: clone(model) for name, model in models.items()}
        if truth is not None:
            forecasters[FLOOR] = TrueMean(truth[unit])
        for name, model in forecasters.items():
            part = _forecast(model, series, origins, horizon, refit_every)
            parts.append(part.assign(model=name, unit=unit))
    forecasts = pd.concat(parts, ignore_index=True)[COLUMNS]
    table = pd.concat(
        [
            score(forecasts).assign(freq="daily"),
            score(weekly_forecasts(forecasts)).assign(freq="weekly"),
        ],
        ignore_index=True,
    )
    order = ["unit", "model", "freq", "horizon"]
    return BacktestResult(table[order + [c for c in table if c not in order]], forecasts)


def plot_backtest(
    result: BacktestResult, path: str | Path, unit: str = TOTAL, last_origins: int = 4
) -> Path:
    """Save a PNG for one series: the best model's forecasts from the last origins against the
    actuals (and the true mean when known), and daily RMSE by horizon for every model. Drawn
    on a bare `Figure` (Agg canvas), so no pyplot state or global backend is touched."""
    daily = result.table[(result.table["freq"] == "daily") & (result.table["unit"] == unit)]
    overall = daily[daily["horizon"] == ALL].set_index("model")["rmse"]
    best = overall.drop(index=FLOOR, errors="ignore").idxmin()
    mine = result.forecasts[result.forecasts["unit"] == unit]
    recent = mine[mine["origin"].isin(np.sort(mine["origin"].unique())[-last_origins:])]

    figure = Figure(figsize=(13, 4.5), layout="constrained")
    paths, errors = figure.subplots(1, 2)
    observed = recent.drop_duplicates("date").sort_values("date")
    paths.plot(observed["date"], observed["actual"], color="black", lw=1, label="actual")
    floor = recent[recent["model"] == FLOOR].drop_duplicates("date").sort_values("date")
    if not floor.empty:
        paths.plot(floor["date"], floor["forecast"], color="grey", ls=":", label="true mean")
    # 80% intervals from the best model's errors by horizon at earlier origins only
    earlier = mine[(mine["model"] == best) & (mine["origin"] < recent["origin"].min())]
    spread = (earlier["actual"] - earlier["forecast"]).groupby(earlier["horizon"])
    low, high = spread.quantile(0.1), spread.quantile(0.9)
    for origin, path_ in recent[recent["model"] == best].groupby("origin"):
        line, = paths.plot(path_["date"], path_["forecast"], lw=1.5,
                           label=f"{best} from {origin:%d %b}")
        if not earlier.empty:
            paths.fill_between(path_["date"], path_["forecast"] + path_["horizon"].map(low),
                               path_["forecast"] + path_["horizon"].map(high),
                               color=line.get_color(), alpha=0.15, lw=0)
    paths.set(title=f"{unit}: last {last_origins} origins (bands: 80% intervals)",
              ylabel="admissions / day")
    paths.legend(fontsize="small")
    paths.xaxis.set_major_formatter(ConciseDateFormatter(paths.xaxis.get_major_locator()))

    for model, rows in daily[daily["horizon"] != ALL].groupby("model", sort=False):
        style = {"ls": "--", "color": "grey"} if model == FLOOR else {"marker": "o", "ms": 3}
        errors.plot(rows["horizon"].astype(int), rows["rmse"], label=model, **style)
    errors.set(title=f"{unit}: daily RMSE by horizon", xlabel="days ahead", ylabel="RMSE")
    errors.legend(fontsize="small")
    path = Path(path)
    figure.savefig(path, dpi=120)
    return path
