"""What the forecast-using policies (greedy, the MILP, the oracle) share: a forecast
source, the morning's projection of each unit's demand over the day it plans for, the
service-level staffing rule, and placement by projected headroom.

A morning plan must cover the whole day ahead, up to the busiest moment it can reach, not
the morning count. The projection is the census at midday (today's occupants and boarders
by predicted stay, plus the day's forecast arrivals); how far each day's peak bed need (the
unit's uncensored demand plus the patients in its beds ready to move on, such as ICU
patients waiting for a step-down bed) rose above the projection made for it is learnt from the last
`window` days (`Calibration`), so intraday peaks, blocked beds, overdue discharges and the
forecast's own bias are staffed for as they were seen, not as assumed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from statistics import NormalDist
from typing import ClassVar

import numpy as np

from policies.forecasts import (
    ArrivalForecast,
    CensusModel,
    make_source,
    presence,
    same_weekday,
    unit_index,
)
from policies.stays import StayForecast, los_kind
from scenarios.schema import Scenario
from simulator import HOLD, HospitalView, Patient, Plan
from simulator.calendar import HOURS_PER_DAY
from simulator.demand import child_seed

MIN_CALIBRATION_DAYS = 14
"""Days of projections scored against their peaks before the learnt spread replaces the
Poisson assumption (variance = mean)."""


@dataclass(frozen=True)
class Outlook:
    """One morning's projection of each unit's peak bed need, units x days: mean and variance
    of the busiest moment without today's electives, and the share of each of today's
    electives present per unit and day (electives x units x days)."""

    units: dict[str, int]
    mean: np.ndarray
    var: np.ndarray
    electives: list[Patient]
    elective_load: np.ndarray


@dataclass(frozen=True)
class Calibration:
    """Per unit: mean and variance of (the day's peak bed need − the day-0 projection
    made that morning), over recent days; None until there are enough of them."""

    bias: np.ndarray
    var: np.ndarray

    @classmethod
    def learn(cls, view: HospitalView, projected: dict[int, np.ndarray],
              window: int) -> Calibration | None:
        days = [d for d in range(max(0, view.day - window), view.day) if d in projected]
        if len(days) < MIN_CALIBRATION_DAYS:
            return None
        peaks = np.array([[view.need_peaks(u.name)[d] for u in view.units] for d in days])
        residual = peaks - np.array([projected[d] for d in days])
        return cls(residual.mean(axis=0), residual.var(axis=0, ddof=1))


def service_quantiles(scenario: Scenario) -> np.ndarray:
    """Per unit, the share of days its staffed beds must cover the peak: the ICU and
    step-down (a full step-down blocks the ICU) from the ICU refusal target, wards from the
    long-wait target."""
    levels = scenario.service_levels
    return np.array([
        1 - (levels.icu_refusal_rate if u.kind != "ward" else levels.long_wait_share)
        for u in scenario.units
    ])


class ForecastPolicy:
    """Parameters in `__init__`; everything a run learns is made afresh in `start`, so one
    object can run many replications and each gives the numbers a fresh object would."""

    relative_cost: ClassVar[float] = 8.0  # see `Static.relative_cost`

    def __init__(self, forecast: str | Mapping | ArrivalForecast = "historical",
                 horizon: int = 7, window: int = 28,
                 los_forecast: str | Mapping = "predicted") -> None:
        if horizon < 1:
            raise ValueError("horizon must be >= 1")
        if window < MIN_CALIBRATION_DAYS:
            raise ValueError(f"window must be >= {MIN_CALIBRATION_DAYS} days")
        los_kind(los_forecast)  # a misspelt one fails here, not at the first run
        self.forecast, self.horizon, self.window = forecast, horizon, window
        self.los_forecast = los_forecast
        self.source: ArrivalForecast = (
            make_source(forecast) if isinstance(forecast, str | Mapping) else forecast
        )

    def start(self, view: HospitalView) -> None:
        """A new run: forget the last one."""
        self.census = CensusModel(self.horizon)
        self.stay = StayForecast(self.los_forecast)
        self.headroom: dict[str, float] = {}
        self.deferrals: dict[int, int] = {}
        self.forecasts: dict[int, float] = {}  # day -> forecast arrivals that day, all units
        self.projected: dict[int, np.ndarray] = {}  # day -> day-0 projection, per unit
        self.calibration: Calibration | None = None
        self.z = np.array([NormalDist().inv_cdf(q) for q in self.quantiles(view)])

    def quantiles(self, view: HospitalView) -> np.ndarray:
        """The share of days each unit's staffing must cover (service levels)."""
        return service_quantiles(view.scenario)

    def kpis(self, view: HospitalView) -> dict[str, float]:
        """Error of the same-day arrival forecasts this policy planned with, against the
        patients drawn to arrive those days, and of the stays it planned patients with
        (measured days): what the sources delivered."""
        warmup = view.scenario.warmup
        out = self.stay.kpis(warmup * HOURS_PER_DAY)
        actual = np.asarray(view.drawn_arrivals())
        days = [d for d in self.forecasts if warmup <= d < len(actual)]
        if not days:
            return out
        f = np.array([self.forecasts[d] for d in days])
        a = actual[days].astype(float)
        error = f - a
        spread = ((a - a.mean()) ** 2).sum()
        return out | {
            "forecast_mae": float(np.abs(error).mean()),
            "forecast_rmse": float(np.sqrt((error**2).mean())),
            "forecast_mape": float(np.mean(np.abs(error[a > 0]) / a[a > 0]) * 100),
            "forecast_r2": float(1 - (error**2).sum() / spread) if spread > 0 else float("nan"),
        }

    def seed_noise(self, seed: np.random.SeedSequence) -> None:
        """Seeds for noisy forecasts (`simulator.DrawsNoise`): arrivals and stays each
        their own, so either's noise is the same whether or not the other is noisy."""
        arrivals, stays = child_seed(seed, 0), child_seed(seed, 1)
        if hasattr(self.source, "seed_noise"):
            self.source.seed_noise(arrivals)
        self.stay.seed_noise(stays)

    def reveal(self, truth) -> None:
        """Hand the truth to the forecasts that plan with it (perfect, noisy) and to the
        stay forecast, which scores itself against it after the run."""
        if hasattr(self.source, "reveal"):
            self.source.reveal(truth)
        self.stay.reveal(truth)

    def outlook(self, view: HospitalView) -> Outlook | None:
        """Occupants, boarders and forecast non-elective arrivals; today's electives apart
        (a decision). Variance from the arrivals (Poisson) and from every move of an
        occupant in or out of a unit that the predicted stays place by that day."""
        expected = self.source.expected(view, self.horizon)
        if expected is not None:
            self.forecasts[view.day] = float(sum(e[0] for e in expected.values()))
        if expected is None or not self.census.seen:
            return None
        units = unit_index(view)
        for unit, booked in _expected_electives(view).items():
            expected[unit] = expected[unit].copy()
            expected[unit][0] = max(0.0, expected[unit][0] - booked)  # the list is known
        self.stay.observe(view)
        new = self.census.arrivals(expected, view)
        occupants, moves = self.census.occupants(view, self.stay.days)
        electives = view.electives_today()
        load = np.zeros((len(electives), len(units), self.horizon))
        for i, patient in enumerate(electives):
            phases = self.census.phases(view, patient, self.stay.days(patient), units)
            load[i] = presence(phases, (patient.arrival - view.now) / HOURS_PER_DAY, units,
                               self.horizon)
        return self.to_peak(view, Outlook(units, occupants + new, new + moves, electives, load))

    def to_peak(self, view: HospitalView, outlook: Outlook) -> Outlook:
        """From the midday projection to the day's peak: add the bias learnt on recent days
        and, for day 0, use their spread (later days add the growth of the projection's own
        variance); until there is a record, assume Poisson demand (variance = mean)."""
        calibration = self.calibration = Calibration.learn(view, self.projected, self.window)
        if calibration is None:
            return Outlook(outlook.units, outlook.mean, outlook.mean.copy(), outlook.electives,
                           outlook.elective_load)
        mean = outlook.mean + calibration.bias[:, None]
        growth = np.maximum(0.0, outlook.var - outlook.var[:, :1])
        return Outlook(outlook.units, mean, calibration.var[:, None] + growth,
                       outlook.electives, outlook.elective_load)

    def need(self, mean: np.ndarray, var: np.ndarray) -> np.ndarray:
        """Beds for each unit-day to cover its peak on the service level's share of days."""
        return np.ceil(mean + self.z[:, None] * np.sqrt(np.maximum(var, 0.0)) - 1e-9)

    def commit(self, view: HospitalView, outlook: Outlook, plan: Plan) -> Plan:
        """Remember what the plan projected for today (scored tonight against the peak),
        its headroom (for placement) and its deferrals."""
        admitted = [p.pid not in plan.defer for p in outlook.electives]
        today = outlook.elective_load[admitted, :, 0].sum(axis=0)
        bias = 0.0 if self.calibration is None else self.calibration.bias
        self.projected[view.day] = outlook.mean[:, 0] - bias + today
        self.headroom = {
            u: plan.staffed[u] - float(outlook.mean[i, :2].max()) for u, i in outlook.units.items()
        }
        for pid in plan.defer:
            self.deferrals[pid] = self.deferrals.get(pid, 0) + 1
        return plan

    def place(self, patient: Patient, view: HospitalView) -> str:
        """The needed unit if it has a free bed (off-service costs); else the allowed unit
        with a free bed and the most projected headroom; else board."""
        self.census.observe(patient, view, self.stay.days(patient))
        options = view.choices(patient)
        if view.free(options[0]) > 0:
            return options[0]
        free = [u for u in options[1:] if view.free(u) > 0]
        if not free:
            return HOLD
        return max(free, key=lambda u: (self.headroom.get(u, 0.0), view.free(u)))

    def admit_next(self, unit: str, candidates: list[Patient], view: HospitalView) -> Patient:
        """A freed bed goes to a patient of this unit if one waits; else to the patient
        whose own unit has the least projected headroom (where waiting hurts most),
        the oldest request first on ties."""
        own = [p for p in candidates if p.needs == unit]
        if own:
            return own[0]
        return min(candidates, key=lambda p: (self.headroom.get(p.needs, 0.0), p.requested_at))

    def may_defer(self, patient: Patient, view: HospitalView) -> bool:
        """A deferral past the stream's limit is a cancellation: never chosen lightly."""
        return self.deferrals.get(patient.pid, 0) < _max_deferrals(view)


def _expected_electives(view: HospitalView) -> dict[str, float]:
    """Electives a source's forecast of today includes, per unit: the mean booked on the
    same weekday over the last eight weeks (the real list replaces them)."""
    out = {}
    for unit in view.units:
        same = same_weekday(view.elective_history(unit.name), view.day, 8)
        out[unit.name] = float(np.mean(same)) if same else 0.0
    return out


def _max_deferrals(view: HospitalView) -> int:
    streams = [s.max_deferral_days for s in view.scenario.arrivals if s.kind == "elective"]
    return min(streams, default=0)
