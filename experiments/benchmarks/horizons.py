"""Horizon-aware forecasting benchmark: errors by horizon against the lag-14 forecaster, and
what the `ml` source costs (training, each morning's forecast, a replication-year).

    python -m experiments.benchmarks.horizons [--scenarios pandemic_surge winter_peak ...]
                                              [--skip-backtest] [--skip-timing]

Backtests: `forecasting.synthetic.generate()` (3 years, 5 wards; origins every 7 days over
the last year, refitted every 4th) and each scenario's demand through its surge
(`experiments.trained.horizons.scenario_backtest`); the tables are the hospital total's.
Timings are CPU seconds of this process (the machine may be shared; CPU time is what the
code costs): training fits every unit's models on the baseline's 3-year history (the
history's simulation excluded), horizon-aware (with its quantile holdout, as `ml` trains)
and lag-14 (one model, no quantiles, as `ml` trained before); a morning is
`MlForecast.expected(view, 7)` for the baseline's 7 units (policies forecast 7 days); a
replication-year is `simulate` of the baseline with greedy, `forecast: ml` and
`forecast: historical`, median of 3 seeds after a warm-up run.
"""

from __future__ import annotations

import argparse
import time
from types import SimpleNamespace

import numpy as np
import pandas as pd

from experiments.trained.openmp import passive_openmp

SURGES = ("pandemic_surge", "winter_peak", "mass_casualty")
MORNINGS = 300


def _cpu(call, repeat: int = 1) -> float:
    start = time.process_time()
    for _ in range(repeat):
        call()
    return (time.process_time() - start) / repeat


def backtests(names: list[str]) -> None:
    import scenarios
    from experiments.trained.horizons import by_horizon, horizon_models, scenario_backtest
    from forecasting.backtest import backtest
    from forecasting.features import FeatureSpec
    from forecasting.synthetic import generate

    results = {"synthetic": backtest(generate().daily, horizon_models(FeatureSpec())).table}
    for name in names:
        results[name] = scenario_backtest(scenarios.load(name)).table
    for name, table in results.items():
        wide = by_horizon(table)
        print(f"\n{name}: total admissions, RMSE (MAE) by horizon; change: horizon-aware "
              "against lag-14")
        print(f"{'h':>4} {'aware':>13} {'lag-14':>13} {'change':>8} {'hist. avg':>10}")
        for row in wide.itertuples():
            print(f"{row.horizon!s:>4} {row.rmse_linear:>6.2f} ({row.mae_linear:5.2f}) "
                  f"{row.rmse_linear_lag14:>6.2f} ({row.mae_linear_lag14:5.2f}) "
                  f"{row.rmse_change_pct:>+7.1f}% {row.rmse_historical_average:>10.2f}")


def timings() -> None:
    import scenarios
    from experiments.trained.arrival_forecast import (
        HISTORY_DAYS,
        INTERVAL_DAYS,
        MlForecast,
        Trained,
        feature_spec,
        reach,
        simulated_history,
        train,
    )
    from experiments.trained.wiring import build_policy
    from forecasting.admissions import make_model
    from forecasting.features import lag_14
    from scenarios.schema import PolicySpec
    from simulator import simulate

    scenario = scenarios.load("baseline")
    first, history = simulated_history(scenario)
    index = pd.date_range(first, periods=HISTORY_DAYS, freq="D")
    spec = feature_spec(scenario)
    rng = np.random.default_rng(0)
    run = {u.name: list(rng.poisson(5, 200)) for u in scenario.units}
    view = SimpleNamespace(scenario=scenario, units=scenario.units,
                           arrival_history=run.__getitem__)
    train(scenario)  # the cache `ml` reads: the source below is the one policies get
    for label, features, interval in (("horizon-aware", spec, INTERVAL_DAYS),
                                      ("lag-14", lag_14(spec), None)):
        models: dict = {}

        def fit(features=features, interval=interval, models=models) -> None:
            models.update({unit: make_model("linear", features=features, interval_days=interval)
                           .fit(pd.Series(counts, index=index))
                           for unit, counts in history.items()})

        seconds = _cpu(fit)
        source = MlForecast()
        source.for_scenario(scenario)
        source.trained = Trained(pd.Timestamp(first), history, models, reach(features))
        source.expected(view, 7)
        morning = _cpu(lambda source=source: source.expected(view, 7), MORNINGS)
        print(f"{label:>14}: training {seconds:.2f} s CPU for {len(models)} units, "
              f"a morning's forecast {1e3 * morning:.2f} ms CPU")

    for forecast in ("ml", "historical"):
        def year(seed: int, forecast=forecast) -> None:
            policy = build_policy(PolicySpec(name="greedy", params={"forecast": forecast}))
            simulate(scenario, policy, seed)

        year(0)
        times = [_cpu(lambda seed=seed, year=year: year(seed)) for seed in (1, 2, 3)]
        print(f"greedy+{forecast}: a replication-year {np.median(times):.2f} s CPU "
              f"(median of {', '.join(f'{t:.2f}' for t in times)})")


def main(argv: list[str] | None = None) -> None:
    passive_openmp()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", nargs="*", default=list(SURGES))
    parser.add_argument("--skip-backtest", action="store_true")
    parser.add_argument("--skip-timing", action="store_true")
    args = parser.parse_args(argv)
    if not args.skip_timing:
        timings()
    if not args.skip_backtest:
        backtests(args.scenarios)


if __name__ == "__main__":
    main()
