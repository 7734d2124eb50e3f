"""What the forecast-using policies expect to happen: arrivals per unit and day from a
pluggable source, and the census those arrivals and today's occupants add up to.

Sources are objects handed to a policy, never imported from `forecasting/` (policies may
depend on the simulator and scenarios only). A policy makes the built-ins (`SOURCES`) from
their names, and the `noisy` source from a mapping (`{source: noisy, sigma: 0.2, bias: 0}`);
any other source, such as the trained ones experiments builds (`experiments.trained.wiring`),
is passed in as an object.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Protocol

import numpy as np
import pandas as pd

from scenarios.schema import SEVERITIES, Scenario
from simulator import HospitalView, Patient
from simulator.calendar import HOURS_PER_DAY
from simulator.demand import home_shares, merged_mix, rate_components
from simulator.pathway import first_unit, phase_plan


class ArrivalForecast(Protocol):
    """Expected arrivals per unit (by the unit they first need) on each coming day."""

    def expected(self, view: HospitalView, horizon: int) -> dict[str, np.ndarray] | None:
        """`horizon` values per unit, today first; None while the source cannot tell yet."""
        ...


def same_weekday(history, day: int, weeks: int, first: int = 0) -> list:
    """The values of `history` (one per completed day) on `day`'s weekday, most recent
    first, at most `weeks` of them and none before day `first`; `day` may lie ahead."""
    latest = day - 7 * max(1, (day - len(history)) // 7 + 1)
    return [history[d] for d in range(latest, first - 1, -7)][:weeks]


class Historical:
    """Mean arrivals on the same weekday over the last `weeks` weeks (all days so far
    before a full week exists): the planner's rule of thumb, and the reference."""

    def __init__(self, weeks: int = 8, min_days: int = 7) -> None:
        self.weeks, self.min_days = weeks, min_days

    def expected(self, view: HospitalView, horizon: int) -> dict[str, np.ndarray] | None:
        out = {}
        for unit in view.units:
            history = np.asarray(view.arrival_history(unit.name), dtype=float)
            n = history.size
            if n < self.min_days:
                return None
            values = np.empty(horizon)
            for k in range(horizon):
                same = same_weekday(history, n + k, self.weeks)
                values[k] = np.mean(same) if same else history.mean()
            out[unit.name] = values
        return out


class Perfect:
    """The arrivals that will really come (counted from the revealed truth): the forecast
    with no error, to price what forecast error costs."""

    def __init__(self) -> None:
        self.counts: dict[str, np.ndarray] | None = None

    def reveal(self, truth: pd.DataFrame) -> None:
        arrivals = truth[truth["time"] >= 0]
        days = (arrivals["time"].to_numpy() // HOURS_PER_DAY).astype(int)
        size = int(days.max()) + 1 if days.size else 1
        needs = arrivals["needs"].to_numpy()
        self.counts = {
            unit: np.bincount(days[needs == unit], minlength=size).astype(float)
            for unit in np.unique(needs)
        }

    def expected(self, view: HospitalView, horizon: int) -> dict[str, np.ndarray] | None:
        if self.counts is None:
            raise RuntimeError("the perfect forecast needs the truth: the simulator reveals it")
        out = {}
        for unit in view.units:
            counts = self.counts.get(unit.name, np.zeros(0))
            window = counts[view.day : view.day + horizon]
            out[unit.name] = np.pad(window, (0, horizon - window.size))
        return out


class Rate:
    """The expected arrivals per unit and day of the scenario's own demand process (its
    rates, profiles, holidays and surges, split over units by its case mix): what a
    forecaster that knew the process exactly would say, with none of the day's Poisson luck
    (which `Perfect` knows). The best any forecast can do without clairvoyance."""

    def __init__(self) -> None:
        self._rates: tuple[Scenario, dict[str, np.ndarray]] | None = None

    def expected(self, view: HospitalView, horizon: int) -> dict[str, np.ndarray]:
        scenario = view.scenario
        if self._rates is None or self._rates[0] is not scenario:
            self._rates = (scenario, daily_rates(scenario))
        rates = self._rates[1]
        out = {}
        for unit in view.units:
            window = rates[unit.name][view.day : view.day + horizon]
            out[unit.name] = np.pad(window, (0, horizon - window.size))
        return out


def daily_rates(scenario: Scenario) -> dict[str, np.ndarray]:
    """Expected arrivals per first-need unit on each day of a run (warm-up included): each
    stream's and surge's hourly rates as `simulator.demand.draw_arrivals` draws them, times
    the share of its case mix whose first bed request is for the unit."""
    days = scenario.warmup + scenario.horizon_days
    out = {u.name: np.zeros(days) for u in scenario.units}
    for s in range(len(scenario.arrivals)):
        for k, hourly in rate_components(scenario, s, days):
            daily = hourly.reshape(days, HOURS_PER_DAY).sum(axis=1)
            for unit, share in first_unit_shares(scenario, s, k).items():
                out[unit] += share * daily
    return out


def first_unit_shares(scenario: Scenario, stream: int, surge: int) -> dict[str, float]:
    """Share of one stream's (and surge component's) patients whose first bed request is
    for each unit: their home ward (`simulator.demand.home_shares`), or the ICU for those
    whose severity calls for it."""
    mix = merged_mix(scenario, stream, surge)
    severity = np.array([mix.severity.get(s, 0.0) for s in SEVERITIES])
    icu = float(severity @ np.array([mix.icu_probability.get(s, 0.0) for s in SEVERITIES])
                / severity.sum())
    shares: dict[str, float] = {}
    for home, weight in enumerate(home_shares(scenario, mix)):
        for needs_icu, p in ((True, icu), (False, 1.0 - icu)):
            if weight > 0:
                name = scenario.units[first_unit(scenario, home, needs_icu)].name
                shares[name] = shares.get(name, 0.0) + weight * p
    return shares


NOISY = "noisy"
AROUND = {"truth": Perfect, "rate": Rate}
"""What a noisy forecast adds its error to: the arrivals that will come, or the expected
arrivals of the demand process."""


@dataclass(frozen=True)
class Noise:
    """Controlled forecast error: the truth times (1 + bias) times lognormal noise of log-sd
    `sigma` and mean one, so `bias` alone sets the mean error and `sigma` alone the spread.
    Written in a policy's parameters as `{source: noisy, sigma: 0.2, bias: 0.0}`; with
    `around: rate` the error is added to the demand process's expected arrivals (`Rate`)
    instead of the arrivals that will come (`truth`, the default)."""

    sigma: float
    bias: float = 0.0
    around: str = "truth"

    def __post_init__(self) -> None:
        if not (math.isfinite(self.sigma) and 0.0 <= self.sigma <= 3.0):
            raise ValueError(f"noisy forecast: need 0 <= sigma <= 3, got {self.sigma}")
        if not (math.isfinite(self.bias) and self.bias > -1.0):
            raise ValueError(f"noisy forecast: need bias > -1 (a share), got {self.bias}")
        if self.around not in AROUND:
            raise ValueError(f"noisy forecast: around must be {' or '.join(AROUND)}, got "
                             f"{self.around!r}")

    @classmethod
    def parse(cls, spec: Mapping) -> Noise:
        """From a policy parameter's mapping; a misspelt key or source is a ValueError."""
        fields = dict(spec)
        if fields.pop("source", None) != NOISY:
            raise ValueError(f"a forecast given as a mapping needs source: {NOISY} "
                             f"(with sigma and bias), got {dict(spec)}")
        unknown = sorted(set(fields) - {"sigma", "bias", "around"})
        if unknown or "sigma" not in fields:
            raise ValueError(f"noisy forecast: expected sigma (and bias, around), got "
                             f"{dict(spec)}")
        return cls(float(fields["sigma"]), float(fields.get("bias", 0.0)),
                   str(fields.get("around", "truth")))

    def factors(self, seed: np.random.SeedSequence, shape: tuple[int, ...]) -> np.ndarray:
        """One multiplicative error per element, from standard normals drawn from `seed`
        alone: the same draws at every sigma, so a sweep moves the error, not the luck."""
        z = np.random.default_rng(seed).standard_normal(shape)
        return (1.0 + self.bias) * np.exp(self.sigma * z - self.sigma**2 / 2)

    def __str__(self) -> str:
        return (f"{NOISY} σ={self.sigma:g}" + (f" bias={self.bias:+g}" if self.bias else "")
                + (f" around {self.around}" if self.around != "truth" else ""))


class Noisy:
    """The arrivals that will really come (or, `around: rate`, the expected ones), each
    unit's count for each day at each horizon times its own `Noise` factor (drawn once per
    run for every morning and horizon): a forecast whose error is chosen, to trace what
    forecast error costs."""

    def __init__(self, noise: Noise) -> None:
        self.noise = noise
        self.base: ArrivalForecast = AROUND[noise.around]()
        self.seed: np.random.SeedSequence | None = None
        self._factors: np.ndarray | None = None  # units x days x horizon

    def reveal(self, truth: pd.DataFrame) -> None:
        if isinstance(self.base, Perfect):
            self.base.reveal(truth)

    def seed_noise(self, seed: np.random.SeedSequence) -> None:
        self.seed, self._factors = seed, None

    def expected(self, view: HospitalView, horizon: int) -> dict[str, np.ndarray] | None:
        base = self.base.expected(view, horizon)
        if self.seed is None:
            raise RuntimeError("the noisy forecast needs its seed: the simulator hands it one")
        if self._factors is None or self._factors.shape[2] < horizon:
            days = view.scenario.warmup + view.scenario.horizon_days
            self._factors = self.noise.factors(self.seed, (len(view.units), days + 1, horizon))
        day = min(view.day, self._factors.shape[1] - 1)
        return {name: values * self._factors[i, day, :horizon]
                for i, (name, values) in enumerate(base.items())}


SOURCES: Mapping[str, Callable[[], ArrivalForecast]] = MappingProxyType({
    "historical": Historical, "perfect": Perfect, "rate": Rate,
})
"""The built-in sources, by the name a policy's `forecast` parameter gives (fixed)."""


def make_source(spec: str | Mapping) -> ArrivalForecast:
    """A new built-in source from its name, or the noisy source from its mapping; an unknown
    name is a ValueError listing the valid ones."""
    if isinstance(spec, Mapping):
        return Noisy(Noise.parse(spec))
    if spec not in SOURCES:
        raise ValueError(
            f"unknown forecast source {spec!r}; available: {', '.join(sorted(SOURCES))}, "
            f"or {{source: {NOISY}, sigma: ..., bias: ...}}"
        )
    return SOURCES[spec]()


def phases_in_days(
    scenario: Scenario, index: dict[str, int], home: str, icu: bool, los: float
) -> list[tuple[str, float, float]]:
    """(unit, start, end) in days from the first admission, stays split as the simulator
    splits them."""
    out, start = [], 0.0
    for unit, hours in phase_plan(scenario, index[home], icu, los):
        end = start + hours / HOURS_PER_DAY
        out.append((scenario.units[unit].name, start, end))
        start = end
    return out


def presence(
    phases: list[tuple[str, float, float]], offset: float, units: dict[str, int], horizon: int
) -> np.ndarray:
    """(units x horizon) 0/1: in which unit the patient is at midday of each coming day,
    `offset` days after the phases' time origin (midnight today = 0)."""
    out = np.zeros((len(units), horizon))
    for unit, start, end in phases:
        first = max(0, math.ceil(start + offset - 0.5))
        last = min(horizon, math.ceil(end + offset - 0.5))
        if last > first:
            out[units[unit], first:last] = 1.0
    return out


class CensusModel:
    """Projected census per unit and day: today's occupants by their predicted remaining
    stay, plus forecast arrivals times the stay pattern of recent arrivals to the same unit.

    The stay pattern (a kernel: share of an arrival present in each unit k days on) is
    learnt from the predicted LOS of patients the policy has placed, so ICU arrivals carry
    their step-down and ward days with them, as they will in the simulator.
    """

    def __init__(self, horizon: int, sample: int = 400, overdue_days: float = 1.0) -> None:
        self.horizon, self.sample, self.overdue_days = horizon, sample, overdue_days
        self.seen: dict[str, deque[np.ndarray]] = {}  # first unit: recent stay patterns
        self._kernel: tuple[int, np.ndarray] | None = None
        self._phases: dict[int, list[tuple[str, float, float]]] = {}

    def phases(self, view: HospitalView, patient: Patient, los: float,
               units: dict[str, int]) -> list[tuple[str, float, float]]:
        """The patient's phases for a stay of `los` days, split once per patient (each
        policy projects a patient with one LOS throughout)."""
        if patient.pid not in self._phases:
            self._phases[patient.pid] = phases_in_days(view.scenario, units, patient.home,
                                                       patient.needs_icu, los)
        return self._phases[patient.pid]

    def observe(self, patient: Patient, view: HospitalView, los: float) -> None:
        """A first bed request: remember the patient's stay pattern (where an arrival at
        midday is on each following day, for a stay of `los` days)."""
        if patient.admitted is None:
            units = unit_index(view)
            phases = phases_in_days(view.scenario, units, patient.home, patient.needs_icu, los)
            queue = self.seen.setdefault(patient.needs, deque(maxlen=self.sample))
            queue.append(presence(phases, 0.5, units, self.horizon))

    def kernel(self, view: HospitalView) -> np.ndarray:
        """(first unit, unit, days since arrival) expected presence per arrival, refreshed
        weekly (the stay mix drifts slowly)."""
        week = view.day // 7
        if self._kernel is None or self._kernel[0] != week:
            units = unit_index(view)
            k = np.zeros((len(units), len(units), self.horizon))
            for first, queue in self.seen.items():
                k[units[first]] = np.mean(queue, axis=0)
            self._kernel = (week, k)
        return self._kernel[1]

    def occupants(self, view: HospitalView, los: Callable[[Patient], float]
                  ) -> tuple[np.ndarray, np.ndarray]:
        """(units x horizon) of today's occupants and boarders still expected, each staying
        `los(patient)` days in all, and how many moves in or out of each unit those stays
        make by each day (each uncertain in its timing)."""
        units = unit_index(view)
        segments = []
        for unit in units:
            for patient in (*view.occupants(unit), *view.boarders(unit)):
                phases = self.phases(view, patient, los(patient), units)
                segments += occupant_phases(view, patient, phases, self.overdue_days)
        return census_of(segments, units, self.horizon), moves_of(segments, units, self.horizon)

    def arrivals(self, expected: dict[str, np.ndarray], view: HospitalView) -> np.ndarray:
        """(units x horizon) census of the forecast arrivals."""
        units, horizon = unit_index(view), self.horizon
        kernel = self.kernel(view)
        out = np.zeros((len(units), horizon))
        for name, counts in expected.items():
            for day in range(horizon):
                out[:, day:] += counts[day] * kernel[units[name], :, : horizon - day]
        return out


def occupant_phases(
    view: HospitalView, patient: Patient, phases: list[tuple[str, float, float]],
    overdue_days: float,
) -> list[tuple[str, float, float]]:
    """Where an occupant will lie from now on, given the phases of their stay, in days
    from midnight today: the current phase in the bed they hold (or, when waiting to move
    on, in the unit they need), later phases in their units. A patient past the predicted
    end of the phase is given `overdue_days` more from now."""
    since = patient.arrival if patient.admitted is None else patient.admitted
    elapsed = (view.now - since) / HOURS_PER_DAY
    current = next((i for i, p in enumerate(phases) if p[0] == patient.needs), len(phases) - 1)
    shift = max(0.0, elapsed + overdue_days - phases[current][2])
    moved = [(u, s + shift, e + shift) for u, s, e in phases[current:]]
    blocked = patient.unit in {p[0] for p in phases[:current]}  # waits to move on
    bed = moved[0][0] if blocked or patient.unit is None else patient.unit
    moved[0] = (bed, elapsed, moved[0][2])
    return [(u, s - elapsed, e - elapsed) for u, s, e in moved]


def census_of(segments: list[tuple[str, float, float]], units: dict[str, int],
              horizon: int) -> np.ndarray:
    """(units x horizon) how many of the (unit, start, end) stays, in days from midnight
    today, are in each unit at midday of each coming day (`presence`, summed at once)."""
    out = np.zeros((len(units), horizon + 1))
    if segments:
        rows, start, end = _columns(segments, units)
        first, last = _midday_index(start, horizon), _midday_index(end, horizon)
        keep = last > first
        np.add.at(out, (rows[keep], first[keep]), 1.0)
        np.add.at(out, (rows[keep], last[keep]), -1.0)
    return np.cumsum(out, axis=1)[:, :horizon]


def moves_of(segments: list[tuple[str, float, float]], units: dict[str, int],
             horizon: int) -> np.ndarray:
    """(units x horizon) how many of the (unit, start, end) stays enter a unit after now or
    leave it, by midday of each coming day (the midday rule of `census_of`)."""
    out = np.zeros((len(units), horizon + 1))
    if segments:
        rows, start, end = _columns(segments, units)
        for moment, keep in ((start, start > 0), (end, end > start)):
            np.add.at(out, (rows[keep], _midday_index(moment, horizon)[keep]), 1.0)
    return np.cumsum(out, axis=1)[:, :horizon]


def _columns(segments: list[tuple[str, float, float]],
             units: dict[str, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    unit, start, end = zip(*segments, strict=True)
    return np.array([units[u] for u in unit]), np.array(start), np.array(end)


def _midday_index(days: np.ndarray, horizon: int) -> np.ndarray:
    """The first coming day (0..horizon) whose midday is at or after each moment."""
    return np.clip(np.ceil(days - 0.5), 0, horizon).astype(int)


def unit_index(view: HospitalView) -> dict[str, int]:
    return {unit.name: i for i, unit in enumerate(view.units)}
