"""Features of each target day for daily admission forecasting: its calendar, and the history
known when the forecast was made.

Calendar: weekday (one-hot), month, annual Fourier terms and public holidays (with the day
before and the day after, when admissions dip and rebound) from the `holidays` package.

History, without look-ahead: one model serves every horizon 1..`max_horizon` (default 14). A
forecast made at origin t (the last observed day) for day d = t + h, h <= max_horizon, may use
admissions up to t only, so every history feature of d is read from days <= d - max_horizon <= t:
lags of at least max_horizon days (by default 14, 21 and 28: the target's weekday two to four
weeks back) and trailing means over windows that end max_horizon days before d. Training rows are
built the same way, so a model never learns from a feature it could not have at forecast time.
A model per horizon with fresher lags would help only where admissions carry short-lived shocks;
the calendar and a slowly moving level carry most of the signal, and one model instead of
fourteen keeps backtests fast. `history_features` refuses a target day more than max_horizon days
past the end of the history it is given rather than return NaN lags.

Level: with `FeatureSpec.level_window` (default 91 days, ending max_horizon days back, as above)
the history features are ratios to that trailing mean and models learn each day's admissions
relative to it. Trees cannot extrapolate, so on absolute counts they lag any growth; relative to
the level the target is stationary and the level carries the trend.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import holidays as holiday_calendars
import numpy as np
import pandas as pd

DAY = pd.Timedelta(days=1)


def check_history(history: pd.Series) -> pd.Series:
    """The series as floats, after checking it has one value per consecutive day: lags are
    read by date but trailing windows count rows, so a gap would silently stretch them."""
    index = history.index
    if not isinstance(index, pd.DatetimeIndex) or index.size == 0:
        raise ValueError("history must be a non-empty series indexed by date")
    if not ((index[1:] - index[:-1]) == DAY).all() or not (index == index.normalize()).all():
        raise ValueError("history must have one value per consecutive day, in date order")
    if history.isna().any():
        raise ValueError("history has missing values")
    return history.astype(float)


@cache
def _holiday_dates(
    country: str, subdivision: str | None, years: tuple[int, ...]
) -> pd.DatetimeIndex:
    calendar = holiday_calendars.country_holidays(country, subdiv=subdivision, years=years)
    return pd.DatetimeIndex(sorted(calendar))


def calendar_features(
    dates: pd.DatetimeIndex,
    fourier_order: int = 2,
    country: str = "US",
    subdivision: str | None = "NY",
) -> pd.DataFrame:
    """Weekday one-hot (dow_0 = Monday), month, sin/cos of the annual cycle up to
    `fourier_order`, and holiday / day-before / day-after flags for each date."""
    years = tuple(range(dates.year.min() - 1, dates.year.max() + 2))
    off = _holiday_dates(country, subdivision, years)
    columns: dict[str, np.ndarray] = {
        f"dow_{d}": (dates.day_of_week == d).astype(float) for d in range(7)
    }
    columns["month"] = dates.month.to_numpy(dtype=float)
    angle = 2 * np.pi * dates.day_of_year.to_numpy(dtype=float) / 365.25
    for k in range(1, fourier_order + 1):
        columns[f"sin_{k}"] = np.sin(k * angle)
        columns[f"cos_{k}"] = np.cos(k * angle)
    columns["holiday"] = dates.isin(off).astype(float)
    columns["holiday_before"] = (dates + DAY).isin(off).astype(float)
    columns["holiday_after"] = (dates - DAY).isin(off).astype(float)
    return pd.DataFrame(columns, index=dates)


def _guard(history: pd.Series, dates: pd.DatetimeIndex, max_horizon: int) -> None:
    if dates.size and dates.max() > history.index[-1] + max_horizon * DAY:
        raise ValueError(
            f"target {dates.max().date()} is more than {max_horizon} days after the last "
            f"observed day {history.index[-1].date()}"
        )


def trailing_mean(
    history: pd.Series, dates: pd.DatetimeIndex, window: int, max_horizon: int = 14
) -> np.ndarray:
    """Mean of the `window` days ending `max_horizon` days before each date (NaN where the
    history does not reach back that far)."""
    _guard(history, dates, max_horizon)
    return history.rolling(window).mean().reindex(dates - max_horizon * DAY).to_numpy()


def history_features(
    history: pd.Series,
    dates: pd.DatetimeIndex,
    lags: tuple[int, ...] = (14, 21, 28),
    windows: tuple[int, ...] = (7, 28),
    max_horizon: int = 14,
) -> pd.DataFrame:
    """lag_L = admissions L days before each date; mean_W = `trailing_mean` over W days."""
    if min(lags, default=max_horizon) < max_horizon:
        raise ValueError(f"lags {lags} must all be >= max_horizon {max_horizon}: look-ahead")
    _guard(history, dates, max_horizon)
    columns = {f"lag_{lag}": history.reindex(dates - lag * DAY).to_numpy() for lag in lags}
    for window in windows:
        columns[f"mean_{window}"] = trailing_mean(history, dates, window, max_horizon)
    return pd.DataFrame(columns, index=dates)


@dataclass(frozen=True)
class FeatureSpec:
    """Which features a model uses (frozen: a value that models can share).

    Two annual harmonics shape a winter peak and a summer trough; more chase noise in the two
    or three years of history a hospital usually has. With `level_window`, history features
    are ratios to the level (the trailing mean over that many days), and models learn the day's
    admissions relative to the same level."""

    fourier_order: int = 2
    country: str = "US"
    subdivision: str | None = "NY"
    lags: tuple[int, ...] = (14, 21, 28)
    windows: tuple[int, ...] = (7, 28)
    max_horizon: int = 14
    level_window: int | None = 91

    def build(
        self, history: pd.Series, dates: pd.DatetimeIndex
    ) -> tuple[pd.DataFrame, np.ndarray]:
        """Calendar and history features of `dates`, reading only `history`, and the level
        they are relative to (ones without `level_window`)."""
        calendar = calendar_features(dates, self.fourier_order, self.country, self.subdivision)
        past = history_features(history, dates, self.lags, self.windows, self.max_horizon)
        level = np.ones(dates.size)
        if self.level_window is not None:
            level = trailing_mean(history, dates, self.level_window, self.max_horizon)
            # at least one admission per window: a unit closed for a whole window still scales
            level = np.maximum(level, 1 / self.level_window)
            past = past.div(level, axis=0)
        return pd.concat([calendar, past], axis=1), level
