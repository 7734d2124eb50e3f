"""Models trained for a scenario, and how they reach the policies and the simulator.

`wiring` builds every policy from its spec, handing a trained forecast source in as an
object (policies may not import `forecasting`); `arrival_forecast` is that source (the `ml`
admissions forecaster per unit, trained on the scenario's simulated history); `los` the
trained LOS model a scenario may ask for; `backtest` scores the admission forecasters on
that history (`forecast_backtest.csv`); `horizons` backtests the horizon-aware forecaster
against the lag-14 one by horizon, through a scenario's surges; `openmp` lets OpenMP's
threads sleep while they train.
"""
