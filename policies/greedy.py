"""Greedy: staff each unit to a quantile of its projected census, defer electives the
projection cannot fit, and place patients where projected headroom is largest."""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist
from typing import ClassVar

import numpy as np

from policies.forecasts import (
    ArrivalForecast,
    CensusModel,
    make_source,
    presence,
    unit_index,
)
from simulator import HOLD, HospitalView, Patient, Plan
from simulator.calendar import HOURS_PER_DAY


@dataclass(frozen=True)
class Outlook:
    """One morning's projection: census mean and variance (units x days), and the share of
    each of today's electives present per unit and day (electives x units x days)."""

    units: dict[str, int]
    mean: np.ndarray
    var: np.ndarray
    electives: list[Patient]
    elective_load: np.ndarray


class Forecasting:
    """What greedy and the MILP share: a forecast source, the census projection built on
    it, and placement by projected headroom."""

    relative_cost: ClassVar[float] = 8.0  # see `Static.relative_cost`

    def __init__(self, forecast: str = "historical", horizon: int = 7) -> None:
        if horizon < 1:
            raise ValueError("horizon must be >= 1")
        self.forecast_name, self.horizon = forecast, horizon
        self.source: ArrivalForecast = make_source(forecast)
        self.census = CensusModel(horizon)
        self.headroom: dict[str, float] = {}
        self.deferrals: dict[int, int] = {}
        self.forecasts: dict[int, float] = {}  # day -> forecast arrivals that day, all units

    def kpis(self, view: HospitalView) -> dict[str, float]:
        """Error of the same-day arrival forecasts this policy planned with, against the
        patients drawn to arrive those days (measured days): what the source delivered."""
        actual = np.asarray(view.drawn_arrivals())
        days = [d for d in self.forecasts if view.scenario.warmup <= d < len(actual)]
        if not days:
            return {}
        f = np.array([self.forecasts[d] for d in days])
        a = actual[days].astype(float)
        error = f - a
        spread = ((a - a.mean()) ** 2).sum()
        return {
            "forecast_mae": float(np.abs(error).mean()),
            "forecast_rmse": float(np.sqrt((error**2).mean())),
            "forecast_mape": float(np.mean(np.abs(error[a > 0]) / a[a > 0]) * 100),
            "forecast_r2": float(1 - (error**2).sum() / spread) if spread > 0 else float("nan"),
        }

    def reveal(self, truth) -> None:
        """Hand the truth to a source that needs it (`perfect`); others ignore it."""
        if hasattr(self.source, "reveal"):
            self.source.reveal(truth)

    def outlook(self, view: HospitalView) -> Outlook | None:
        """Mean census of occupants plus forecast non-elective arrivals; today's electives
        apart (a decision). Arrivals are Poisson, so their census is too: variance = mean."""
        expected = self.source.expected(view, self.horizon)
        if expected is not None:
            self.forecasts[view.day] = float(sum(e[0] for e in expected.values()))
        if expected is None or not self.census.seen:
            return None
        units, horizon = unit_index(view), self.horizon
        electives = view.electives_today()
        for unit, count in _count_by_unit(electives).items():
            expected[unit] = expected[unit].copy()
            expected[unit][0] = max(0.0, expected[unit][0] - count)
        new = self.census.arrivals(expected, view)
        mean = self.census.occupants(view) + new
        load = np.zeros((len(electives), len(units), horizon))
        for i, patient in enumerate(electives):
            phases = self.census.phases(view, patient, patient.predicted_los, units)
            load[i] = presence(phases, (patient.arrival - view.now) / HOURS_PER_DAY, units,
                               horizon)
        return Outlook(units, mean, new.copy(), electives, load)

    def place(self, patient: Patient, view: HospitalView) -> str:
        """The needed unit if it has a free bed (off-service costs); else the allowed unit
        with a free bed and the most projected headroom; else board."""
        self.census.observe(patient, view)
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

    def note_deferred(self, plan: Plan) -> None:
        for pid in plan.defer:
            self.deferrals[pid] = self.deferrals.get(pid, 0) + 1

    def may_defer(self, patient: Patient, view: HospitalView) -> bool:
        """A deferral past the stream's limit is a cancellation: never chosen lightly."""
        return self.deferrals.get(patient.pid, 0) < _max_deferrals(view)

    def set_headroom(self, outlook: Outlook, staffed: dict[str, int]) -> None:
        self.headroom = {
            u: staffed[u] - float(outlook.mean[i, :2].max()) for u, i in outlook.units.items()
        }


class Greedy(Forecasting):
    """Staff each unit for today to the `quantile` of its projected census (normal
    approximation, plus `headroom` share), never above what nurses and beds allow; defer
    the longest-staying electives while the projection exceeds capacity; best-fit place."""

    def __init__(self, forecast: str = "historical", horizon: int = 7, quantile: float = 0.9,
                 headroom: float = 0.0) -> None:
        super().__init__(forecast, horizon)
        if not 0.0 < quantile < 1.0 or headroom < 0:
            raise ValueError("need 0 < quantile < 1 and headroom >= 0")
        self.quantile, self.margin = quantile, headroom
        self.z = NormalDist().inv_cdf(quantile)

    def plan(self, day: int, view: HospitalView) -> Plan | None:
        outlook = self.outlook(view)
        if outlook is None:
            return None
        plan = self.decide(outlook, view)
        self.note_deferred(plan)
        return plan

    def decide(self, outlook: Outlook, view: HospitalView) -> Plan:
        """The plan for one outlook (also the MILP's fallback and its comparison point)."""
        mean, var = outlook.mean.copy(), outlook.var
        capacity = np.array([view.capacity(u) for u in outlook.units])
        order = np.argsort([-p.predicted_los for p in outlook.electives], kind="stable")
        admitted = np.ones(len(outlook.electives), dtype=bool)
        mean_all = mean + outlook.elective_load.sum(axis=0)
        # need(mean) <= capacity, solved for the mean once rather than tested each time
        ceiling = (capacity[:, None] + 1e-9) / (1 + self.margin) - self.z * np.sqrt(var)
        for i in order:  # the longest stays free the most bed-days when pushed a day
            patient = outlook.electives[i]
            if (mean_all <= ceiling).all():
                break
            if self.may_defer(patient, view):
                admitted[i] = False
                load = outlook.elective_load[i]
                mean_all -= load
                mean_all[:, 1:] += load[:, :-1]
        need = self.need(mean_all, var)[:, 0]
        staffed = {u: int(min(need[i], capacity[i])) for u, i in outlook.units.items()}
        self.set_headroom(outlook, staffed)
        defer = frozenset(p.pid for p, a in zip(outlook.electives, admitted, strict=True) if not a)
        return Plan(staffed=staffed, defer=defer)

    def need(self, mean: np.ndarray, var: np.ndarray) -> np.ndarray:
        """Beds for the quantile of each unit-day census (rounded up)."""
        return np.ceil((mean + self.z * np.sqrt(var)) * (1 + self.margin) - 1e-9)


def _count_by_unit(patients: list[Patient]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for patient in patients:
        counts[patient.needs] = counts.get(patient.needs, 0) + 1
    return counts


def _max_deferrals(view: HospitalView) -> int:
    streams = [s.max_deferral_days for s in view.scenario.arrivals if s.kind == "elective"]
    return min(streams, default=0)

