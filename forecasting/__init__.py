"""Admission and LOS forecasting: data, features, models and backtests."""
