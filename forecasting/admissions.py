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
from sklearn import ensemble
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
        history, dates = _target_days(history, horizon)
        return pd.Series(self._predict(history, dates), index=dates, name="forecast", dtype=float)


def _target_days(history: pd.Series, horizon: int) -> tuple[pd.Series, pd.DatetimeIndex]:
    """The checked history and the `horizon` days after its last day."""
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1, got {horizon}")
    history = check_history(history)
    return history, pd.date_range(history.index[-1] + DAY, periods=horizon, freq="D")


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
    """A regressor per gap of its `FeatureSpec` on the calendar and history features of each
    target day (see `forecasting.features`), learning admissions as a ratio to the trailing
    level so trees follow growth they never saw. The first days, whose lags reach before the
    history, are not used for training. Forecasts are clipped at zero: admissions are counts.

    With `interval_days`, `predict_quantiles` gives calibrated quantiles: a model per gap is
    first fitted on all but the last `interval_days` and its errors on those later days (as
    ratios to the level) are kept per gap, then every model is refitted on the whole history.
    Errors of a fit older than the days it forecasts are what a forecast meets; in-sample
    errors would be too small, most of all for trees."""

    features: FeatureSpec | None
    interval_days: int | None

    @abstractmethod
    def _make_estimator(self) -> RegressorMixin: ...

    def fit(self, history: pd.Series) -> Self:
        history = check_history(history)
        self.spec_ = self.features or FeatureSpec()
        self.residuals_: dict[int, np.ndarray] = {}
        if self.interval_days:
            if self.interval_days >= history.size:
                raise ValueError(f"interval_days {self.interval_days} leaves no history to fit")
            held = history.index[-self.interval_days :]
            self.estimators_ = self._fit_gaps(history.loc[: held[0] - DAY])
            for gap in self.spec_.gaps:
                ratio, level = self._ratio(history, held, np.full(held.size, gap))
                self.residuals_[gap] = history.loc[held].to_numpy() / level - ratio
        self.estimators_ = self._fit_gaps(history)
        return self

    def _fit_gaps(self, history: pd.Series) -> dict[int, RegressorMixin]:
        """One estimator per gap, each on the rows whose features at that gap are complete."""
        fitted = {}
        for gap in self.spec_.gaps:
            X, level = self.spec_.build(history, history.index, gap)
            complete = X.notna().all(axis=1).to_numpy() & ~np.isnan(level)
            if not complete.any():
                raise ValueError(f"history of {history.size} days is too short for its features")
            target = history.to_numpy()[complete] / level[complete]
            fitted[gap] = self._make_estimator().fit(X[complete], target)
        return fitted

    def _ratio(
        self, history: pd.Series, dates: pd.DatetimeIndex, gaps: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Each date's predicted ratio to its level, by the estimator of its gap, and the level."""
        X, level = self.spec_.build(history, dates, gaps)
        if X.isna().any(axis=None) or np.isnan(level).any():
            raise ValueError(f"history of {history.size} days is too short for its features")
        values, ratio = X.to_numpy(dtype=float), np.empty(dates.size)
        for gap in np.unique(gaps):
            rows = gaps == gap
            ratio[rows] = predict_rows(self.estimators_[int(gap)], values[rows])
        return ratio, level

    def _gaps(self, history: pd.Series, dates: pd.DatetimeIndex) -> np.ndarray:
        return self.spec_.gap((dates - history.index[-1]).days.to_numpy())

    def _predict(self, history: pd.Series, dates: pd.DatetimeIndex) -> np.ndarray:
        ratio, level = self._ratio(history, dates, self._gaps(history, dates))
        return np.clip(ratio * level, 0.0, None)

    def predict_quantiles(
        self, history: pd.Series, horizon: int, levels: tuple[float, ...]
    ) -> pd.DataFrame:
        """The `levels`-quantiles of admissions on each of the `horizon` days after history's
        last day (dates x levels): the point forecast's ratio plus that quantile of its gap's
        held-out errors, times the level, clipped at zero."""
        if not self.residuals_:
            raise ValueError("fit with interval_days to forecast quantiles")
        history, dates = _target_days(history, horizon)
        gaps = self._gaps(history, dates)
        ratio, level = self._ratio(history, dates, gaps)
        spread = np.stack([np.quantile(self.residuals_[int(g)], levels) for g in gaps])
        values = np.clip((ratio[:, None] + spread) * level[:, None], 0.0, None)
        return pd.DataFrame(values, index=dates, columns=list(levels))


def predict_rows(estimator: RegressorMixin, X: np.ndarray) -> np.ndarray:
    """`estimator.predict` of rows whose columns are in the order it was fitted on, without
    scikit-learn's checks on every call (1-2 ms each, most of a forecast's cost when a model
    per horizon predicts one row): linear models by their coefficients, XGBoost through its
    booster."""
    if hasattr(estimator, "coef_"):
        return X @ estimator.coef_ + estimator.intercept_
    if isinstance(estimator, xgboost.XGBRegressor):
        return estimator.get_booster().inplace_predict(X).astype(float)
    frame = pd.DataFrame(X, columns=estimator.feature_names_in_)
    return np.asarray(estimator.predict(frame), dtype=float)


RANK_TOLERANCE = 1e-12
"""Directions of the centred design whose share of its largest eigenvalue (X'X) is below this
are taken as null: rounding hides an exact collinearity, and a near-null direction fitted
anyway gives coefficients of 1e12 that cancel to forecasts only good to 1e-4."""


class LeastSquares(RegressorMixin, BaseEstimator):
    """Ordinary least squares with an intercept: the minimum-norm solution, as scikit-learn's
    LinearRegression gives (the weekday one-hots add up to the intercept, so the design is
    rank-deficient), from the normal equations of the centred design. No multi-threaded
    LAPACK on the whole design: scikit-learn's SVD of it (gelsd, on OpenBLAS's threads) spun
    for 10-100 ms a fit on a busy 2-core machine, and a horizon-aware forecaster fits 28 per
    unit; this is a tiny eigenproblem, well under a millisecond. Centring keeps the
    conditioning of the features used here (one-hots, months, ratios near 1) harmless."""

    def fit(self, X: pd.DataFrame | np.ndarray, y: np.ndarray) -> Self:
        X, y = np.asarray(X, dtype=float), np.asarray(y, dtype=float)
        x_mean, y_mean = X.mean(axis=0), y.mean()
        centred = X - x_mean
        gram = centred.T @ centred
        self.coef_ = np.linalg.pinv(gram, rcond=RANK_TOLERANCE, hermitian=True) @ (
            centred.T @ (y - y_mean))
        self.intercept_ = float(y_mean - x_mean @ self.coef_)
        return self

    def predict(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        return np.asarray(X, dtype=float) @ self.coef_ + self.intercept_


class LinearRegression(FeatureRegressor):
    """Ordinary least squares on the ratio to the level: weekday, season and holiday effects
    add up, and scale with the level."""

    def __init__(self, features: FeatureSpec | None = None, interval_days: int | None = None):
        self.features = features
        self.interval_days = interval_days

    def _make_estimator(self) -> RegressorMixin:
        return LeastSquares()


class RandomForest(FeatureRegressor):
    """A random forest; leaves of a few days and half the features per split keep it from
    memorising the noise of single days."""

    def __init__(
        self,
        features: FeatureSpec | None = None,
        interval_days: int | None = None,
        n_estimators: int = 150,
        min_samples_leaf: int = 5,
        max_features: float = 0.5,
        n_jobs: int = 2,
        random_state: int = 0,
    ):
        self.features = features
        self.interval_days = interval_days
        self.n_estimators = n_estimators
        self.min_samples_leaf = min_samples_leaf
        self.max_features = max_features
        self.n_jobs = n_jobs
        self.random_state = random_state

    def fit(self, history: pd.Series) -> Self:
        super().fit(history)
        for estimator in self.estimators_.values():
            estimator.set_params(n_jobs=1)  # forecasts are 14 rows: threads cost more
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
        interval_days: int | None = None,
        n_estimators: int = 300,
        learning_rate: float = 0.05,
        max_depth: int = 3,
        subsample: float = 0.8,
        objective: str = "count:poisson",
        n_jobs: int = 1,
        random_state: int = 0,
    ):
        self.features = features
        self.interval_days = interval_days
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
