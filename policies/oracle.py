"""The oracle: the morning MILP fed the truth instead of forecasts, the bound that shows
how much of a policy's cost is forecast error rather than policy."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd

from policies.forecasts import phases_in_days, presence, unit_index
from policies.greedy import Outlook
from policies.milp import Milp
from simulator import HospitalView
from simulator.calendar import HOURS_PER_DAY


class OracleMilp(Milp):
    """The MILP with the true arrivals of every coming day and the true LOS of every
    patient (occupants and today's electives): the census it plans for is exact, save for
    waits for a bed, which shift stays later."""

    relative_cost: ClassVar[float] = 8.0  # see `Static.relative_cost`

    def __init__(self, horizon: int = 7, solver: str = "highs", time_limit: float = 2.0,
                 wall_limit: float = 10.0, excess_cost: float | None = None,
                 deferral_cost: float | None = None, threads: int = 1,
                 icu_excess_cost: float | None = None, breach_cost: float | None = None,
                 window: int = 28) -> None:
        super().__init__("historical", horizon, solver, time_limit, wall_limit, excess_cost,
                         deferral_cost, threads=threads, icu_excess_cost=icu_excess_cost,
                         breach_cost=breach_cost, window=window)

    def start(self, view: HospitalView) -> None:
        super().start(view)
        self.truth: pd.DataFrame | None = None
        self._daily: dict[bool, list[np.ndarray]] = {}

    def reveal(self, truth: pd.DataFrame) -> None:
        self.truth = truth

    def outlook(self, view: HospitalView) -> Outlook | None:
        if self.truth is None:
            raise RuntimeError("the oracle needs the truth: the simulator reveals it")
        units, horizon = unit_index(view), self.horizon
        if not self._daily:
            self._daily = self._arrival_loads(view, units)
        los = self.truth["los_true"].to_numpy()
        mean, _ = self.census.occupants(view, lambda patient: float(los[patient.pid]))
        for elective, daily in self._daily.items():
            for d in range(1 if elective else 0, horizon):  # today's electives: decisions
                if view.day + d < len(daily):
                    mean[:, d:] += daily[view.day + d][:, : horizon - d]
        electives = view.electives_today()
        load = np.zeros((len(electives), len(units), horizon))
        for i, patient in enumerate(electives):
            phases = self.census.phases(view, patient, float(los[patient.pid]), units)
            load[i] = presence(phases, (patient.arrival - view.now) / HOURS_PER_DAY, units,
                               horizon)
        return self.to_peak(view, Outlook(units, mean, np.zeros_like(mean), electives, load))

    def _arrival_loads(
        self, view: HospitalView, units: dict[str, int]
    ) -> dict[bool, list[np.ndarray]]:
        """Per arrival day, the exact census its arrivals add over the following `horizon`
        days, electives (as booked) apart from the rest."""
        rows = self.truth[self.truth["time"] >= 0]
        days = int(view.scenario.warmup + view.scenario.horizon_days)
        out = {e: [np.zeros((len(units), self.horizon)) for _ in range(days)] for e in (0, 1)}
        for t, kind, home, icu, los in zip(rows["time"], rows["kind"], rows["home"],
                                           rows["needs_icu"], rows["los_true"], strict=True):
            day, hour = divmod(float(t), HOURS_PER_DAY)
            if int(day) < days:
                phases = phases_in_days(view.scenario, units, home, bool(icu), float(los))
                out[kind == "elective"][int(day)] += presence(
                    phases, hour / HOURS_PER_DAY, units, self.horizon
                )
        return {bool(e): loads for e, loads in out.items()}
