"""Admission and LOS forecasting: data, features, models and backtests (not yet built)."""
