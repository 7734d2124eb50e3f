"""Point-forecast error measures, so every model and baseline is scored the same way."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def _pair(actual: ArrayLike, predicted: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(actual, dtype=float).ravel()
    p = np.asarray(predicted, dtype=float).ravel()
    if a.shape != p.shape or a.size == 0:
        raise ValueError(f"need two equal, non-empty arrays; got {a.size} and {p.size} values")
    return a, p


def rmse(actual: ArrayLike, predicted: ArrayLike) -> float:
    a, p = _pair(actual, predicted)
    return float(np.sqrt(np.mean((a - p) ** 2)))


def mae(actual: ArrayLike, predicted: ArrayLike) -> float:
    a, p = _pair(actual, predicted)
    return float(np.mean(np.abs(a - p)))


def mape(actual: ArrayLike, predicted: ArrayLike) -> float:
    """Mean absolute percentage error in percent, over the days with a non-zero actual only:
    a small unit has days with no admissions, where the percentage error is undefined. NaN if
    every actual is zero."""
    a, p = _pair(actual, predicted)
    nonzero = a != 0
    if not nonzero.any():
        return float("nan")
    return float(100 * np.mean(np.abs((a[nonzero] - p[nonzero]) / a[nonzero])))


def r2(actual: ArrayLike, predicted: ArrayLike) -> float:
    """1 - SSE/SST around the mean of the actuals; negative when the forecast is worse than
    that mean, NaN when the actuals are constant (no variance to explain)."""
    a, p = _pair(actual, predicted)
    total = np.sum((a - a.mean()) ** 2)
    if total == 0:
        return float("nan")
    return float(1 - np.sum((a - p) ** 2) / total)


def error_table(actual: ArrayLike, predicted: ArrayLike) -> dict[str, float]:
    """n, RMSE, MAE, MAPE (%) and R² of one set of forecasts."""
    a, p = _pair(actual, predicted)
    return {"n": a.size, "rmse": rmse(a, p), "mae": mae(a, p), "mape": mape(a, p), "r2": r2(a, p)}
