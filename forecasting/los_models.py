"""Length-of-stay models trained on normalised inpatient records: a point forecast for
policies and a predictive distribution for the simulator to draw true stays from.

Each model regresses log1p(LOS) and keeps, as its predictive distribution, the out-of-fold
log residuals of the training stays binned by the prediction. The log scale suits a skewed,
multiplicative quantity (a severe elderly emergency stays a multiple of the baseline, not a
fixed number of days more) and keeps squared error from chasing the 120-day tail; the bins
let the spread change with the expected stay without assuming a parametric family; and
out-of-fold residuals carry the model's own error, which in-sample residuals would hide.
"""

from __future__ import annotations

import platform
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
import sklearn
import xgboost
from sklearn.base import BaseEstimator
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import Ridge
from sklearn.model_selection import KFold
from sklearn.utils.validation import check_is_fitted

from forecasting.records import LEAKAGE_COLUMNS, RECORD_DTYPES, SIMULATOR_FEATURES

Kind = Literal["linear", "random_forest", "xgboost"]
KINDS: tuple[str, ...] = ("linear", "random_forest", "xgboost")
MAX_DAYS = 120.0
"""SPARCS top-codes stays at "120 +": beyond it the records say nothing, so neither do we."""
RESIDUALS_PER_BIN = 5000
"""Residuals kept per bin: quantiles to about ±0.007 in probability, artefacts stay small."""
TARGET_COLUMNS = ("length_of_stay", "los_top_coded")
FEATURE_COLUMNS = tuple(
    c for c, dtype in RECORD_DTYPES.items()
    if c not in TARGET_COLUMNS and not dtype.startswith("datetime")
)
ESTIMATOR_DEFAULTS: dict[str, dict] = {
    "linear": {"alpha": 1.0},
    # Sized so fit (5 folds + the final forest) takes 500k stays in under a minute on 2 cores;
    # max_samples (rows per tree) is capped at the rows there are.
    "random_forest": {"n_estimators": 60, "min_samples_leaf": 20, "max_samples": 100_000},
    "xgboost": {
        "n_estimators": 200, "learning_rate": 0.1, "max_depth": 6, "min_child_weight": 20,
        "subsample": 0.8, "tree_method": "hist",
    },
}


def library_versions() -> dict[str, str]:
    """The versions that shape a trained model (and that its artefact must be read with)."""
    return {
        "python": platform.python_version(), "numpy": np.__version__,
        "pandas": pd.__version__, "scikit-learn": sklearn.__version__,
        "xgboost": xgboost.__version__,
    }


@dataclass(frozen=True)
class _Column:
    """How one feature is encoded: levels (codes; -1 is 'unknown') or a log1p number."""

    name: str
    levels: tuple[str, ...] | None
    fill: float = 0.0
    """Training median of the log1p number, standing in for a missing one (linear model)."""

    def keys(self, series: pd.Series) -> pd.Series:
        """Values as strings, so int8 severities from the simulator and Int8 ones from
        records, or bool and boolean flags, name the same level."""
        dtype = RECORD_DTYPES[self.name]
        if dtype.startswith("Int"):
            return pd.to_numeric(series, errors="coerce").round().astype("Int64").astype("string")
        if dtype == "bool":
            return series.astype("boolean").astype("string")
        return series.astype("string")

    def encode(self, series: pd.Series) -> np.ndarray:
        if self.levels is None:
            values = pd.to_numeric(series, errors="coerce").to_numpy(float, na_value=np.nan)
            return np.log1p(np.clip(values, 0.0, None))
        return pd.Index(self.levels, dtype="string").get_indexer(self.keys(series))

    @classmethod
    def fit(cls, name: str, series: pd.Series) -> _Column:
        dtype = RECORD_DTYPES[name]
        if dtype == "float64":  # money or grams: skewed, hence log1p
            median = pd.Series(cls(name, None).encode(series)).median()
            return cls(name, None, float(np.nan_to_num(median)))  # 0 if never recorded
        keys = cls(name, ()).keys(series).dropna().unique()
        return cls(name, tuple(sorted(keys, key=int if dtype.startswith("Int") else str)))


class LosRegressor(BaseEstimator):
    """LOS in days from admission-time attributes: conditional mean, quantiles and draws.

    `kind` picks the regressor of log1p(LOS): "linear" (ridge on one-hot levels: the
    classic multiplicative LOS model), "random_forest" or "xgboost". `predict` is the
    conditional mean, the mean of exactly the distribution `sample` draws from: a draw is
    expm1(prediction + a residual of the row's bin), clipped to [0, max_days], and a stay
    top-coded in training enters its bin as "beyond max_days". That distribution is what
    `quantile` reads too.

    Features are admission-time columns of the normalised record (default: the ones every
    simulated patient has, so the model can drive a simulation). The discharge-time
    LEAKAGE_COLUMNS are refused unless `use_leakage=True`, which adds them all; the choice
    is stamped in `metadata`.

    Levels never seen in training (a scenario's own diagnosis group, say), and missing
    values, map to an 'unknown' level. So that it means "any level, as often as in
    training" rather than an arbitrary tree branch, fit relabels a random `unknown_share`
    of each level feature as unknown. The residual bins do not widen for unknown rows, so
    their draws understate the extra spread of the levels they stand for.
    """

    def __init__(
        self,
        kind: Kind = "xgboost",
        features: Sequence[str] = SIMULATOR_FEATURES,
        use_leakage: bool = False,
        random_state: int = 0,
        n_folds: int = 5,
        n_bins: int = 20,
        unknown_share: float = 0.02,
        max_days: float = MAX_DAYS,
        n_jobs: int = 2,
        params: dict | None = None,
    ) -> None:
        self.kind = kind
        self.features = features
        self.use_leakage = use_leakage
        self.random_state = random_state
        self.n_folds = n_folds
        self.n_bins = n_bins
        self.unknown_share = unknown_share
        self.max_days = max_days
        self.n_jobs = n_jobs
        self.params = params

    def fit(self, records: pd.DataFrame) -> LosRegressor:
        features = self._checked_features()
        los = records["length_of_stay"].to_numpy(float, na_value=np.nan)
        if np.isnan(los).any():
            raise ValueError(f"length_of_stay is missing in {np.isnan(los).sum()} records; "
                             "drop them before fitting")
        beyond = los >= self.max_days
        if "los_top_coded" in records:
            beyond |= records["los_top_coded"].to_numpy(bool)
        y = np.log1p(np.minimum(los, self.max_days))
        rng = np.random.default_rng(self.random_state)
        self.columns_ = [_Column.fit(name, records[name]) for name in features]
        encoded = self._encode(records)
        for column, values in zip(self.columns_, encoded, strict=True):
            if column.levels is not None:
                values[rng.random(values.size) < self.unknown_share] = -1
        X = self._design(encoded)
        oof = np.empty_like(y)
        folds = KFold(self.n_folds, shuffle=True, random_state=self.random_state)
        for train, test in folds.split(y):
            oof[test] = self._estimator(train.size).fit(X[train], y[train]).predict(X[test])
        self.estimator_ = self._estimator(y.size).fit(X, y)
        self._keep_residuals(oof, np.where(beyond, np.inf, y - oof), rng)
        self.metadata = self._describe(records, features, beyond)
        return self

    def predict(self, records: pd.DataFrame) -> np.ndarray:
        f = self._log_predict(records)
        bins = self._bin_of(f)
        mean = np.empty_like(f)
        cap = np.log1p(self.max_days)
        for b in np.unique(bins):
            rows, residuals = bins == b, self._residuals(b)
            finite = residuals[np.isfinite(residuals)]  # sorted; the +inf sit beyond them
            total = np.concatenate([[0.0], np.cumsum(np.exp(finite))])
            low = np.searchsorted(finite, -f[rows])  # these draws clip to 0 days
            high = np.searchsorted(finite, cap - f[rows])  # from here on: max_days
            inside = np.exp(f[rows]) * (total[high] - total[low]) - (high - low)
            mean[rows] = (inside + self.max_days * (residuals.size - high)) / residuals.size
        return mean

    def quantile(self, records: pd.DataFrame, q: float) -> np.ndarray:
        if not 0.0 <= q <= 1.0:
            raise ValueError(f"q must lie in [0, 1], got {q}")
        f = self._log_predict(records)
        per_bin = np.array([
            np.quantile(self._residuals(b), q, method="inverted_cdf")
            for b in range(self.bin_edges_.size + 1)
        ])
        return self._days(f + per_bin[self._bin_of(f)])

    def sample(self, records: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
        f = self._log_predict(records)
        bins = self._bin_of(f)
        start, size = self.bin_offsets_[bins], np.diff(self.bin_offsets_)[bins]
        return self._days(f + self.residuals_[start + rng.integers(size)])

    def _checked_features(self) -> tuple[str, ...]:
        features = tuple(dict.fromkeys(self.features))
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        unknown = [f for f in features if f not in FEATURE_COLUMNS]
        if unknown or not features:
            problem = f"not LOS features: {unknown}" if unknown else "no features given"
            raise ValueError(f"{problem}; choose from {list(FEATURE_COLUMNS)}")
        leaks = [f for f in features if f in LEAKAGE_COLUMNS]
        if leaks and not self.use_leakage:
            raise ValueError(
                f"{leaks} are known only at discharge and follow from the stay (charges grow "
                "with every day in bed), so a model using them reads the stay off its outcome. "
                "Pass use_leakage=True to measure the leak; never use such a model for a "
                "simulation or a policy."
            )
        if self.use_leakage:
            features += tuple(c for c in LEAKAGE_COLUMNS if c not in features)
        return features

    def _estimator(self, rows: int) -> BaseEstimator:
        params = {**ESTIMATOR_DEFAULTS[self.kind], **(self.params or {})}
        if self.kind == "linear":
            return Ridge(**params)
        if self.kind == "random_forest":
            if isinstance(params.get("max_samples"), int):
                params["max_samples"] = min(params["max_samples"], rows)
            return RandomForestRegressor(
                **params, n_jobs=self.n_jobs, random_state=self.random_state
            )
        return xgboost.XGBRegressor(**params, n_jobs=self.n_jobs, random_state=self.random_state)

    def _encode(self, records: pd.DataFrame) -> list[np.ndarray]:
        missing = [c.name for c in self.columns_ if c.name not in records]
        if missing:
            raise KeyError(f"the records lack columns {missing} that this model was fitted on")
        return [column.encode(records[column.name]) for column in self.columns_]

    def _design(self, encoded: list[np.ndarray]) -> np.ndarray | sp.csr_matrix:
        """Trees: level codes with unknown as NaN (both libraries learn where missing goes).
        Linear: one-hot levels plus an unknown column each, numbers median-filled."""
        if self.kind != "linear":
            return np.column_stack([
                np.where(v < 0, np.nan, v) if c.levels is not None else v
                for c, v in zip(self.columns_, encoded, strict=True)
            ]).astype(np.float32)
        n, blocks = encoded[0].size, []
        for column, values in zip(self.columns_, encoded, strict=True):
            if column.levels is None:
                filled = np.where(np.isnan(values), column.fill, values)
                blocks.append(sp.csr_matrix(filled[:, None]))
            else:
                width = len(column.levels) + 1
                index = np.where(values < 0, width - 1, values)
                blocks.append(sp.csr_matrix((np.ones(n), (np.arange(n), index)), shape=(n, width)))
        return sp.hstack(blocks, format="csr")

    def _log_predict(self, records: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self)
        X = self._design(self._encode(records))
        if not len(records):  # scikit-learn refuses no rows; a quiet simulated day has none
            return np.zeros(0)
        return np.asarray(self.estimator_.predict(X), dtype=float)

    def _keep_residuals(self, oof: np.ndarray, residuals: np.ndarray,
                        rng: np.random.Generator) -> None:
        """Quantile bins of the out-of-fold prediction. Edges are observed values above the
        minimum, so no bin is empty however many predictions tie."""
        inner = np.linspace(0.0, 1.0, self.n_bins + 1)[1:-1]
        edges = np.unique(np.quantile(oof, inner, method="inverted_cdf"))
        self.bin_edges_ = edges[edges > oof.min()]
        bins = self._bin_of(oof)
        kept = []
        for b in range(self.bin_edges_.size + 1):
            r = residuals[bins == b]
            if r.size > RESIDUALS_PER_BIN:
                r = rng.choice(r, RESIDUALS_PER_BIN, replace=False)
            kept.append(np.sort(r))
        self.residuals_ = np.concatenate(kept)
        self.bin_offsets_ = np.cumsum([0, *(r.size for r in kept)])

    def _bin_of(self, f: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.bin_edges_, f, side="right")

    def _residuals(self, b: int) -> np.ndarray:
        return self.residuals_[self.bin_offsets_[b]:self.bin_offsets_[b + 1]]

    def _days(self, log1p_days: np.ndarray) -> np.ndarray:
        return np.clip(np.expm1(log1p_days), 0.0, self.max_days)

    def _describe(self, records: pd.DataFrame, features: tuple[str, ...],
                  beyond: np.ndarray) -> dict:
        dates = records.get("admission_date")
        span = None
        if dates is not None and dates.notna().any():
            span = [dates.min().date().isoformat(), dates.max().date().isoformat()]
        return {
            "kind": self.kind,
            "features": list(features),
            "use_leakage": bool(self.use_leakage),
            "parameters": {
                "estimator": {**ESTIMATOR_DEFAULTS[self.kind], **(self.params or {})},
                "random_state": self.random_state, "n_folds": self.n_folds,
                "n_bins": int(self.bin_edges_.size + 1), "unknown_share": self.unknown_share,
                "max_days": self.max_days,
            },
            "training_rows": len(records),
            "top_coded_share": float(beyond.mean()),
            "admission_dates": span,
            "library_versions": library_versions(),
        }


def evaluate(model: LosRegressor, records: pd.DataFrame) -> dict[str, float]:
    """RMSE, MAE and R² in days of the point forecast against the recorded stays (top-coded
    ones at 120). Also stored as model.metadata['metrics'], so a saved model carries the
    figures it was judged by."""
    los = records["length_of_stay"].to_numpy(float)
    error = los - model.predict(records)
    metrics = {
        "rmse": float(np.sqrt(np.mean(error**2))),
        "mae": float(np.mean(np.abs(error))),
        "r2": float(1.0 - np.sum(error**2) / np.sum((los - los.mean()) ** 2)),
        "rows": len(los),
    }
    model.metadata["metrics"] = metrics
    return metrics


def calibration(
    model: LosRegressor,
    records: pd.DataFrame,
    qs: Sequence[float] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9),
) -> pd.DataFrame:
    """For each q, the share of stays at or below the predicted q-th quantile (q when the
    predictive distribution is right) and its binomial standard error under that null."""
    los = records["length_of_stay"].to_numpy(float)
    q = np.asarray(qs, dtype=float)
    share = [float(np.mean(los <= model.quantile(records, level))) for level in q]
    return pd.DataFrame({"q": q, "share_below": share, "se": np.sqrt(q * (1 - q) / los.size)})


__all__ = [
    "ESTIMATOR_DEFAULTS", "FEATURE_COLUMNS", "KINDS", "MAX_DAYS", "LosRegressor", "calibration",
    "evaluate", "library_versions",
]
