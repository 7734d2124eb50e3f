"""The breakeven view: expected cost against staffed beds per unit, from the demand the run
stored, without re-simulating.

First order: each unit's daily demand (its patients in bed, boarding, off-service elsewhere
or ready to move in, the census table's `demand_mean`) under the reference policy is held
fixed whatever the staffing, and units do not affect each other. With `c` staffed beds a day
costs

    c x staffed_bed_day + E[(D - c)+] x (staffed_bed_day + overflow_patient_day)

because a patient-day above the unit's beds still needs a staffed bed elsewhere and carries
the overflow penalty on top. (The penalty alone, 400 against 600 a bed-day in the built-in
cost table, would make no bed ever pay for itself.) This is the newsvendor: the cost is
lowest at the smallest `c` with P(D <= c) >= overflow / (staffed_bed_day + overflow), the
capacity where one more bed stops paying for itself. `hospsim stress` re-simulates each
capacity, knock-on effects included.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from scenarios.schema import Costs, Scenario

DAYS_PER_YEAR = 365


def shortage_cost(costs: Costs) -> float:
    """Cost of a patient-day of demand above the unit's staffed beds."""
    return costs.staffed_bed_day + costs.overflow_patient_day


def expected_excess(demand: np.ndarray, beds: np.ndarray) -> np.ndarray:
    """E[(D - c)+] for each level c over the demand sample, from sorted suffix sums (no
    levels x days matrix: a long study has hundreds of thousands of unit-days)."""
    ordered = np.sort(demand)
    above = np.concatenate([np.cumsum(ordered[::-1])[::-1], [0.0]])  # sum of ordered[k:]
    k = np.searchsorted(ordered, beds, side="right")
    return (above[k] - beds * (ordered.size - k)) / ordered.size


def expected_cost(demand: np.ndarray, beds: np.ndarray, costs: Costs) -> np.ndarray:
    """Expected daily cost at each staffed-bed level, over the empirical demand sample."""
    return beds * costs.staffed_bed_day + expected_excess(demand, beds) * shortage_cost(costs)


def cost_curve(demand: np.ndarray, costs: Costs, top: int) -> pd.DataFrame:
    """Annual expected cost for 0..max(top, max demand + 1) staffed beds."""
    beds = np.arange(max(top, math.ceil(demand.max()) + 1) + 1)
    annual = DAYS_PER_YEAR * expected_cost(demand, beds.astype(float), costs)
    return pd.DataFrame({"beds": beds, "annual_cost": annual})


def breakeven(curve: pd.DataFrame) -> int:
    """The fewest beds at the lowest cost: from there on, one more bed saves less than the
    bed-day it costs (the cost is convex in beds, so the first minimum is the breakeven)."""
    return int(curve["beds"].iloc[int(np.argmin(curve["annual_cost"].to_numpy()))])


def unit_breakevens(census: pd.DataFrame, scenario: Scenario,
                    reference: str) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Per unit under `reference`: a table (unit, staffed, mean staffed, breakeven, their
    annual costs, P(demand > staffed)) and each unit's cost curve."""
    measured = census[(census["policy"] == reference) & ~census["warmup"]]
    rows, curves = [], {}
    for unit in scenario.units:
        data = measured[measured["unit"] == unit.name]
        if data.empty:
            continue
        demand = data["demand_mean"].to_numpy(dtype=float)
        staffed = unit.default_staffed
        curve = cost_curve(demand, scenario.costs, unit.beds)
        best = breakeven(curve)
        cost = curve.set_index("beds")["annual_cost"]
        rows.append({
            "unit": unit.name, "staffed": staffed,
            "staffed_mean": data["staffed_mean"].mean(), "demand_mean": demand.mean(),
            "breakeven": best, "cost_staffed": cost[staffed], "cost_breakeven": cost[best],
            "p_over_staffed": float((demand > staffed).mean()),
        })
        curves[unit.name] = curve
    return pd.DataFrame(rows), curves
