"""The read-only window a policy has on the hospital."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from scenarios.schema import Scenario, Unit
from simulator.protocols import Patient

if TYPE_CHECKING:
    from simulator.hospital import Hospital


class HospitalView:
    """What a policy may look at: the present state and the past, never the future."""

    __slots__ = ("_h",)

    def __init__(self, hospital: Hospital) -> None:
        self._h = hospital

    @property
    def scenario(self) -> Scenario:
        return self._h.scenario

    @property
    def units(self) -> list[Unit]:
        return self._h.scenario.units

    @property
    def now(self) -> float:
        """Hours since the start of the run (warm-up included)."""
        return self._h.env.now

    @property
    def day(self) -> int:
        return self._h.day

    def date(self, day: int | None = None) -> dt.date:
        """Calendar date of a simulated day (default: today)."""
        offset = (self._h.day if day is None else day) - self._h.scenario.warmup
        return self._h.scenario.start_date + dt.timedelta(days=offset)

    def census(self, unit: str) -> int:
        return self._h.by_name[unit].census.value

    def staffed(self, unit: str) -> int:
        return self._h.by_name[unit].staffed.value

    def free(self, unit: str) -> int:
        """Staffed beds free now."""
        ward = self._h.by_name[unit]
        return ward.staffed.value - ward.census.value

    def capacity(self, unit: str) -> int:
        """The most beds that can be staffed today (physical beds, nurses on duty, agency)."""
        return self._h._capacity(self._h.by_name[unit])

    def regular_capacity(self, unit: str) -> int:
        """Beds the rostered nurses on duty today can cover without premium staff."""
        return self._h.by_name[unit].regular

    def boarding(self, unit: str) -> int:
        """Patients with no bed yet waiting for this unit."""
        return self._h.by_name[unit].waiting.value

    def choices(self, patient: Patient) -> tuple[str, ...]:
        """The unit the patient needs now, then the units allowed to take them off-service."""
        return self._h.by_name[patient.needs].options

    def occupants(self, unit: str) -> list[Patient]:
        return list(self._h.by_name[unit].occupants)

    def demand_history(self, unit: str) -> list[float]:
        """Mean daily demand (patients needing this unit, in a bed or waiting), day by day."""
        return self._h.demand_history[unit]

    def need_peaks(self, unit: str) -> list[float]:
        """The most beds this unit needed at any moment, day by day: its patients wherever
        they are (uncensored demand) and the patients in its beds ready to move on. What a
        day's staffing had to cover."""
        return self._h.need_peaks[unit]

    def boarders(self, unit: str) -> list[Patient]:
        """Patients with no bed yet waiting for this unit, oldest request first."""
        ward = self._h.by_name[unit]
        return [s.patient for s in ward.queue if s.waiting_for is ward and s.unit is None]

    def arrival_history(self, unit: str) -> list[int]:
        """Arrivals whose first need was this unit, day by day (completed days only)."""
        return self._h.arrival_history[unit]

    def elective_history(self, unit: str) -> list[int]:
        """Of `arrival_history`, the booked electives (admitted or cancelled on the day)."""
        return self._h.elective_history[unit]

    def drawn_arrivals(self) -> list[int]:
        """Patients drawn to arrive each completed day, before any deferral or cancellation:
        the exogenous demand a forecast of arrivals is scored against."""
        starts, closed = self._h._day_start, len(self._h.arrival_history[self.units[0].name])
        return [starts[d + 1] - starts[d] for d in range(closed)]

    def electives_today(self) -> list[Patient]:
        """Today's booked electives (ids go in `Plan.defer`); only meaningful inside `plan`."""
        return [stay.patient for stay in self._h._electives_today]
