"""The simplest policies: fixed staffing, and the historical average that many hospitals use."""

from __future__ import annotations

import math
from typing import ClassVar

from policies.forecasts import same_weekday
from simulator import HOLD, HospitalView, Patient, Plan


class Static:
    """Keep the scenario's default staffing; place each patient in the first unit with a
    free bed (home unit first, then its allowed overflow units in the scenario's order),
    else board. The textbook queue, and the reference the other policies improve on."""

    relative_cost: ClassVar[float] = 1.0
    """Rough run time against `static`'s: studies start the slowest replications first, so
    parallel workers finish together (a scheduling hint; no number depends on it)."""

    def plan(self, day: int, view: HospitalView) -> Plan | None:
        return None

    def place(self, patient: Patient, view: HospitalView) -> str:
        for unit in view.choices(patient):
            if view.free(unit) > 0:
                return unit
        return HOLD


class Baseline(Static):
    """Staff each unit to its average peak bed need on the same weekday over recent weeks,
    plus a proportional headroom; place first-fit like `Static`. The rule of thumb many
    hospitals use: plan for a typical busy Monday, not for its spread, so small units
    (where the spread is a large share of the census) fall short.

    Demand counts every patient needing the unit (in its beds, elsewhere, waiting or
    turned away), so a unit that overflows does not learn to staff fewer beds. Until
    `min_weeks` of history exist, staffing stays at the scenario's defaults.
    """

    def __init__(self, weeks: int = 8, headroom: float = 0.15, min_weeks: int = 2) -> None:
        if weeks < 1 or min_weeks < 1 or min_weeks > weeks:
            raise ValueError("need 1 <= min_weeks <= weeks")
        if headroom < 0:
            raise ValueError("headroom must be >= 0")
        self.weeks, self.headroom, self.min_weeks = weeks, headroom, min_weeks

    def plan(self, day: int, view: HospitalView) -> Plan:
        staffed = {}
        for unit in view.units:
            history = view.need_peaks(unit.name)
            same = same_weekday(history, day, self.weeks)
            if len(same) >= self.min_weeks:
                average = sum(same) / len(same)
                wanted = math.ceil(average * (1 + self.headroom))
                staffed[unit.name] = min(wanted, view.capacity(unit.name))
        return Plan(staffed=staffed)
