"""How long a forecast-using policy expects each patient to stay: the LOS forecast it plans
with (`los_forecast`), beside the arrival forecast (`forecast`).

- `predicted`: what the scenario's LOS model predicts at admission (`Patient.predicted_los`;
  a trained model's point prediction, or a parametric model's mean by severity).
- `historical`: the mean stay of the last patients of the same home ward, severity and ICU
  need who have left, as the policy saw them go (a planner's spreadsheet); the predicted
  stay until a group has `min_stays` of them.
- `perfect`: the true stay, revealed by the simulator: what LOS error costs, apart.
- `{source: noisy, sigma: ..., bias: ...}`: the true stay times a `Noise` factor drawn once
  per patient: a LOS forecast whose error is chosen, to trace what LOS error costs.

Every kind is scored after the run against the true stays (`kpis`: `los_forecast_mae`, the
stay each patient was first planned with against the stay they had), so any LOS forecast
can be placed on the noisy one's error-to-outcome curve.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping

import numpy as np
import pandas as pd

from policies.forecasts import NOISY, Noise
from simulator import HospitalView, Patient
from simulator.calendar import HOURS_PER_DAY

LOS_FORECASTS = ("historical", "predicted", "perfect", NOISY)
KNOWS_THE_TRUTH = ("perfect", NOISY)


def los_kind(spec: str | Mapping) -> tuple[str, Noise | None]:
    """(kind, noise) of a policy's `los_forecast` parameter; a misspelt one is a ValueError
    listing the valid ones."""
    if isinstance(spec, Mapping):
        return NOISY, Noise.parse(spec)
    if spec not in LOS_FORECASTS or spec == NOISY:
        raise ValueError(f"unknown los_forecast {spec!r}; available: "
                         f"{', '.join(LOS_FORECASTS[:-1])}, or {{source: {NOISY}, sigma: ...}}")
    return spec, None


class StayForecast:
    """The LOS forecast of one run (`spec`: one of `LOS_FORECASTS`, or a noisy one's
    mapping): `days(patient)`, and `observe(view)` each morning."""

    def __init__(self, spec: str | Mapping, memory: int = 200, min_stays: int = 10) -> None:
        self.kind, self.noise = los_kind(spec)
        self.memory, self.min_stays = memory, min_stays
        self.truth: np.ndarray | None = None  # planning: perfect and noisy; else scoring only
        self.factors: np.ndarray | None = None  # noisy: one error factor per patient
        self.seed: np.random.SeedSequence | None = None
        self.planned: dict[int, tuple[float, float]] = {}  # pid: (arrival h, first days)
        self.present: dict[int, Patient] = {}  # in a bed at the last look
        self.stays: dict[tuple, deque[float]] = {}

    def seed_noise(self, seed: np.random.SeedSequence) -> None:
        self.seed = seed

    def reveal(self, truth: pd.DataFrame) -> None:
        """The true stays: what perfect and noisy forecasts plan with, and what every kind
        is scored against after the run."""
        self.truth = truth["los_true"].to_numpy()
        if self.noise is not None:
            if self.seed is None:
                raise RuntimeError("the noisy LOS forecast needs its seed: the simulator "
                                   "hands it one")
            self.factors = self.noise.factors(self.seed, self.truth.shape)

    def days(self, patient: Patient) -> float:
        days = self._days(patient)
        self.planned.setdefault(patient.pid, (patient.arrival, days))  # scored after the run
        return days

    def _days(self, patient: Patient) -> float:
        if self.kind in KNOWS_THE_TRUTH:
            if self.truth is None:
                raise RuntimeError(f"the {self.kind} LOS forecast needs the truth: the "
                                   "simulator reveals it")
            factor = 1.0 if self.factors is None else self.factors[patient.pid]
            return float(self.truth[patient.pid] * factor)
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

    def kpis(self, since: float) -> dict[str, float]:
        """Mean absolute and mean error (days) of the stay each patient arriving from hour
        `since` was first planned with, against their true stay."""
        if self.truth is None:
            return {}
        rows = [(days, self.truth[pid]) for pid, (arrival, days) in self.planned.items()
                if arrival >= since]
        if not rows:
            return {}
        planned, true = np.array(rows).T
        return {"los_forecast_mae": float(np.abs(planned - true).mean()),
                "los_forecast_bias": float((planned - true).mean())}


def _group(patient: Patient) -> tuple:
    return patient.home, patient.severity, patient.needs_icu
