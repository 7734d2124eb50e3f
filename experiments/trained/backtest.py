"""The forecast error gains the report shows: a rolling-origin backtest of the admission
forecasters on the simulated history the `ml` source trains on, scored against the
historical average.

Run once per study in the main process (never in workers), written to the results folder
(`forecast_backtest.csv`, which the report reads) so `hospsim report DIR` needs no
recomputation, and cached on disk keyed by the scenario's
demand (`arrival_forecast.scenario_key`) and the backtest settings: a warm run only reads a
small CSV. Only the hospital total is backtested: per unit it would cost ~7x as much
for a report that already shows each source's downstream value. Every feature model is
horizon-aware (a model per horizon 1..7, as the `ml` source's); `linear_lag14` is the
lag-14 forecaster beside it (`forecasting.features.lag_14`).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from experiments.files import csv_safe, replacing
from experiments.trained.arrival_forecast import (
    HISTORY_DAYS,
    feature_spec,
    scenario_key,
    simulated_history,
)
from experiments.trained.horizons import LAG_14
from experiments.trained.openmp import passive_openmp
from experiments.trained.wiring import is_trained_source
from scenarios.schema import Scenario

FILE = "forecast_backtest.csv"
SETTINGS = {"test_days": 364, "step": 14, "horizon": 7, "refit_every": 4}
"""26 origins, two weeks apart, over the history's last year; forecasts 1-7 days ahead;
each model refitted at every 4th origin. About 33 s of CPU cold (7 s with lag-14 models
only), most of it the random forest's 7 models a fit."""
ORIGINS = (SETTINGS["test_days"] - SETTINGS["horizon"]) // SETTINGS["step"] + 1


def uses_trained_forecast(scenario: Scenario) -> bool:
    """Whether any policy plans with a forecast trained on the simulated history."""
    return any(is_trained_source(spec.params.get("forecast")) for spec in scenario.policies)


def store_backtest(scenario: Scenario, out: Path) -> dict[str, Path]:
    """Write `out/forecast_backtest.csv` when a policy uses a trained forecast (else remove
    an earlier run's); the paths written, by name."""
    path = Path(out) / FILE
    if not uses_trained_forecast(scenario):
        path.unlink(missing_ok=True)
        return {}
    with replacing(path) as partial:
        csv_safe(backtest_table(scenario)).to_csv(partial, index=False)
    return {FILE: path}


def read_backtest(out: Path) -> pd.DataFrame | None:
    path = Path(out) / FILE
    return pd.read_csv(path, dtype={"horizon": str}) if path.is_file() else None


def backtest_table(scenario: Scenario) -> pd.DataFrame:
    """The scored backtest (forecasting.backtest.score's columns plus `freq`), from the
    disk cache when this demand was backtested before with these settings."""
    passive_openmp()  # forecasting.artefacts imports xgboost
    from forecasting.artefacts import cached_table

    key = {"scenario": scenario_key(scenario), **SETTINGS, "history_days": HISTORY_DAYS,
           "features": repr(_spec(scenario)), "models": [*_models(scenario)]}
    return cached_table("forecast_backtest", key,
                        lambda: _run_backtest(scenario).astype({"horizon": str}),
                        dtype={"horizon": str})


def _run_backtest(scenario: Scenario) -> pd.DataFrame:
    """Backtest every registered forecaster, and the lag-14 one, on the hospital's total
    daily arrivals."""
    from forecasting.backtest import TOTAL, backtest

    first, history = simulated_history(scenario)
    total = sum(history.values())
    # labelled as the total itself, so the backtest does not score the same series twice
    admissions = pd.DataFrame({"date": pd.date_range(first, periods=total.size, freq="D"),
                               "unit": TOTAL, "admissions": total})
    return backtest(admissions, models=_models(scenario), **SETTINGS).table


def _spec(scenario: Scenario):
    """The features the `ml` source uses (its holidays), with models for the horizons
    backtested only: those for 1..7 days are the same as in a spec reaching 14."""
    from dataclasses import replace

    return replace(feature_spec(scenario), gaps=tuple(range(1, SETTINGS["horizon"] + 1)))


def _models(scenario: Scenario) -> dict:
    from forecasting.admissions import REGISTRY, FeatureRegressor, make_model
    from forecasting.features import lag_14

    spec = _spec(scenario)
    models = {name: make_model(name, features=spec) if issubclass(cls, FeatureRegressor)
              else make_model(name) for name, cls in REGISTRY.items()}
    return {**models, LAG_14: make_model("linear", features=lag_14(spec))}
