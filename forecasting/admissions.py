"""Daily admission forecasters behind one interface, the baselines they must beat, and a
registry by name.

Interface (scikit-learn style: parameters in `__init__`, learnt state ends in `_`):

    fit(history) -> self                  history: daily admissions, a Series indexed by date
    predict(history, horizon) -> Series   the `horizon` days after history's last date

`predict` takes the history rather than an origin date: the origin is its last day, and a
forecaster can read only what it is handed, so a caller who passes `series.loc[:origin]` cannot
leak later days into a forecast. The fit may be older than the origin (a backtest refits every
few weeks); the lag features are still read from the history up to the origin. Weekly
admissions are the sums of the daily forecasts (`forecasting.backtest.weekly_forecasts`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Self

import numpy as np
import pandas as pd
import xgboost
from sklearn import ensemble, linear_model
from sklearn.base import BaseEstimator, RegressorMixin

from forecasting.features import DAY, FeatureSpec, check_history


class Forecaster(BaseEstimator, ABC):
    """A daily admissions forecaster: `fit(history)`, then `predict(history, horizon)`."""

    @abstractmethod
    def fit(self, history: pd.Series) -> Self: ...

    @abstractmethod
    def _predict(self, history: pd.Series, dates: pd.DatetimeIndex) -> np.ndarray: ...

    def predict(self, history: pd.Series, horizon: int = 14) -> pd.Series:
        """Expected admissions on each of the `horizon` days after the last day of `history`."""
        if horizon < 1:
            raise ValueError(f"horizon must be >= 1, got {horizon}")
        history = check_history(history)
        dates = pd.date_range(history.index[-1] + DAY, periods=horizon, freq="D")
        return pd.Series(self._predict(history, dates), index=dates, name="forecast", dtype=float)


class HistoricalAverage(Forecaster):
    """The mean of the training history on every day: what a planner assumes with no model,
    and so the reference every other model's error reduction is measured against."""

    def fit(self, history: pd.Series) -> Self:
        self.mean_ = float(check_history(history).mean())
        return self

    def _predict(self, history: pd.Series, dates: pd.DatetimeIndex) -> np.ndarray:
        return np.full(dates.size, self.mean_)


class DayOfWeekAverage(Forecaster):
    """The mean of the training history on the target's weekday: the weekly pattern alone."""

    def fit(self, history: pd.Series) -> Self:
        history = check_history(history)
        means = history.groupby(history.index.day_of_week).mean().reindex(range(7))
        if means.isna().any():
            raise ValueError("DayOfWeekAverage needs at least a week of history")
        self.means_ = means.to_numpy()
        return self

    def _predict(self, history: pd.Series, dates: pd.DatetimeIndex) -> np.ndarray:
        return self.means_[dates.day_of_week]


class SeasonalNaive(Forecaster):
    """The last observed `period` days repeated: with period 7, the same weekday last week."""

    def __init__(self, period: int = 7):
        self.period = period

    def fit(self, history: pd.Series) -> Self:
        return self

    def _predict(self, history: pd.Series, dates: pd.DatetimeIndex) -> np.ndarray:
        if history.size < self.period:
            raise ValueError(f"SeasonalNaive({self.period}) needs {self.period} days of history")
        last = history.to_numpy()[-self.period :]
        return last[np.arange(dates.size) % self.period]


class TrueMean(Forecaster):
    """The generator's true conditional mean of each day: the floor no model can beat on
    average, since what is left is pure noise. Only exists for synthetic data."""

    def __init__(self, expected: pd.Series):
        self.expected = expected

    def fit(self, history: pd.Series) -> Self:
        return self

    def _predict(self, history: pd.Series, dates: pd.DatetimeIndex) -> np.ndarray:
        values = self.expected.reindex(dates)
        if values.isna().any():
            missing = dates[values.isna().to_numpy()]
            raise ValueError(f"expected series has no value for {missing[0].date()}")
        return values.to_numpy(dtype=float)


class FeatureRegressor(Forecaster):
    """A regressor on the calendar and history features of each target day (see
    `forecasting.features`), learning admissions as a ratio to the trailing level so trees
    follow growth they never saw. The first days, whose lags reach before the history, are not
    used for training. Forecasts are clipped at zero: admissions are counts."""

    features: FeatureSpec | None

    @abstractmethod
    def _make_estimator(self) -> RegressorMixin: ...

    def fit(self, history: pd.Series) -> Self:
        history = check_history(history)
        spec = self.features or FeatureSpec()
        X, level = spec.build(history, history.index)
        complete = X.notna().all(axis=1).to_numpy() & ~np.isnan(level)
        if not complete.any():
            raise ValueError(f"history of {history.size} days is too short for its features")
        self.spec_ = spec
        target = history.to_numpy() / level
        self.estimator_ = self._make_estimator().fit(X[complete], target[complete])
        return self

    def _predict(self, history: pd.Series, dates: pd.DatetimeIndex) -> np.ndarray:
        X, level = self.spec_.build(history, dates)
        if X.isna().any(axis=None) or np.isnan(level).any():
            raise ValueError(f"history of {history.size} days is too short for its features")
        ratio = np.asarray(self.estimator_.predict(X), dtype=float)
        return np.clip(ratio * level, 0.0, None)


class LinearRegression(FeatureRegressor):
    """Ordinary least squares on the ratio to the level: weekday, season and holiday effects
    add up, and scale with the level."""

    def __init__(self, features: FeatureSpec | None = None):
        self.features = features

    def _make_estimator(self) -> RegressorMixin:
        return linear_model.LinearRegression()


class RandomForest(FeatureRegressor):
    """A random forest; leaves of a few days and half the features per split keep it from
    memorising the noise of single days."""

    def __init__(
        self,
        features: FeatureSpec | None = None,
        n_estimators: int = 150,
        min_samples_leaf: int = 5,
        max_features: float = 0.5,
        n_jobs: int = 2,
        random_state: int = 0,
    ):
        self.features = features
        self.n_estimators = n_estimators
        self.min_samples_leaf = min_samples_leaf
        self.max_features = max_features
        self.n_jobs = n_jobs
        self.random_state = random_state

    def fit(self, history: pd.Series) -> Self:
        super().fit(history)
        self.estimator_.set_params(n_jobs=1)  # forecasts are 14 rows: threads cost more
        return self

    def _make_estimator(self) -> RegressorMixin:
        return ensemble.RandomForestRegressor(
            n_estimators=self.n_estimators,
            min_samples_leaf=self.min_samples_leaf,
            max_features=self.max_features,
            n_jobs=self.n_jobs,
            random_state=self.random_state,
        )


class XGBoost(FeatureRegressor):
    """Gradient-boosted trees with a Poisson objective, for counts. One thread by default: on
    a few hundred rows a second thread's synchronisation costs more than it saves, and several
    times more on a busy machine."""

    def __init__(
        self,
        features: FeatureSpec | None = None,
        n_estimators: int = 300,
        learning_rate: float = 0.05,
        max_depth: int = 3,
        subsample: float = 0.8,
        objective: str = "count:poisson",
        n_jobs: int = 1,
        random_state: int = 0,
    ):
        self.features = features
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.subsample = subsample
        self.objective = objective
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _make_estimator(self) -> RegressorMixin:
        return xgboost.XGBRegressor(
            n_estimators=self.n_estimators,
            learning_rate=self.learning_rate,
            max_depth=self.max_depth,
            subsample=self.subsample,
            objective=self.objective,
            n_jobs=self.n_jobs,
            random_state=self.random_state,
        )


REGISTRY: dict[str, Callable[..., Forecaster]] = {
    "linear": LinearRegression,
    "random_forest": RandomForest,
    "xgboost": XGBoost,
    "historical_average": HistoricalAverage,
    "dow_average": DayOfWeekAverage,
    "seasonal_naive": SeasonalNaive,
}


def model_names() -> list[str]:
    return list(REGISTRY)


def make_model(name: str, **params: object) -> Forecaster:
    """A forecaster by registry name; a misspelt name is an error that lists the valid ones."""
    if name not in REGISTRY:
        raise ValueError(f"unknown model {name!r}; available: {', '.join(model_names())}")
    return REGISTRY[name](**params)
