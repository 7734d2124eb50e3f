"""What the simulator asks of the pieces plugged into it: allocation policies and LOS models.

The simulator knows these protocols only; concrete policies live in `policies/` and trained
LOS models in `forecasting/`, and experiments wires them together by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from simulator.view import HospitalView

HOLD = "hold"
"""`place` answer: the patient boards (waits) for a bed."""
DIVERT = "divert"
"""`place` answer: the patient is sent to another hospital (emergency arrivals only)."""


@dataclass(slots=True, eq=False)
class Patient:
    """One admission as a policy sees it: SPARCS-like attributes and the predicted LOS.

    The true LOS is deliberately absent; only the simulator (and the oracle, through its
    own channel) knows it.
    """

    pid: int
    arrival: float
    kind: str
    age_group: str
    admission_type: str
    diagnosis_group: str
    specialty: str
    severity: int
    risk_of_mortality: int
    surgical: bool
    needs_icu: bool
    ventilated: bool
    predicted_los: float
    home: str
    """The ward (or step-down unit) the patient belongs to after any ICU phase."""
    needs: str = ""
    """The unit the current phase of care needs: the ICU, the step-down unit or `home`."""
    unit: str | None = None
    """Where the patient lies now (None while boarding)."""
    requested_at: float = 0.0
    """When the pending bed request was made (hours)."""
    admitted: float | None = None
    """When the patient first got a bed (hours); None before."""


@dataclass(frozen=True)
class Plan:
    """A policy's decisions for the coming day.

    `staffed`: staffed beds per unit (units left out keep their current staffing); the
    simulator caps them at physical beds and at what the nurses on duty can cover, and
    closes beds only as they empty. `defer`: ids of today's booked electives to push to
    tomorrow.
    """

    staffed: dict[str, int] = field(default_factory=dict)
    defer: frozenset[int] = frozenset()


@runtime_checkable
class Policy(Protocol):
    """Runs the hospital: staffing once a day, a placement on each bed request."""

    def plan(self, day: int, view: HospitalView) -> Plan | None: ...

    def place(self, patient: Patient, view: HospitalView) -> str:
        """A unit name with a free staffed bed, `HOLD` or `DIVERT`."""
        ...


@runtime_checkable
class StartsRun(Protocol):
    """A policy that learns during a run: `start` is called before each run's first event
    and makes its run state afresh, so one object may run many replications."""

    def start(self, view: HospitalView) -> None: ...


@runtime_checkable
class ChoosesNext(Protocol):
    """A policy that decides who gets a freed bed: offered the first in line of each queue
    the unit serves (its own, then units allowed to overflow into it; only when there are
    two or more), it returns one of them. Without it: the unit's own queue first, then the
    oldest request."""

    def admit_next(self, unit: str, candidates: list[Patient], view: HospitalView) -> Patient:
        ...


@runtime_checkable
class ReportsKpis(Protocol):
    """A policy that measured something of its own (its forecasts' error, its solves):
    called once after the run, the entries join the replication's KPIs."""

    def kpis(self, view: HospitalView) -> dict[str, float]: ...


@runtime_checkable
class ReportsSolves(Protocol):
    """A policy that solves an optimisation each morning: after the run, one row per
    morning (day, status, objective, gap, seconds, fallback reason), kept with the
    replication so a report can show how the solver fared."""

    def solve_log(self) -> pd.DataFrame: ...


@runtime_checkable
class Oracle(Protocol):
    """A policy that may see the future (the perfect-information bound): before the run the
    simulator hands it every patient as drawn, arrival times and true LOS included."""

    def reveal(self, truth: pd.DataFrame) -> None: ...


@runtime_checkable
class DrawsNoise(Protocol):
    """A policy that draws random numbers of its own (a forecast with controlled error):
    after `start` and before `reveal`, the simulator hands it a seed spawned from the
    replication's for that purpose alone, so every policy given the same seed draws the
    same noise (common random numbers) and the patients' streams never move."""

    def seed_noise(self, seed: np.random.SeedSequence) -> None: ...


@runtime_checkable
class LosModel(Protocol):
    """Length of stay in days from admission-time attributes (one row per patient)."""

    def predict(self, patients: pd.DataFrame) -> np.ndarray:
        """Point prediction, what a policy may use."""
        ...

    def sample(self, patients: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
        """One draw per patient from the predictive distribution: the simulated truth."""
        ...
