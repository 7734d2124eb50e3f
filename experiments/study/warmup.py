"""Warm-up length by MSER-5, for scenarios that say `warmup_days: auto`.

MSER-5 (White 1997; recommended by Hoad, Robinson & Davies 2010) batches the output
series in fives and deletes the leading batches that minimise the squared standard error
of the remaining mean: the point where keeping the initial transient costs more bias than
dropping it costs variance. It is applied to the hospital's daily total census averaged
over pilot replications started empty, which are seeded apart from the real replications.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from experiments.trained.los import los_model_for
from experiments.trained.wiring import build_policy
from scenarios.schema import Scenario
from simulator import simulate

BATCH = 5
PILOT_KEY = 1_000_000  # pilot r runs from SeedSequence(seed, spawn_key=(PILOT_KEY + r,))


def mser(series: np.ndarray, batch: int = BATCH) -> int:
    """Observations to delete from the start of `series` (a multiple of `batch`).

    Truncation points are searched over the first half only, as the method prescribes:
    a minimum later than that means the run is too short to trust, and it is not taken.
    """
    values = np.asarray(series, dtype=float)
    n = values.size // batch
    if n < 2:
        return 0
    means = values[: n * batch].reshape(n, batch).mean(axis=1)
    scores = []
    for d in range(n // 2 + 1):
        tail = means[d:]
        scores.append(((tail - tail.mean()) ** 2).sum() / tail.size**2)
    return int(np.argmin(scores)) * batch


@dataclass(frozen=True)
class WarmupChoice:
    days: int
    pilots: int
    census: list[float]  # the averaged daily total census the choice was made on


def choose_warmup(scenario: Scenario, pilots: int = 3) -> WarmupChoice:
    """Run `pilots` replications of the first policy from empty, no warm-up, and apply
    MSER-5 to their mean daily total census."""
    pilot = scenario.model_copy(update={"warmup_days": 0})
    spec = scenario.policies[0]
    totals = []
    for r in range(pilots):
        seed = np.random.SeedSequence(scenario.seed, spawn_key=(PILOT_KEY + r,))
        policy = build_policy(spec)
        daily = simulate(pilot, policy, seed, los_model=los_model_for(scenario)).daily
        beds = daily[daily["unit"] != "ventilators"]
        totals.append(beds.groupby("day")["census_mean"].sum().to_numpy())
    census = np.mean(totals, axis=0)
    return WarmupChoice(mser(census), pilots, census.round(3).tolist())


def resolve_warmup(scenario: Scenario) -> tuple[Scenario, WarmupChoice | None]:
    """The scenario with a number of warm-up days, and the MSER-5 choice if one was made."""
    if scenario.warmup_days != "auto":
        return scenario, None
    choice = choose_warmup(scenario)
    return scenario.model_copy(update={"warmup_days": choice.days}), choice
