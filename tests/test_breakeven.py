"""The breakeven view: expected cost against staffed beds is the newsvendor's."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import poisson

import scenarios
from experiments.report.breakeven import breakeven, cost_curve, critical_fractile, unit_breakevens


def test_a_hand_computed_case():
    # demand 8..12 on 10/20/40/20/10% of days; a bed-day 600, an overflow patient-day a
    # bed elsewhere plus 400: cost(c) = 600 c + 1000 E[(D - c)+]
    demand = np.repeat([8.0, 9, 10, 11, 12], [1, 2, 4, 2, 1])
    curve = cost_curve(demand, bed=600, shortage=1000, top=14)
    daily = curve.set_index("beds")["annual_cost"] / 365
    assert daily[9] == pytest.approx(5400 + 1000 * (0.4 * 1 + 0.2 * 2 + 0.1 * 3))  # 6500
    assert daily[10] == pytest.approx(6000 + 1000 * (0.2 * 1 + 0.1 * 2))  # 6400
    assert daily[11] == pytest.approx(6600 + 1000 * 0.1)  # 6700
    assert daily[0] == pytest.approx(1000 * demand.mean())
    assert breakeven(curve) == 10  # P(D <= 10) = 0.7 is the first to reach 1 - 600/1000


def test_poisson_demand_breaks_even_at_the_critical_fractile():
    demand = np.random.default_rng(7).poisson(20, 200_000).astype(float)
    assert critical_fractile(300, 1200) == 0.75
    curve = cost_curve(demand, bed=300, shortage=1200, top=40)
    assert breakeven(curve) == poisson.ppf(0.75, 20) == 23  # F(22) = 0.72, F(23) = 0.79


def test_units_use_the_reference_policy_after_the_warmup():
    scenario = scenarios.load("baseline")
    icu = next(u for u in scenario.units if u.name == "icu")
    rows = [("static", False, 10.0), ("static", True, 99.0), ("baseline", False, 50.0)]
    census = pd.DataFrame([{"policy": p, "warmup": w, "unit": "icu", "demand_mean": d,
                            "staffed_mean": 20.0} for p, w, d in rows])
    table, curves = unit_breakevens(census, scenario, "static")
    (row,) = table.itertuples()
    assert (row.unit, row.breakeven, row.staffed) == ("icu", 10, icu.staffed)
    bed = scenario.costs.bed_day_cost(icu)
    assert row.cost_staffed == pytest.approx(365 * icu.staffed * bed)
    # an ICU bed-day is priced with its 1:1 nursing; a patient-day it cannot take costs a
    # step-down bed (where it overflows) plus an ICU refusal
    stepdown = next(u for u in scenario.units if u.name == "stepdown")
    assert row.bed_day == bed > scenario.costs.bed_day_cost(scenario.units[0])
    assert row.shortage == scenario.costs.bed_day_cost(stepdown) + scenario.costs.icu_refusal
    assert curves["icu"]["beds"].max() >= icu.beds


def test_the_recommendation_meets_the_service_level_before_cost():
    """Wards whose shortage is cheap break even below their demand; the recommendation
    covers the day's peak bed need on the service level's share of days, within the
    unit's physical beds."""
    scenario = scenarios.load("baseline")
    peaks = np.arange(100.0, 140.0)  # 40 days, one of each
    census = pd.DataFrame({"policy": "static", "warmup": False, "unit": "medicine",
                           "demand_mean": peaks - 10, "need_peak": peaks, "staffed_mean": 130.0})
    (row,) = unit_breakevens(census, scenario, "static")[0].itertuples()
    # wards: cover the peak on 1 - long_wait_share = 95% of days: the 38th of 40 values
    assert row.service_beds == 137 and row.recommended == max(row.breakeven, 137)
    census["need_peak"] = peaks + 30  # more than the ward's 146 beds on most days
    (row,) = unit_breakevens(census, scenario, "static")[0].itertuples()
    assert row.service_beds == 167 and row.recommended == 146
