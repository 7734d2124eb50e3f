"""How long a forecast-using policy expects each patient to stay: the LOS forecast it plans
with (`los_forecast`), beside the arrival forecast (`forecast`).

- `predicted`: what the scenario's LOS model predicts at admission (`Patient.predicted_los`;
  a trained model's point prediction, or a parametric model's mean by severity).
- `historical`: the mean stay of the last patients of the same home ward, severity and ICU
  need who have left, as the policy saw them go (a planner's spreadsheet); the predicted
  stay until a group has `min_stays` of them.
- `perfect`: the true stay, revealed by the simulator: what LOS error costs, apart.
"""

from __future__ import annotations

from collections import deque

import numpy as np
import pandas as pd

from simulator import HospitalView, Patient
from simulator.calendar import HOURS_PER_DAY

LOS_FORECASTS = ("historical", "predicted", "perfect")


class StayForecast:
    """The LOS forecast of one run (`kind`, one of `LOS_FORECASTS`): `days(patient)`, and
    `observe(view)` each morning."""

    def __init__(self, kind: str, memory: int = 200, min_stays: int = 10) -> None:
        self.kind, self.memory, self.min_stays = kind, memory, min_stays
        self.truth: np.ndarray | None = None
        self.present: dict[int, Patient] = {}  # in a bed at the last look
        self.stays: dict[tuple, deque[float]] = {}

    def reveal(self, truth: pd.DataFrame) -> None:
        if self.kind == "perfect":
            self.truth = truth["los_true"].to_numpy()

    def days(self, patient: Patient) -> float:
        if self.kind == "perfect":
            if self.truth is None:
                raise RuntimeError("the perfect LOS forecast needs the truth: the simulator "
                                   "reveals it")
            return float(self.truth[patient.pid])
        if self.kind == "historical":
            past = self.stays.get(_group(patient))
            if past is not None and len(past) >= self.min_stays:
                return float(np.mean(past))
        return patient.predicted_los

    def observe(self, view: HospitalView) -> None:
        """Each morning (historical only): who was in a bed yesterday and is gone has left;
        their stay ran from admission to, on average, the middle of yesterday."""
        if self.kind != "historical":
            return
        now = {p.pid: p for u in view.units for p in view.occupants(u.name)}
        for pid, patient in self.present.items():
            if pid not in now:
                days = (view.now - HOURS_PER_DAY / 2 - patient.admitted) / HOURS_PER_DAY
                group = self.stays.setdefault(_group(patient), deque(maxlen=self.memory))
                group.append(max(days, 0.0))
        self.present = now


def _group(patient: Patient) -> tuple:
    return patient.home, patient.severity, patient.needs_icu
