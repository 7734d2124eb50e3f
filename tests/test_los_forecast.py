"""The LOS forecast a policy plans with (`los_forecast`): the truth when perfect, learnt
stays when historical, the scenario's prediction by default."""

from __future__ import annotations

import numpy as np
import pytest

import scenarios
from policies import make_policy
from simulator import simulate

SHORT = ["horizon_days=60", "warmup_days=28"]


class Spy:
    """Wraps a policy's LOS forecast to record (patient, days) pairs it gave."""

    def __init__(self, policy) -> None:
        self.policy, self.seen = policy, []
        start = policy.start

        def started(view):
            start(view)
            days = policy.stay.days

            def recorded(patient):
                value = days(patient)
                self.seen.append((patient, value))
                return value

            policy.stay.days = recorded

        policy.start = started


def test_perfect_plans_with_the_true_stays():
    scenario = scenarios.load("baseline", SHORT)
    spy = Spy(make_policy("greedy", {"los_forecast": "perfect"}))
    simulate(scenario, spy.policy, 4)
    truth = spy.policy.stay.truth
    assert len(spy.seen) > 1000
    assert all(days == truth[p.pid] for p, days in spy.seen)
    assert any(days != p.predicted_los for p, days in spy.seen)


def test_historical_learns_the_mean_stay_of_those_who_left():
    """Parametric LOS: pooled over wards, the stays learnt for a severity average the
    scenario's mean for it. Each group keeps its last 200 stays (lognormal, cv 1.1: a
    group's mean has a standard error of ~8%, a pool of 600+ ~4.5%); discharge hours and
    the half-day timing of a departure seen the next morning add a few percent: 12%."""
    scenario = scenarios.load("baseline", SHORT)
    policy = make_policy("greedy", {"los_forecast": "historical"})
    simulate(scenario, policy, 4)
    pooled: dict[int, list[float]] = {}
    for (_, severity, icu), stays in policy.stay.stays.items():
        if not icu:
            pooled.setdefault(severity, []).extend(stays)
    severities = ("minor", "moderate", "major", "extreme")  # severity 1 is minor
    checked = 0
    for severity, stays in pooled.items():
        if len(stays) >= 600:
            expected = scenario.los.mean_days[severities[severity - 1]]
            assert np.mean(stays) == pytest.approx(expected, rel=0.12), (severity, len(stays))
            checked += 1
    assert checked >= 3


def test_unknown_los_forecast_lists_the_valid_ones():
    with pytest.raises(ValueError, match="historical, predicted, perfect"):
        make_policy("milp", {"los_forecast": "crystal_ball"})


@pytest.mark.slow
def test_knowing_the_stays_costs_no_more_under_crn():
    """Paired over three seeds: perfect LOS against the scenario's prediction."""
    scenario = scenarios.load("baseline", SHORT)
    diffs = []
    for r in range(3):
        seed = np.random.SeedSequence(5, spawn_key=(r,))
        cost = {kind: simulate(scenario, make_policy("greedy", {"los_forecast": kind}),
                               seed).kpis["cost_total"] for kind in ("predicted", "perfect")}
        diffs.append(cost["perfect"] - cost["predicted"])
    assert np.mean(diffs) <= 0.01 * abs(np.mean(list(cost.values()))), diffs
