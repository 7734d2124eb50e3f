"""The backtest by horizon: the horizon-aware forecaster (`ml`'s) against the lag-14 one, on
a scenario's demand with its surges, and the table and figure that show where fresh lags win.

A scenario's demand is what the `ml` source meets: its simulated history (no surges) then one
run's days (`arrival_forecast.run_demand`, surges included), per first-need unit. Through a
surge the origins are every day from four weeks before it starts to its end, and each model
is fitted once, at the first origin, on days before the surge, as the `ml` source is (it never
refits during a run); without a surge they roll over the run's last year, refitted every 4th
origin. Only the hospital total's table is shown; the CSV has every unit.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from experiments.trained.arrival_forecast import feature_spec, run_demand, simulated_history
from scenarios.schema import Scenario

HORIZON_AWARE, LAG_14 = "linear", "linear_lag14"
LEAD_DAYS = 28  # origins before a surge starts: how the forecasters meet it
MEASURES = ("rmse", "mae", "mape", "r2")


def scenario_demand(scenario: Scenario) -> pd.DataFrame:
    """Daily arrivals (date, unit, admissions) per first-need unit that has any: the simulated
    history, then a run's days with the scenario's surges."""
    first, history = simulated_history(scenario)
    _, run = run_demand(scenario)
    dates = pd.date_range(first, periods=next(iter(history.values())).size
                          + next(iter(run.values())).size, freq="D")
    frames = [pd.DataFrame({"date": dates, "unit": unit,
                            "admissions": np.concatenate([history[unit], run[unit]])})
              for unit in history if history[unit].any() or run[unit].any()]
    return pd.concat(frames, ignore_index=True)


def surge_origins(scenario: Scenario, dates: pd.DatetimeIndex,
                  horizon: int) -> pd.DatetimeIndex | None:
    """Every day from `LEAD_DAYS` before the first surge starts to its last day (while
    `horizon` observed days follow); None for a scenario without surges."""
    if not scenario.surges:
        return None
    surge = min(scenario.surges, key=lambda s: s.start_day)
    start = pd.Timestamp(scenario.start_date) + pd.Timedelta(days=int(surge.start_day))
    end = start + pd.Timedelta(days=int(np.ceil(surge.duration_days)) - 1)
    last = dates[-1] - pd.Timedelta(days=horizon)
    return pd.date_range(start - pd.Timedelta(days=LEAD_DAYS), min(end, last), freq="D")


def horizon_models(spec) -> dict:
    """The two forecasters compared: linear regression on fresh lags and on lag-14 ones."""
    from forecasting.admissions import make_model
    from forecasting.features import lag_14

    return {HORIZON_AWARE: make_model("linear", features=spec),
            LAG_14: make_model("linear", features=lag_14(spec))}


def scenario_backtest(scenario: Scenario, horizon: int = 14):
    """`forecasting.backtest.backtest` of `horizon_models` on `scenario_demand`."""
    from forecasting.backtest import backtest

    demand = scenario_demand(scenario)
    dates = pd.DatetimeIndex(demand["date"].unique())
    origins = surge_origins(scenario, dates, horizon)
    once = origins is not None  # the ml source never refits during a run
    return backtest(demand, horizon_models(feature_spec(scenario)), horizon=horizon,
                    refit_every=len(origins) if once else 4, origins=origins,
                    test_days=min(365, scenario.horizon_days))


def by_horizon(table: pd.DataFrame, unit: str = "total") -> pd.DataFrame:
    """Daily errors of `unit` by horizon (1.. and 'all'): a column per measure and model, and
    the % change in RMSE and MAE of the horizon-aware forecaster against the lag-14 one
    (negative: fresh lags win)."""
    daily = table[(table["freq"] == "daily") & (table["unit"] == unit)]
    wide = daily.pivot(index="horizon", columns="model", values=list(MEASURES))
    wide.columns = [f"{measure}_{model}" for measure, model in wide.columns]
    order = sorted(wide.index, key=lambda h: (h == "all", h if h != "all" else 0))
    wide = wide.loc[order]
    for measure in ("rmse", "mae"):
        wide[f"{measure}_change_pct"] = 100 * (
            wide[f"{measure}_{HORIZON_AWARE}"] / wide[f"{measure}_{LAG_14}"] - 1)
    return wide.rename_axis("horizon").reset_index()


def plot_by_horizon(tables: dict[str, pd.DataFrame], path: str | Path) -> Path:
    """RMSE against horizon, horizon-aware and lag-14 (and the historical average, dotted),
    one panel per demand series (name -> `by_horizon` table)."""
    figure = Figure(figsize=(4.2 * len(tables), 3.6), layout="constrained")
    axes = np.atleast_1d(figure.subplots(1, len(tables), squeeze=False)[0])
    for ax, (name, table) in zip(axes, tables.items(), strict=True):
        rows = table[table["horizon"] != "all"]
        days = rows["horizon"].astype(int)
        for model, style in ((HORIZON_AWARE, "-o"), (LAG_14, "-s")):
            ax.plot(days, rows[f"rmse_{model}"], style, ms=3, label=model)
        reference = "rmse_historical_average"
        if reference in rows:
            ax.plot(days, rows[reference], ":", color="grey", label="historical average")
        ax.set(title=name, xlabel="days ahead", ylabel="RMSE (admissions / day)")
        ax.legend(fontsize="small")
    path = Path(path)
    figure.savefig(path, dpi=110)
    return path
