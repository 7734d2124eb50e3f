"""Queueing theory a capacity planner can check the simulator (and a bed plan) against.

Plain functions, no simulation:

* `erlang_b(c, a)`: the share of arrivals turned away by c beds offered a erlangs (M/G/c/c,
  which depends on the stay distribution only through its mean).
* `erlang_c(c, a)`: the share of arrivals that wait for a bed (M/M/c, FIFO).
* `mmc_mean_wait(c, lam, s)`: the mean wait for a bed in M/M/c, in the time units of lam and s.
* `mginf_occupancy(lam, s)` / `mginf_distribution(lam, s)`: beds occupied with unlimited beds
  (M/G/inf): Poisson with mean lam x s, whatever the stay distribution.
* `offered_load(scenario)`: the offered load (expected mean census with unlimited beds) of
  every unit of a scenario, through its case mix, ICU pathway and home units.

The offered load in erlangs (a = arrival rate x mean stay) is the mean number of busy beds
with unlimited beds; with c beds, Erlang B and C give blocking and waiting.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from scenarios.schema import SEVERITIES, Scenario
from simulator.calendar import HOURS_PER_DAY
from simulator.demand import home_shares, merged_mix
from simulator.los import ParametricLos
from simulator.pathway import phase_plan

__all__ = [
    "discharge_delay_hours",
    "erlang_b",
    "erlang_c",
    "mginf_distribution",
    "mginf_occupancy",
    "mmc_mean_wait",
    "offered_load",
]


def _check(servers: int, offered_load: float) -> None:
    if servers < 0 or int(servers) != servers:
        raise ValueError(f"servers must be a whole number >= 0 (got {servers!r})")
    if not offered_load >= 0:  # also rejects NaN
        raise ValueError(f"offered load must be >= 0 (got {offered_load!r})")


def erlang_b(servers: int, offered_load: float) -> float:
    """Blocking probability of an M/G/c/c loss system (Erlang B).

    `servers` beds offered `offered_load` erlangs (arrival rate x mean stay). Computed by the
    recursion B(0) = 1, B(k) = a B(k-1) / (k + a B(k-1)), which is stable for thousands of
    servers (no factorials or powers). Insensitive: the stay distribution does not matter.
    """
    _check(servers, offered_load)
    a, b = float(offered_load), 1.0
    for k in range(1, int(servers) + 1):
        b = a * b / (k + a * b)
    return b


def erlang_c(servers: int, offered_load: float) -> float:
    """Probability that an arrival has to wait in an M/M/c queue (Erlang C).

    C = c B / (c - a (1 - B)) with B = erlang_b(c, a); 1 when a >= c (no steady state: the
    queue grows without bound, and everyone eventually waits).
    """
    _check(servers, offered_load)
    c, a = int(servers), float(offered_load)
    if a >= c:
        return 1.0
    b = erlang_b(c, a)
    return c * b / (c - a * (1.0 - b))


def mmc_mean_wait(servers: int, arrival_rate: float, mean_service: float) -> float:
    """Mean wait in queue of an M/M/c FIFO queue, over all arrivals (those served at once
    count as 0): C(c, a) x mean_service / (c - a), with a = arrival_rate x mean_service.

    Same time unit as `mean_service` (and the reciprocal of `arrival_rate`'s); inf if a >= c.
    """
    if mean_service <= 0:
        raise ValueError(f"mean service must be > 0 (got {mean_service!r})")
    a = arrival_rate * mean_service
    _check(servers, a)
    if a >= servers:
        return math.inf
    return erlang_c(servers, a) * mean_service / (servers - a)


def mginf_occupancy(arrival_rate: float, mean_service: float) -> float:
    """Mean number busy in M/G/inf (unlimited beds): arrival_rate x mean_service.

    The stationary number in system is Poisson with this mean whatever the stay
    distribution (see `mginf_distribution`), so its variance is the same number.
    """
    if arrival_rate < 0 or mean_service < 0:
        raise ValueError("arrival rate and mean service must be >= 0")
    return float(arrival_rate * mean_service)


def mginf_distribution(arrival_rate: float, mean_service: float):
    """The stationary number in M/G/inf as a frozen `scipy.stats.poisson`.

    E.g. `mginf_distribution(20, 5).ppf(0.99)`: beds that suffice 99% of the time.
    """
    return stats.poisson(mginf_occupancy(arrival_rate, mean_service))


# ------------------------------------------------------------------ a scenario's offered load

_QUANTILES = 1024  # grid over the LOS distribution for the discharge-hour expectation
_MINUTES = HOURS_PER_DAY * 60  # grid over the time of day


def offered_load(scenario: Scenario, los: ParametricLos | None = None) -> dict[str, float]:
    """Expected mean census of every unit (by name) if no patient ever waited for a bed.

    M/G/inf per unit: sum over arrival streams of daily_rate x expected days a patient of
    that stream spends in the unit. A patient's days are split as the simulator splits them
    (`simulator.pathway.phase_plan`): with probability icu_probability[severity] an ICU phase
    (icu_share of the LOS), a step-down phase (stepdown_share, unless the step-down unit is
    the patient's home) and the rest in the home ward (`scenarios.schema.home_unit`, from the
    diagnosis group's specialty and the age group, so age-restricted units get their ages);
    otherwise the whole LOS in the home ward. Each stream's case-mix override is applied;
    severity, age and diagnosis group are drawn independently, as the simulator draws them.
    E[LOS | severity] is `los.mean(severity)` (default `ParametricLos(scenario.los)`, the
    cap included).

    With a `pathway.discharge_hour_profile`, the last phase ends at a discharge hour rather
    than after exactly its share of the LOS; the expected change (`discharge_delay_hours`,
    which uses the stream's `hour_profile` for arrival times) is added to the last unit.

    Ignored: seasonality (it averages out only over whole years), holidays, surges and
    their case-mix shifts; so this is the long-run mean for each stream's `daily_rate` as
    given. Weekday and hour profiles are normalised to average 1, so they do not change it.
    Electives count like any arrival (none is deferred or cancelled with unlimited beds).
    With finite beds this is the *offered* load: the census that blocking, boarding,
    off-service placements and delayed transfers then redistribute or turn away.
    """
    los = los or ParametricLos(scenario.los)
    units = scenario.units
    load = np.zeros(len(units))
    profile = scenario.pathway.discharge_hour_profile
    delays: dict[tuple, float] = {}  # the delay depends on severity, shares and hour profile
    for s, stream in enumerate(scenario.arrivals):
        if stream.daily_rate == 0:
            continue
        mix = merged_mix(scenario, s, -1)
        sev_total = sum(mix.severity.get(v, 0.0) for v in SEVERITIES)
        homes = home_shares(scenario, mix)
        for code, severity in enumerate(SEVERITIES, start=1):
            p_sev = mix.severity.get(severity, 0.0) / sev_total
            if p_sev == 0:
                continue
            mean_days = los.mean(code)
            p_icu = mix.icu_probability.get(severity, 0.0)
            for home in np.flatnonzero(homes):
                for needs_icu, p_path in ((False, 1.0 - p_icu), (True, p_icu)):
                    if p_path == 0:
                        continue
                    shares = _phase_shares(scenario, int(home), needs_icu)
                    weight = stream.daily_rate * homes[home] * p_sev * p_path
                    for unit, share in shares:
                        load[unit] += weight * share * mean_days
                    if profile is not None:
                        start = sum(share for _, share in shares[:-1])
                        key = (code, start, shares[-1][1], tuple(stream.hour_profile or ()))
                        if key not in delays:
                            delays[key] = discharge_delay_hours(
                                profile, los, code, start, shares[-1][1], stream.hour_profile
                            )
                        load[shares[-1][0]] += weight * delays[key] / HOURS_PER_DAY
    return {unit.name: float(value) for unit, value in zip(units, load, strict=True)}


def _phase_shares(scenario: Scenario, home: int, needs_icu: bool) -> list[tuple[int, float]]:
    """[(unit index, share of the LOS)] as the simulator plans the phases."""
    return [(u, hours / HOURS_PER_DAY) for u, hours in phase_plan(scenario, home, needs_icu, 1.0)]


def discharge_delay_hours(
    discharge_hour_profile: list[float],
    los: ParametricLos,
    severity: int,
    start_share: float = 0.0,
    last_share: float = 1.0,
    arrival_hour_profile: list[float] | None = None,
) -> float:
    """Expected hours the discharge-hour rule adds to a stay (may be negative).

    The simulator ends the last phase of care (start s, planned length d) at the discharge
    hour D drawn for the patient on the day s + d falls, or a day later if that is not after
    s. So the stay changes by D - ((s + d) mod 24) + 24 [same day and D <= s mod 24]. The
    expectation is taken over D (the profile, uniform within the hour), the arrival time of
    day (the stream's hour profile, uniform within the hour; flat if None) and the LOS of
    the severity (`los`), with s = arrival + start_share x LOS and d = last_share x LOS,
    i.e. assuming the patient never waits for a bed.
    """
    p_hour = np.asarray(discharge_hour_profile, dtype=float)
    p_hour = p_hour / p_hour.sum()
    cdf_knots = np.concatenate([[0.0], np.cumsum(p_hour)])
    mean_d = float(np.sum(p_hour * (np.arange(HOURS_PER_DAY) + 0.5)))
    arrival = (np.arange(_MINUTES) + 0.5) / 60.0
    weights = np.ones(HOURS_PER_DAY) if arrival_hour_profile is None else np.asarray(
        arrival_hour_profile, dtype=float
    )
    w_arrival = np.repeat(weights / weights.sum() / 60.0, 60)
    stay_hours = _los_quantiles(los, severity) * HOURS_PER_DAY
    start = np.mod(arrival[:, None] + start_share * stay_hours[None, :], HOURS_PER_DAY)
    length = last_share * stay_hours[None, :]
    end = np.mod(start + length, HOURS_PER_DAY)
    below = np.interp(start, np.arange(HOURS_PER_DAY + 1), cdf_knots)  # P(D <= start hour)
    wrap = HOURS_PER_DAY * below * (start + length < HOURS_PER_DAY)
    per_arrival = (mean_d - end + wrap).mean(axis=1)
    return float(np.sum(w_arrival * per_arrival))


def _los_quantiles(los: ParametricLos, severity: int) -> np.ndarray:
    """LOS (days) at the mid-quantiles of a fine grid: an equal-weight discretisation."""
    spec = los.spec
    mean = float(los.predict(pd.DataFrame({"severity": [severity]}))[0])  # uncapped mean
    q = (np.arange(_QUANTILES) + 0.5) / _QUANTILES
    if spec.model == "fixed":
        days = np.full(q.size, mean)
    elif spec.model == "exponential":
        days = stats.expon.ppf(q, scale=mean)
    elif spec.model == "gamma":
        shape = 1.0 / spec.cv**2
        days = stats.gamma.ppf(q, shape, scale=mean / shape)
    elif spec.model == "lognormal":
        sigma = math.sqrt(math.log1p(spec.cv**2))
        days = stats.lognorm.ppf(q, sigma, scale=mean * math.exp(-sigma**2 / 2))
    else:
        values = np.asarray(spec.values, dtype=float)
        days = np.quantile(values * (mean / values.mean()), q, method="inverted_cdf")
    return np.minimum(days, spec.max_days)
