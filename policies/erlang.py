"""The queueing-theory reference: staff each unit, each day, to the fewest beds whose Erlang
blocking or delay probability meets the scenario's service level (square-root safety
staffing: Green, Kolesar & Whitt, POMS 2007; Jennings, Mandelbaum, Massey & Whitt,
Management Science 1996, for a time-varying offered load)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import ClassVar

from policies.baseline import Static
from policies.forecasts import same_weekday
from simulator import HospitalView, Plan
from simulator.calendar import HOURS_PER_DAY
from simulator.theory import erlang_b, erlang_c

STAGE = {"icu": 0, "stepdown": 1, "ward": 2}
"""Order of the units on a patient's pathway (ICU, then step-down, then the home ward)."""
LOSS_KINDS = frozenset({"icu", "stepdown"})
"""Units run as loss systems: an ICU patient with no ICU bed at once is refused, and a
step-down patient with no bed keeps an ICU bed, which refuses the next ICU patient."""


def _fewest(meets: Callable[[int], bool], cap: int) -> int:
    """The fewest beds in 0..cap meeting a target that, once met, stays met with more beds
    (cap if none does); bisection, so a few Erlang evaluations a unit."""
    lo, hi = 0, cap
    while lo < hi:
        mid = (lo + hi) // 2
        if meets(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


def loss_beds(load: float, blocking: float, cap: int) -> int:
    """Fewest beds c <= cap with Erlang B(c, load) <= blocking: M/G/c/c, an arrival finding
    every bed taken is lost (insensitive to the stay distribution)."""
    return _fewest(lambda c: erlang_b(c, load) <= blocking, cap)


def delay_beds(load: float, share: float, wait_hours: float, stay_hours: float, cap: int) -> int:
    """Fewest beds c <= cap with P(wait > wait_hours) <= share in M/M/c FIFO:
    C(c, a) exp(-(c - a) wait_hours / stay_hours); never c <= a (the queue would grow)."""
    def meets(c: int) -> bool:
        if c <= load:
            return False
        return erlang_c(c, load) * math.exp(-(c - load) * wait_hours / stay_hours) <= share
    return _fewest(meets, cap)


class Erlang(Static):
    """Staff each unit, each morning, to the fewest beds that meet the scenario's service
    level at the day's offered load; place first-fit like `Static`.

    Offered load: under M/G/inf the mean uncensored census is the offered load, so a
    weekday's load is the mean of `demand_history` on that weekday over the last `weeks`
    weeks. In the ICU and step-down unit, patients whose care there is over but whose next
    unit has no bed still hold a bed (they are the next unit's demand), so the morning
    count of them is added: their wait lengthens the bed's holding time, which is what
    Erlang B's load is made of. Days of the warm-up are not learnt from: they are the
    simulation filling an empty hospital, a transient no hospital's history has.

    The day's load: the morning's beds serve the whole day (they open at once and close
    only as they empty), so the load is the larger of today's and tomorrow's weekday load
    (covering the end of a rising day), plus `peak` times the weekday's mean arrivals:
    arrivals run ahead of discharges until about noon, so the census peaks above the day's
    mean, by 0.12-0.19 of a day's arrivals on the baseline hospital's hour profiles (0.08
    in the ICU, left at any hour) and by 0.15-0.28 in its simulated hour-of-week census.
    Without it, simulated years refused 5.6% of ICU patients instead of 4.3%.

    Service levels (`scenario.service_levels`, unless overridden here): the ICU and
    step-down unit are held to `icu_refusal_rate` by Erlang B; wards, where patients
    board, to `long_wait_share` waiting longer than `boarding.target_hours` by Erlang C,
    the mean stay taken from the same window by Little's law (demand / arrivals; patients
    coming from step-down are not counted as arrivals, which lengthens the stay and errs
    towards more beds). Each unit is taken alone: off-service placements pool the wards,
    so their long waits come out well under target. No elective is deferred.

    Until `min_weeks` of history after the warm-up exist, staffing stays at the scenario's
    defaults. Beds are capped at what the unit can staff today (`view.capacity`).
    """

    relative_cost: ClassVar[float] = 1.0  # see `Static.relative_cost`

    def __init__(
        self,
        weeks: int = 6,
        min_weeks: int = 2,
        peak: float = 0.2,
        icu_refusal_rate: float | None = None,
        long_wait_share: float | None = None,
    ) -> None:
        if weeks < 1 or min_weeks < 1 or min_weeks > weeks:
            raise ValueError("need 1 <= min_weeks <= weeks")
        if not 0 <= peak <= 1:
            raise ValueError(f"peak is a share of a day's arrivals, 0 to 1 (got {peak!r})")
        for name, target in (("icu_refusal_rate", icu_refusal_rate),
                             ("long_wait_share", long_wait_share)):
            if target is not None and not 0 < target < 1:
                raise ValueError(f"{name} must be strictly between 0 and 1 (got {target!r})")
        self.weeks, self.min_weeks, self.peak = weeks, min_weeks, peak
        self.icu_refusal_rate, self.long_wait_share = icu_refusal_rate, long_wait_share
        self.held: dict[str, list[int]] = {}

    def _weekday_mean(self, history: list, day: int, first: int) -> float | None:
        """Mean of `history` on `day`'s weekday over the last `weeks` weeks, from day `first`
        on (None if fewer than `min_weeks` such days)."""
        same = same_weekday(history, day, self.weeks, first)
        return sum(same) / len(same) if len(same) >= self.min_weeks else None

    def start(self, view: HospitalView) -> None:
        """A new run: no transfers counted yet (`simulator.StartsRun`)."""
        self.held = {unit.name: [] for unit in view.units if unit.kind in LOSS_KINDS}

    def _count_held(self, view: HospitalView) -> None:
        """This morning's patients in each loss unit waiting for a bed further on."""
        kinds = {unit.name: unit.kind for unit in view.units}
        for name, counts in self.held.items():
            stage = STAGE[kinds[name]]
            counts.append(sum(STAGE[kinds[p.needs]] > stage for p in view.occupants(name)))

    def plan(self, day: int, view: HospitalView) -> Plan | None:
        self._count_held(view)
        scenario = view.scenario
        refusal = self.icu_refusal_rate or scenario.service_levels.icu_refusal_rate
        long_wait = self.long_wait_share or scenario.service_levels.long_wait_share
        first, window = scenario.warmup, slice(max(scenario.warmup, day - 7 * self.weeks), day)
        staffed = {}
        for unit in view.units:
            demand = view.demand_history(unit.name)
            if unit.kind in LOSS_KINDS:  # held[d + 1] was counted as day d ended
                demand = [d + h for d, h in zip(demand, self.held[unit.name][1:], strict=True)]
            today = self._weekday_mean(demand, day, first)
            if today is None:
                continue
            tomorrow = self._weekday_mean(demand, day + 1, first)
            arrivals = self._weekday_mean(view.arrival_history(unit.name), day, first) or 0.0
            load = max(today, tomorrow or 0.0) + self.peak * arrivals
            cap = view.capacity(unit.name)
            if unit.kind in LOSS_KINDS:
                staffed[unit.name] = loss_beds(load, refusal, cap)
            else:
                arrived = sum(view.arrival_history(unit.name)[window])
                stay_hours = sum(demand[window]) / arrived * HOURS_PER_DAY if arrived else math.inf
                wait_hours = scenario.boarding.target_hours
                staffed[unit.name] = delay_beds(load, long_wait, wait_hours, stay_hours, cap)
        return Plan(staffed=staffed) if staffed else None
