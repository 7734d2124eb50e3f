"""Time-weighted levels and event counters: the raw material of every KPI.

A `Level` keeps the integral of a piecewise-constant quantity (census, staffed beds, boarders)
in O(1) per change, so monitoring costs the event loop almost nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import NamedTuple


class Level:
    """A quantity that changes at events; `area` is its integral over time since `reset`."""

    __slots__ = ("area", "last", "value")

    def __init__(self, value: float = 0) -> None:
        self.value = value
        self.last = 0.0
        self.area = 0.0

    def add(self, now: float, delta: float) -> None:
        self.area += self.value * (now - self.last)
        self.last = now
        self.value += delta

    def set(self, now: float, value: float) -> None:
        self.add(now, value - self.value)

    def area_at(self, now: float) -> float:
        return self.area + self.value * (now - self.last)

    def reset(self, now: float) -> None:
        self.area = 0.0
        self.last = now


class DemandLevel(Level):
    """A unit's demand (its patients wherever they are) that also keeps the day's peak bed
    need: demand plus the patients in its beds ready to move on (`blocked`), the most a
    morning's staffing had to cover. Only a rise in demand can set a new peak, or a patient
    blocked here who was not this unit's demand (`blocked_here` tells it)."""

    __slots__ = ("blocked", "peak")

    def __init__(self, blocked: Level) -> None:
        super().__init__()
        self.blocked = blocked
        self.peak = 0

    def add(self, now: float, delta: float) -> None:
        # Level.add's body, not a call to it: this runs at every arrival and phase change
        self.area += self.value * (now - self.last)
        self.last = now
        self.value += delta
        if delta > 0 and self.value + self.blocked.value > self.peak:
            self.peak = self.value + self.blocked.value

    def blocked_here(self) -> None:
        """A patient in this unit's beds who was not its demand now waits to move on."""
        self.peak = max(self.peak, self.value + self.blocked.value)

    def restart_peak(self) -> float:
        """The day's peak bed need; the next day's starts from the need now."""
        peak, self.peak = self.peak, self.value + self.blocked.value
        return peak


class DailyRow(NamedTuple):
    """One unit's day in the daily table (`SimulationResult.daily`): level means over the
    day, the census at midnight, the day's peak bed need (its demand plus the patients in
    its beds ready to move on; NaN for the ventilator pool), and the day's counts."""

    day: int
    unit: str
    census_mean: float
    census_midnight: float
    staffed_mean: float
    demand_mean: float
    need_peak: float
    waiting_mean: float
    offservice_mean: float
    admissions: int
    discharges: int
    arrivals: int


@dataclass
class Counts:
    """Events counted since the end of the warm-up."""

    arrivals: int = 0
    admissions: int = 0
    discharges: int = 0
    diversions: int = 0
    offservice_placements: int = 0
    boarded: int = 0
    icu_requests: int = 0
    icu_refusals: int = 0
    ventilator_shortfall_patients: int = 0
    electives: int = 0
    elective_deferrals: int = 0
    elective_cancellations: int = 0
    invalid_placements: int = 0
    stay_days: float = 0.0

    def reset(self) -> None:
        for f in fields(self):
            setattr(self, f.name, type(getattr(self, f.name))())
