"""Greedy: staff each unit to cover its projected peak demand on the service level's share
of days, defer electives the projection cannot fit, and place patients where projected
headroom is largest."""

from __future__ import annotations

import numpy as np

from policies.base import ForecastPolicy, Outlook
from policies.forecasts import ArrivalForecast
from simulator import HospitalView, Plan


class Greedy(ForecastPolicy):
    """Staff each unit for today to cover its projected peak on the service level's share
    of days (or `quantile`), never above what nurses and beds allow; defer the
    longest-staying electives whose unit cannot cover today's peak; best-fit placement."""

    def __init__(self, forecast: str | ArrivalForecast = "historical", horizon: int = 7,
                 quantile: float | None = None, window: int = 28,
                 los_forecast: str = "predicted") -> None:
        super().__init__(forecast, horizon, window, los_forecast)
        if quantile is not None and not 0.0 < quantile < 1.0:
            raise ValueError("need 0 < quantile < 1 (or none: the service levels')")
        self.quantile = quantile

    def quantiles(self, view: HospitalView) -> np.ndarray:
        if self.quantile is None:
            return super().quantiles(view)
        return np.full(len(view.units), self.quantile)

    def plan(self, day: int, view: HospitalView) -> Plan | None:
        outlook = self.outlook(view)
        if outlook is None:
            return None
        return self.commit(view, outlook, self.decide(outlook, view))

    def decide(self, outlook: Outlook, view: HospitalView) -> Plan:
        """The plan for one outlook (also the MILP's fallback and its comparison point)."""
        capacity = np.array([view.capacity(u) for u in outlook.units])
        order = np.argsort([-p.predicted_los for p in outlook.electives], kind="stable")
        admitted = np.ones(len(outlook.electives), dtype=bool)
        mean_all = outlook.mean + outlook.elective_load.sum(axis=0)
        # need(mean) <= capacity, solved for the mean once rather than tested each time
        ceiling = capacity[:, None] + 1e-9 - self.z[:, None] * np.sqrt(outlook.var)
        for i in order:  # the longest stays free the most bed-days when pushed a day
            load = outlook.elective_load[i]
            over = mean_all[:, 0] > ceiling[:, 0]  # today: later days may still be planned
            if not over.any():
                break
            if (load[:, 0] > 0)[over].any() and self.may_defer(outlook.electives[i], view):
                admitted[i] = False
                mean_all -= load
                mean_all[:, 1:] += load[:, :-1]
        need = self.need(mean_all, outlook.var)[:, 0]
        staffed = {u: int(min(need[i], capacity[i])) for u, i in outlook.units.items()}
        defer = frozenset(p.pid for p, a in zip(outlook.electives, admitted, strict=True) if not a)
        return Plan(staffed=staffed, defer=defer)
