"""The `ml` arrival forecast: an object experiments.trained.wiring hands to the policy (no
registration, no environment change at import), trained on the scenario's own demand, fast
numpy features equal to the forecaster's own, and better than the historical average on the
days of a run."""

from __future__ import annotations

import os
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import scenarios
from experiments.trained.arrival_forecast import (
    HISTORY_DAYS,
    MlForecast,
    Trained,
    feature_spec,
    reach,
    scenario_key,
    simulated_history,
    train,
)
from experiments.trained.wiring import build_policy
from forecasting.admissions import make_model
from forecasting.features import lag_14
from policies import make_policy
from policies.forecasts import Historical
from scenarios.schema import PolicySpec
from simulator import simulate

SHORT = ["horizon_days=60", "warmup_days=14"]


def test_build_policy_hands_the_policy_an_ml_source():
    policy = build_policy(PolicySpec(name="greedy", params={"forecast": "ml"}))
    assert isinstance(policy.source, MlForecast) and policy.source.model == "linear"
    boosted = build_policy(PolicySpec(name="milp", params={"forecast": "ml_xgboost"})).source
    assert isinstance(boosted, MlForecast) and boosted.model == "xgboost"
    historical = build_policy(PolicySpec(name="greedy", params={"forecast": "historical"}))
    assert isinstance(historical.source, Historical)
    for wrong in ("crystal_ball", 3):  # every valid name listed, built-in and trained
        with pytest.raises(ValueError, match="historical, ml, ml_xgboost, perfect"):
            build_policy(PolicySpec(name="greedy", params={"forecast": wrong}))
    with pytest.raises(ValueError, match="available: historical, perfect"):
        make_policy("greedy", {"forecast": "ml"})  # policies know only the built-ins by name


def test_importing_changes_no_environment_variable():
    code = ("import os; before = dict(os.environ); "
            "import policies, experiments.trained.los, experiments.trained.wiring, "
            "experiments.study.replications, experiments.cli; "
            "print(sorted(set(os.environ.items()) ^ set(before.items())))")
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_one_ml_source_follows_the_scenario_it_is_asked_about():
    short = ["horizon_days=30", "warmup_days=14"]
    first = scenarios.load("baseline", short)
    other = scenarios.load("baseline", [*short, "arrivals.emergency.daily_rate=55"])
    source = MlForecast()
    policy = make_policy("greedy", {"forecast": source})
    simulate(first, policy, 1)
    reused = simulate(other, policy, 1).kpis
    assert source.trained is train(other)
    fresh = simulate(other, make_policy("greedy", {"forecast": MlForecast()}), 1).kpis
    np.testing.assert_equal(reused, fresh)


def test_history_ends_the_day_before_the_run_and_matches_its_demand():
    scenario = scenarios.load("baseline", SHORT)
    first, counts = simulated_history(scenario)
    run_first = scenario.start_date - pd.Timedelta(days=scenario.warmup).to_pytimedelta()
    assert first + pd.Timedelta(days=HISTORY_DAYS).to_pytimedelta() == run_first
    daily = simulate(scenario, make_policy("baseline"), 1).daily
    units = [u.name for u in scenario.units]
    run = daily[daily["unit"].isin(units)].groupby("unit")["arrivals"].mean()
    for unit in units:
        per_day = counts[unit].mean()
        assert abs(run[unit] - per_day) <= 0.15 * per_day + 0.5, (unit, run[unit], per_day)
    assert train(scenario) is train(scenario)  # once per scenario and process


@pytest.mark.parametrize("lag_14_spec", [False, True])
@pytest.mark.parametrize("name", ["linear", "xgboost"])
def test_fast_path_equals_the_forecasters_predict_and_quantiles(name, lag_14_spec):
    scenario = scenarios.load("baseline", SHORT)
    trained = train(scenario)
    unit = "medicine"
    spec = feature_spec(scenario)
    params = {"n_estimators": 20} if name == "xgboost" else {}
    history = pd.Series(trained.history[unit],
                        index=pd.date_range(trained.first, periods=HISTORY_DAYS, freq="D"))
    model = make_model(name, features=lag_14(spec) if lag_14_spec else spec,
                       interval_days=200, **params).fit(history.iloc[:600])
    source = MlForecast(name)
    tail = reach(model.spec_)
    values = history.to_numpy()[-tail:]
    got = source.predict(model, values, history.index[-1], 14)
    np.testing.assert_allclose(got, model.predict(history, 14).to_numpy(), rtol=1e-9, atol=1e-9)

    source.trained = Trained(trained.first, trained.history, {unit: model}, tail)
    source._scenario = (scenario, scenario_key(scenario))
    levels = (0.05, 0.5, 0.95)
    run = [3, 5, 4]
    view = SimpleNamespace(scenario=scenario, units=[SimpleNamespace(name=unit)],
                           arrival_history=lambda _: run)
    extended = pd.concat([history, pd.Series(run, index=pd.date_range(
        history.index[-1] + pd.Timedelta(days=1), periods=len(run), freq="D"))])
    quantiles = source.quantiles(view, 9, levels)[unit]
    expected = model.predict_quantiles(extended, 9, levels).to_numpy().T
    np.testing.assert_allclose(quantiles, expected, rtol=1e-9, atol=1e-9)
    assert quantiles.shape == (3, 9) and (np.diff(quantiles, axis=0) >= 0).all()
    mean = source.expected(view, 21)[unit]  # beyond 14 days: the weekday a week earlier
    np.testing.assert_allclose(mean[:14], model.predict(extended, 14).to_numpy(), atol=1e-9)
    np.testing.assert_array_equal(mean[14:], mean[7:14])


class Recorder:
    """Returns the ml forecast and records it next to the historical one."""

    def __init__(self) -> None:
        self.ml, self.historical = MlForecast(), Historical()
        self.forecasts: list[tuple[int, np.ndarray, np.ndarray]] = []
        self.view = None

    def expected(self, view, horizon):
        self.view = view
        ml = self.ml.expected(view, horizon)
        historical = self.historical.expected(view, horizon)
        if historical is not None:
            self.forecasts.append((view.day, sum(ml.values()), sum(historical.values())))
        return ml


def test_ml_forecast_beats_the_historical_average_on_a_run():
    scenario = scenarios.load("baseline", ["horizon_days=120", "warmup_days=14"])
    recorder = Recorder()
    simulate(scenario, make_policy("greedy", {"forecast": recorder}), 1)
    # scored against the patients drawn to arrive (exogenous): the arrivals seen also carry
    # the policy's own deferrals, which no forecast of demand should be asked to predict
    actual = np.asarray(recorder.view.drawn_arrivals(), dtype=float)
    errors = {"ml": [], "historical": []}
    for day, ml, historical in recorder.forecasts:
        for k in range(ml.size):
            if day + k < actual.size:
                errors["ml"].append(abs(ml[k] - actual[day + k]))
                errors["historical"].append(abs(historical[k] - actual[day + k]))
    mae = {key: float(np.mean(v)) for key, v in errors.items()}
    assert len(errors["ml"]) > 500
    assert mae["ml"] < mae["historical"], mae


@pytest.mark.parametrize("forecast", ["ml"])
def test_milp_with_ml_forecast_runs(forecast):
    scenario = scenarios.load("baseline", ["horizon_days=30", "warmup_days=14"])
    policy = build_policy(PolicySpec(name="milp", params={"forecast": forecast}))
    result = simulate(scenario, policy, 1)
    assert result.kpis["invalid_placements"] == 0
    assert len(policy.solves) > 20
    assert not policy.fallbacks
