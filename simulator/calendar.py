"""Arrival rates through the year: profiles, seasonality, holidays and surges, hour by hour.

The simulation clock is in hours; hour 0 is midnight at the start of the warm-up, and day
`warmup` is the scenario's `start_date`. Rates are piecewise constant per hour, so arrivals
are drawn exactly (a Poisson count per hour, uniform times within it), not by thinning.
"""

from __future__ import annotations

import datetime as dt
from functools import cache

import holidays as holiday_calendars
import numpy as np

from scenarios.schema import ArrivalStream, Scenario, Surge

HOURS_PER_DAY = 24


def day_dates(scenario: Scenario, days: int) -> list[dt.date]:
    """Calendar date of each simulated day (warm-up days precede the start date)."""
    first = scenario.start_date - dt.timedelta(days=scenario.warmup)
    return [first + dt.timedelta(days=d) for d in range(days)]


def _normalised(profile: list[float] | None, length: int) -> np.ndarray:
    if profile is None:
        return np.ones(length)
    values = np.asarray(profile, dtype=float)
    return values * (length / values.sum())


@cache
def _holiday_dates(country: str, subdivision: str | None, years: tuple[int, ...]) -> frozenset:
    return frozenset(holiday_calendars.country_holidays(country, subdiv=subdivision, years=years))


def daily_multipliers(stream: ArrivalStream, dates: list[dt.date]) -> np.ndarray:
    """Weekday profile x annual seasonality x holiday effect, one value per day."""
    weekday = _normalised(stream.weekday_profile, 7)
    day_of_year = np.array([d.timetuple().tm_yday for d in dates], dtype=float)
    season = 1.0 + stream.seasonality.amplitude * np.cos(
        2 * np.pi * (day_of_year - stream.seasonality.peak_day) / 365.25
    )
    factor = weekday[[d.weekday() for d in dates]] * season
    effect = stream.holidays
    if effect is not None:
        years = tuple(sorted({d.year for d in dates} | {dates[0].year - 1}))
        off = _holiday_dates(effect.country, effect.subdivision, years)
        for i, date in enumerate(dates):
            if date in off:
                factor[i] *= effect.multiplier
            elif date - dt.timedelta(days=1) in off:
                factor[i] *= effect.days_after_multiplier
    return factor


def surge_intensity(surge: Surge, warmup_days: int, hours: np.ndarray) -> np.ndarray:
    """0..1 at each hour midpoint: linear ramp in, plateau, linear ramp out."""
    days = hours / HOURS_PER_DAY - warmup_days - surge.start_day
    end = surge.duration_days
    if surge.ramp_days == 0:
        return ((days >= 0) & (days < end)).astype(float)
    rising = np.clip(days / surge.ramp_days, 0.0, 1.0)
    falling = np.clip((end - days) / surge.ramp_days, 0.0, 1.0)
    return np.where((days >= 0) & (days < end), np.minimum(rising, falling), 0.0)


def hourly_rates(scenario: Scenario, stream: ArrivalStream, days: int) -> np.ndarray:
    """Expected arrivals in each hour of the run for one stream, before surges."""
    hourly = _normalised(stream.hour_profile, HOURS_PER_DAY) * stream.daily_rate / HOURS_PER_DAY
    per_day = daily_multipliers(stream, day_dates(scenario, days))
    return (per_day[:, None] * hourly[None, :]).ravel()


def surge_extras(scenario: Scenario, stream: ArrivalStream, base: np.ndarray) -> list[np.ndarray]:
    """For each surge, the change in this stream's hourly rate it causes (may be negative)."""
    midpoints = np.arange(base.size) + 0.5
    extras = []
    for surge in scenario.surges:
        if surge.streams is not None and stream.name not in surge.streams:
            extras.append(np.zeros_like(base))
            continue
        intensity = surge_intensity(surge, scenario.warmup, midpoints)
        extras.append(base * (surge.arrival_multiplier - 1.0) * intensity)
    return extras
