"""How big a scenario may be, and why: each limit with its unit and reason.

Values beyond these are almost always typos (`beds: 1e6`) or hostile files (a YAML alias
bomb), and would fail deep inside a run (numpy's "lam value too large", gigabytes allocated)
or run for days. A user who means it raises a limit for one command with
$HOSPSIM_LIMITS, e.g. `HOSPSIM_LIMITS=beds=20000,horizon_days=7300 hospsim run ...`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache

VARIABLE = "HOSPSIM_LIMITS"


@dataclass(frozen=True)
class Limit:
    most: float
    unit: str
    reason: str


LIMITS: dict[str, Limit] = {
    # the hospital
    "beds": Limit(10_000, "beds in a unit", "the largest hospitals have about 5,000 in all"),
    "agency_beds": Limit(10_000, "agency beds in a unit", "as many as a unit's beds at most"),
    "ventilators": Limit(10_000, "ventilators", "a large hospital has a few hundred"),
    "daily_rate": Limit(10_000, "admissions a day in a stream",
                        "a large hospital admits a few hundred a day"),
    "units": Limit(500, "units", "a hospital has tens; every unit is staffed every day"),
    "arrivals": Limit(500, "arrival streams", "each stream is drawn for every day"),
    "surges": Limit(1_000, "surges", "each is checked against every day of the run"),
    "policies": Limit(50, "policies", "each runs every replication"),
    # the study
    "horizon_days": Limit(3_650, "days", "ten years; memory and run time grow with days"),
    "warmup_days": Limit(3_650, "days", "ten years; a warm-up beyond a year is rarely needed"),
    "replications": Limit(10_000, "replications", "confidence intervals settle in tens"),
    # the YAML itself
    "scenario_bytes": Limit(1_000_000, "bytes in a scenario file",
                            "the built-in scenarios are under 20 kB"),
    "nesting": Limit(30, "levels of nesting", "the schema is under 10 levels deep"),
    "yaml_values": Limit(200_000, "values once aliases are expanded",
                         "a few aliases can stand for billions: an alias bomb"),
    "extends_depth": Limit(20, "files in an extends chain", "each extends one other"),
}


def most(name: str) -> float:
    """The limit called `name`, as $HOSPSIM_LIMITS may have raised (or lowered) it."""
    return _overrides(os.environ.get(VARIABLE, "")).get(name, LIMITS[name].most)


def beyond(name: str, value: float) -> str | None:
    """Why `value` is too much for the limit `name` (and how to raise it), or None."""
    limit, top = LIMITS[name], most(name)
    if value <= top:
        return None
    shown = f"{value:.15g}"
    return (f"{shown} {limit.unit} is more than the limit of {top:.15g} ({limit.reason}); "
            f"if you mean it, raise it: {VARIABLE}={name}={shown}")


@cache
def _overrides(text: str) -> dict[str, float]:
    found = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, value = item.partition("=")
        if name.strip() not in LIMITS:
            raise ValueError(f"{VARIABLE}: no limit named {name.strip()!r}; "
                             f"limits: {', '.join(LIMITS)}")
        try:
            found[name.strip()] = float(value)
        except ValueError:
            raise ValueError(f"{VARIABLE}: {item!r} is not NAME=NUMBER") from None
    return found
