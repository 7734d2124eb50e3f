"""Every registered policy conforms to the simulator's protocol, and one policy object run
twice gives the numbers two fresh objects give: parameters live in `__init__`, what a run
learns is made afresh in `start`."""

from __future__ import annotations

import pytest

import scenarios
from policies import make_policy, policy_names
from simulator import HOLD, Plan, Policy, simulate
from simulator.protocols import ChoosesNext, StartsRun

SHORT = ["horizon_days=12", "warmup_days=16"]
TIMINGS = {"solve_ms_median"}  # wall-clock: differs between any two runs


def numbers(kpis: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in kpis.items() if k not in TIMINGS}


@pytest.mark.parametrize("name", policy_names())
def test_policy_conforms_to_the_protocol(name):
    """`check_policy`: plans are Plans (or None) naming known units with whole beds, and
    every placement is a unit the patient may use with a free bed, or HOLD."""
    scenario = scenarios.load("baseline", SHORT)
    policy = make_policy(name)
    assert isinstance(policy, Policy)
    units = {u.name for u in scenario.units}
    plan, place = policy.plan, policy.place

    def checked_plan(day, view):
        out = plan(day, view)
        assert out is None or isinstance(out, Plan)
        if out is not None:
            assert set(out.staffed) <= units
            assert all(isinstance(b, int) and 0 <= b <= view.capacity(u)
                       for u, b in out.staffed.items())
        return out

    def checked_place(patient, view):
        choice = place(patient, view)
        assert choice == HOLD or (choice in view.choices(patient) and view.free(choice) > 0)
        return choice

    policy.plan, policy.place = checked_plan, checked_place
    assert simulate(scenario, policy, 3).kpis["invalid_placements"] == 0
    if isinstance(policy, ChoosesNext):
        assert callable(policy.admit_next)


@pytest.mark.parametrize("name", policy_names())
def test_one_object_reused_gives_the_numbers_of_fresh_ones(name):
    scenario = scenarios.load("baseline", SHORT)
    reused = make_policy(name)
    again = [numbers(simulate(scenario, reused, seed).kpis) for seed in (1, 2)]
    fresh = [numbers(simulate(scenario, make_policy(name), seed).kpis) for seed in (1, 2)]
    assert again == fresh
    if not isinstance(reused, StartsRun):  # a policy without run state keeps none
        assert vars(reused) == vars(make_policy(name))
