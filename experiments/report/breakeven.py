"""The breakeven view: expected cost against staffed beds per unit, from the demand the run
stored, without re-simulating.

First order: each unit's daily demand (its patients in bed, boarding, off-service elsewhere
or ready to move in, the census table's `demand_mean`) under the reference policy is held
fixed whatever the staffing, and units do not affect each other. With `c` staffed beds a day
costs

    c x bed + E[(D - c)+] x shortage

where `bed` is the unit's own staffed bed-day (`Costs.bed_day_cost`: its kind and nurse
ratio) and `shortage` the price of a patient-day above its beds (`Costs.excess_day_cost`,
as the MILP prices it): it still needs a staffed bed where it overflows (the unit's first
`overflow_to`) and carries the off-service penalty on top, or, in the ICU, an ICU refusal.
(The penalty alone, less than a bed-day in the built-in cost table, would make no bed ever
pay for itself.) This is the newsvendor: the cost is lowest at the smallest `c` with
P(D <= c) >= 1 - bed / shortage, the capacity where one more bed stops paying for itself.
Costs rank only once service levels are met: each unit's recommendation is the larger of
the breakeven and the fewest beds that cover the day's peak bed need on the service
level's share of days (`policies.base.service_quantiles`), no more than its physical
beds (where the service level needs more, the unit relies on its overflow units).
`hospsim stress` re-simulates each capacity, knock-on effects included.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from policies.base import service_quantiles
from scenarios.schema import Costs, Scenario, Unit

DAYS_PER_YEAR = 365


def shortage_cost(costs: Costs, unit: Unit, units: list[Unit]) -> float:
    """Cost of a patient-day of demand above `unit`'s staffed beds (`Costs.excess_day_cost`)."""
    return costs.excess_day_cost(unit, units)


def critical_fractile(bed: float, shortage: float) -> float:
    """The share of days the breakeven covers: 1 - bed / shortage (0 if a bed costs more
    than the shortage it saves)."""
    return max(0.0, 1.0 - bed / shortage) if shortage > 0 else 0.0


def expected_excess(demand: np.ndarray, beds: np.ndarray) -> np.ndarray:
    """E[(D - c)+] for each level c over the demand sample, from sorted suffix sums (no
    levels x days matrix: a long study has hundreds of thousands of unit-days)."""
    ordered = np.sort(demand)
    above = np.concatenate([np.cumsum(ordered[::-1])[::-1], [0.0]])  # sum of ordered[k:]
    k = np.searchsorted(ordered, beds, side="right")
    return (above[k] - beds * (ordered.size - k)) / ordered.size


def expected_cost(demand: np.ndarray, beds: np.ndarray, bed: float,
                  shortage: float) -> np.ndarray:
    """Expected daily cost at each staffed-bed level, over the empirical demand sample, with
    a staffed bed-day at `bed` and a patient-day above the beds at `shortage`."""
    return beds * bed + expected_excess(demand, beds) * shortage


def cost_curve(demand: np.ndarray, bed: float, shortage: float, top: int) -> pd.DataFrame:
    """Annual expected cost for 0..max(top, max demand + 1) staffed beds."""
    beds = np.arange(max(top, math.ceil(demand.max()) + 1) + 1)
    annual = DAYS_PER_YEAR * expected_cost(demand, beds.astype(float), bed, shortage)
    return pd.DataFrame({"beds": beds, "annual_cost": annual})


def breakeven(curve: pd.DataFrame) -> int:
    """The fewest beds at the lowest cost: from there on, one more bed saves less than the
    bed-day it costs (the cost is convex in beds, so the first minimum is the breakeven)."""
    return int(curve["beds"].iloc[int(np.argmin(curve["annual_cost"].to_numpy()))])


def service_beds(peaks: np.ndarray, share: float) -> int:
    """The fewest beds that cover the day's peak bed need on `share` of the days."""
    return math.ceil(float(np.quantile(peaks, share, method="inverted_cdf")) - 1e-9)


def unit_breakevens(census: pd.DataFrame, scenario: Scenario,
                    reference: str) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Per unit under `reference`: a table (unit, staffed, mean staffed, breakeven, their
    annual costs, P(demand > staffed), the unit's bed-day and shortage prices and critical
    fractile; the beds its service level needs and the recommendation, the larger of the
    two: service levels bind, costs rank) and each unit's cost curve."""
    measured = census[(census["policy"] == reference) & ~census["warmup"]]
    shares = dict(zip([u.name for u in scenario.units], service_quantiles(scenario),
                      strict=True))
    rows, curves = [], {}
    for unit in scenario.units:
        data = measured[measured["unit"] == unit.name]
        if data.empty:
            continue
        demand = data["demand_mean"].to_numpy(dtype=float)
        peaks = data["need_peak"].to_numpy(dtype=float) if "need_peak" in data else demand
        staffed = unit.default_staffed
        bed = scenario.costs.bed_day_cost(unit)
        shortage = shortage_cost(scenario.costs, unit, scenario.units)
        curve = cost_curve(demand, bed, shortage, unit.beds)
        best = breakeven(curve)
        service = service_beds(peaks, shares[unit.name])
        recommended = min(max(best, service), unit.beds)
        cost = curve.set_index("beds")["annual_cost"]
        rows.append({
            "unit": unit.name, "staffed": staffed,
            "staffed_mean": data["staffed_mean"].mean(), "demand_mean": demand.mean(),
            "breakeven": best, "cost_staffed": cost[staffed], "cost_breakeven": cost[best],
            "p_over_staffed": float((demand > staffed).mean()),
            "bed_day": bed, "shortage": shortage, "fractile": critical_fractile(bed, shortage),
            "service_beds": service, "recommended": recommended,
            "cost_recommended": cost[recommended],
        })
        curves[unit.name] = curve
    return pd.DataFrame(rows), curves
