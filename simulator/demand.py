"""The exogenous patient stream: every arrival of a replication, drawn up front in batches.

Drawing arrivals, attributes and true LOS before the event loop starts, each from its own
random stream, is what makes common random numbers hold: every policy meets the same
patients with the same true stays, whatever it decides. It also keeps the LOS model to one
vectorised call per replication instead of one per patient.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from scenarios.schema import (
    ADMISSION_TYPES,
    AGE_GROUPS,
    SEVERITIES,
    CaseMix,
    Scenario,
    home_unit,
)
from simulator.calendar import HOURS_PER_DAY, hourly_rates, surge_extras
from simulator.protocols import LosModel

STREAM_KINDS = ("emergency", "elective", "transfer")
DEFAULT_ADMISSION_TYPE = {"emergency": "Emergency", "elective": "Elective", "transfer": "Urgent"}
# Risk of mortality tends to sit at the severity level, sometimes one either side.
ROM_SHIFTS, ROM_SHIFT_P = np.array([-1, 0, 1]), np.array([0.2, 0.6, 0.2])


@dataclass
class RandomStreams:
    """One numpy Generator per purpose, spawned from the replication's SeedSequence."""

    arrivals: np.random.Generator
    attributes: np.random.Generator
    los: np.random.Generator
    discharge: np.random.Generator
    initial: np.random.Generator

    @classmethod
    def spawn(cls, seed: int | np.random.SeedSequence) -> RandomStreams:
        return cls(*(np.random.default_rng(child_seed(seed, purpose)) for purpose in range(5)))


POLICY_NOISE = 5
"""The purpose key of the seed a policy's own noise is drawn from (after the five streams)."""


def child_seed(seed: int | np.random.SeedSequence, key: int) -> np.random.SeedSequence:
    """The seed for one purpose, derived by key rather than `seed.spawn`, which would advance
    the caller's sequence and hand the next user different streams."""
    if not isinstance(seed, np.random.SeedSequence):
        seed = np.random.SeedSequence(seed)
    return np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, key))


def merged_mix(scenario: Scenario, stream_index: int, surge_index: int) -> CaseMix:
    """The scenario's case mix, overridden by the stream's, then by the surge's."""
    fields = scenario.case_mix.model_dump()
    overrides = [scenario.arrivals[stream_index].case_mix]
    if surge_index >= 0:
        overrides.append(scenario.surges[surge_index].case_mix)
    for override in overrides:
        if override is not None:
            fields.update(override.model_dump(exclude_none=True))
    return CaseMix.model_validate(fields)


def _choose(rng: np.random.Generator, shares: list[float], n: int) -> np.ndarray:
    """Indices drawn with the given shares."""
    p = np.asarray(shares, dtype=float)
    return rng.choice(p.size, size=n, p=p / p.sum())


def draw_attributes(
    scenario: Scenario, stream_index: int, surge_index: int, n: int, rng: np.random.Generator
) -> pd.DataFrame:
    """SPARCS-like records for n patients of one stream (and surge component)."""
    mix = merged_mix(scenario, stream_index, surge_index)
    stream = scenario.arrivals[stream_index]
    admission = stream.admission_type or {DEFAULT_ADMISSION_TYPE[stream.kind]: 1.0}
    groups = list(mix.diagnosis_group.values())
    diagnosis = _choose(rng, [g.share for g in groups], n)
    severity = _choose(rng, [mix.severity.get(s, 0.0) for s in SEVERITIES], n)
    icu_p = np.array([mix.icu_probability.get(s, 0.0) for s in SEVERITIES])
    vent_p = np.array([mix.ventilation_probability.get(s, 0.0) for s in SEVERITIES])
    needs_icu = rng.random(n) < icu_p[severity]
    ventilated = needs_icu & (rng.random(n) < vent_p[severity])
    surgical = rng.random(n) < np.array([g.surgical for g in groups])[diagnosis]
    rom = np.clip(severity + 1 + rng.choice(ROM_SHIFTS, size=n, p=ROM_SHIFT_P), 1, 4)
    ages = _choose(rng, [mix.age_group.get(a, 0.0) for a in AGE_GROUPS], n)
    types = _choose(rng, [admission.get(t, 0.0) for t in ADMISSION_TYPES], n)
    return pd.DataFrame({
        "stream": np.full(n, stream_index, dtype=np.int16),
        "surge": np.full(n, surge_index, dtype=np.int16),
        "kind": pd.Categorical([stream.kind] * n, categories=STREAM_KINDS),
        "age_group": pd.Categorical.from_codes(ages, categories=AGE_GROUPS),
        "admission_type": pd.Categorical.from_codes(types, categories=ADMISSION_TYPES),
        "diagnosis_group": np.array(list(mix.diagnosis_group), dtype=object)[diagnosis],
        "specialty": np.array([g.specialty for g in groups], dtype=object)[diagnosis],
        "severity": (severity + 1).astype(np.int8),
        "risk_of_mortality": rom.astype(np.int8),
        "surgical": surgical,
        "needs_icu": needs_icu,
        "ventilated": ventilated,
    })


def rate_components(scenario: Scenario, stream_index: int,
                    days: int) -> list[tuple[int, np.ndarray]]:
    """(surge index, hourly rates) of one stream's arrival components: the stream's own
    (-1, its rate less what surges take away) and each surge's extra patients, who carry
    the surge's case mix."""
    stream = scenario.arrivals[stream_index]
    base = hourly_rates(scenario, stream, days)
    extras = surge_extras(scenario, stream, base)
    reduced = base + sum((np.minimum(e, 0.0) for e in extras), np.zeros_like(base))
    components = [(-1, np.maximum(reduced, 0.0))]
    return components + [(k, np.maximum(e, 0.0)) for k, e in enumerate(extras) if e.max() > 0]


def home_shares(scenario: Scenario, mix: CaseMix) -> np.ndarray:
    """Per unit, the share of patients of `mix` whose home ward it is (from the diagnosis
    group's specialty and the age group, drawn independently, as `draw_attributes` does)."""
    groups = list(mix.diagnosis_group.values())
    group_total = sum(g.share for g in groups)
    age_total = sum(mix.age_group.get(a, 0.0) for a in AGE_GROUPS)
    homes = np.zeros(len(scenario.units))
    for group in groups:
        for age in AGE_GROUPS:
            p = group.share / group_total * mix.age_group.get(age, 0.0) / age_total
            home = home_unit(scenario.units, group.specialty, age)
            if p > 0 and home is not None:
                homes[home] += p
    return homes


def draw_arrivals(scenario: Scenario, days: int, rng: np.random.Generator) -> pd.DataFrame:
    """Arrival times of every stream and surge component: exact piecewise-constant NHPP."""
    frames = []
    for s in range(len(scenario.arrivals)):
        for surge_index, rate in rate_components(scenario, s, days):
            counts = rng.poisson(rate)
            hours = np.repeat(np.arange(rate.size, dtype=float), counts)
            times = hours + rng.random(hours.size)
            frames.append(pd.DataFrame({"time": times, "stream": s, "surge": surge_index}))
    return pd.concat(frames, ignore_index=True)


def draw_patients(
    scenario: Scenario, days: int, los_model: LosModel, streams: RandomStreams
) -> pd.DataFrame:
    """All patients of one replication, sorted by arrival time, with predicted and true LOS."""
    arrivals = draw_arrivals(scenario, days, streams.arrivals)
    parts = []
    for (s, k), group in arrivals.groupby(["stream", "surge"], sort=True):
        attributes = draw_attributes(scenario, int(s), int(k), len(group), streams.attributes)
        attributes.insert(0, "time", group["time"].to_numpy())
        parts.append(attributes)
    patients = pd.concat(parts, ignore_index=True) if parts else empty_patients(scenario)
    patients = patients.sort_values("time", kind="stable", ignore_index=True)
    return add_stay(scenario, patients, los_model, streams.los, streams.discharge)


def add_stay(
    scenario: Scenario,
    patients: pd.DataFrame,
    los_model: LosModel,
    los_rng: np.random.Generator,
    discharge_rng: np.random.Generator,
) -> pd.DataFrame:
    """Predicted LOS (what policies see), true LOS (what happens) and the discharge hour."""
    n = len(patients)
    patients["los_predicted"] = np.asarray(los_model.predict(patients), dtype=float)
    patients["los_true"] = np.asarray(los_model.sample(patients, los_rng), dtype=float)
    profile = scenario.pathway.discharge_hour_profile
    if profile is None:
        patients["discharge_hour"] = np.nan
    else:
        p = np.asarray(profile, dtype=float)
        hour = discharge_rng.choice(HOURS_PER_DAY, size=n, p=p / p.sum())
        patients["discharge_hour"] = hour + discharge_rng.random(n)
    return patients


def empty_patients(scenario: Scenario) -> pd.DataFrame:
    empty = draw_attributes(scenario, 0, -1, 0, np.random.default_rng(0))
    empty.insert(0, "time", np.zeros(0))
    return empty
