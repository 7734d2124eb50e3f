"""How the policy ranking depends on prices, without re-simulating.

Every cost KPI is linear in the cost table's prices (`Costs.components`), and a study's
`kpis` table keeps what each replication used: staffed beds per unit (`staffed_beds.<unit>`,
a daily mean, times the measured days), premium bed-days per unit, off-service
patient-hours, diversions, ICU refusals, cancellations and ventilator shortfall. So each
policy's mean total cost can be recomputed with one price at a time moved to the low or the
high end of its plausible range, and the cheapest policy compared with the one at the
prices as given. At the prices as given the recomputed cost is `cost_total`.

The simulated hospital is not re-run: a policy that staffs by cost (the MILP) would choose
differently at other prices, so this says how robust the ranking of the policies as run is
to the prices, not what each policy would cost had it planned with them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from scenarios.schema import UNIT_KINDS, Costs, Scenario

HOURS_PER_DAY = 24.0


@dataclass(frozen=True)
class Price:
    """One uncertain price of the cost table: its field (`bed_day.icu` for a kind), how
    the report names it, and the multipliers at the low and high end of its range."""

    name: str
    label: str
    low: float
    high: float
    why: str


#: the ranges the report tries; the comments of `scenarios/library/baseline.yaml` give the
#: sources the ranges come from
PRICES: tuple[Price, ...] = (
    *(Price(f"bed_day.{kind}", f"{kind} bed-day (beyond nursing)", 0.5, 1.5,
            "a hospital-wide average cost per day: an upper end for an open bed")
      for kind in UNIT_KINDS),
    Price("nurse_shift", "nurse shift", 0.75, 1.5, "wage and on-cost factor"),
    Price("premium_factor", "agency surcharge (premium_factor - 1)", 0.5, 3.0,
          "premium factor 1.25 to 2.5 at 1.5"),
    Price("overflow_patient_day", "off-service patient-day", 0.25, 4.0,
          "a policy weight: no extra stay to a full bed-day"),
    Price("diversion", "diversion", 0.5, 2.0, "lost revenue, 2002-03 dollars"),
    Price("icu_refusal", "ICU refusal", 0.25, 10.0,
          "a policy weight: the value of a death averted varies tenfold"),
    Price("elective_cancellation", "elective cancellation", 0.5, 2.0,
          "European prices, 2015-16"),
    Price("ventilator_shortfall_patient_day", "ventilator shortfall patient-day", 0.25, 10.0,
          "a policy weight, from the ICU refusal's"),
)
REQUIRED = ("staffed_bed_days", "offservice_patient_hours", "diversions", "icu_refusals",
            "elective_cancellations", "ventilator_shortfall_hours", "cost_total")


def value(costs: Costs, name: str) -> float | None:
    """The price `name` in the cost table (`premium_factor`: its surcharge, factor - 1)."""
    if name.startswith("bed_day."):
        return getattr(costs.bed_day, name.split(".", 1)[1])
    if name == "premium_factor":
        return costs.premium_factor - 1.0
    return getattr(costs, name)


def vary(costs: Costs, name: str, factor: float) -> Costs:
    """The cost table with the price `name` multiplied by `factor` (the premium factor's
    surcharge over regular nursing, for `premium_factor`)."""
    if name.startswith("bed_day."):
        kind = name.split(".", 1)[1]
        bed_day = costs.bed_day.model_copy(update={kind: getattr(costs.bed_day, kind) * factor})
        return costs.model_copy(update={"bed_day": bed_day})
    if name == "premium_factor":
        return costs.model_copy(update={"premium_factor": 1.0 + (costs.premium_factor - 1.0)
                                        * factor})
    return costs.model_copy(update={name: getattr(costs, name) * factor})


def has_quantities(kpis: pd.DataFrame, scenario: Scenario) -> bool:
    """Whether the table keeps what the costs need (results of older runs lack premium
    bed-days per unit)."""
    per_unit = [f"{prefix}.{u.name}" for u in scenario.units
                for prefix in ("staffed_beds", "premium_bed_days")]
    return all(c in kpis.columns for c in (*REQUIRED, *per_unit))


def recompute(kpis: pd.DataFrame, scenario: Scenario, costs: Costs) -> pd.Series:
    """Each row's total cost at the prices `costs` (the row's `cost_total` when `costs` is
    the scenario's own table)."""
    units = scenario.units
    per_day = kpis[[f"staffed_beds.{u.name}" for u in units]].to_numpy(dtype=float)
    total = per_day.sum(axis=1)
    # the measured days: total staffed bed-days over the daily staffed beds
    days = np.divide(kpis["staffed_bed_days"].to_numpy(dtype=float), total,
                     out=np.zeros_like(total), where=total > 0)
    bed_days = {u.name: per_day[:, i] * days for i, u in enumerate(units)}
    premium = {u.name: kpis[f"premium_bed_days.{u.name}"].to_numpy(dtype=float) for u in units}
    parts = costs.components(
        units, bed_days, premium,
        offservice_days=kpis["offservice_patient_hours"].to_numpy(dtype=float) / HOURS_PER_DAY,
        diversions=kpis["diversions"].to_numpy(dtype=float),
        icu_refusals=kpis["icu_refusals"].to_numpy(dtype=float),
        cancellations=kpis["elective_cancellations"].to_numpy(dtype=float),
        ventilator_shortfall_days=kpis["ventilator_shortfall_hours"].to_numpy(dtype=float)
        / HOURS_PER_DAY,
    )
    return pd.Series(sum(parts.values()), index=kpis.index, name="cost_total")


def mean_costs(kpis: pd.DataFrame, scenario: Scenario, costs: Costs,
               policies: list[str]) -> pd.Series:
    """Each policy's mean total cost over its replications at the prices `costs`."""
    rows = kpis[kpis["policy"].isin(policies)]
    cost = recompute(rows, scenario, costs)
    return cost.groupby(rows["policy"]).mean().reindex(policies)


def price_sensitivity(kpis: pd.DataFrame, scenario: Scenario,
                      policies: list[str] | None = None,
                      prices: tuple[Price, ...] = PRICES) -> pd.DataFrame:
    """One row per uncertain price: its value, the low and high multipliers, the cheapest
    of `policies` (default: all in the table) at the prices as given and with the price at
    each end, whether that changes the cheapest, and every policy's mean total cost at both
    ends (columns `low.<policy>`, `high.<policy>`). Prices the table does not use (a kind
    with no unit, `nurse_shift` unset, a zero price) are left out."""
    policies = policies or list(dict.fromkeys(kpis["policy"]))
    costs = scenario.costs
    base = mean_costs(kpis, scenario, costs, policies)
    cheapest = str(base.idxmin())
    kinds = {u.kind for u in scenario.units}
    rows = []
    for price in prices:
        given = value(costs, price.name)
        if not given or (price.name.startswith("bed_day.")
                         and price.name.split(".", 1)[1] not in kinds):
            continue
        row = {"price": price.name, "label": price.label, "value": given,
               "low": price.low, "high": price.high, "cheapest": cheapest, "why": price.why}
        for end, factor in (("low", price.low), ("high", price.high)):
            means = mean_costs(kpis, scenario, vary(costs, price.name, factor), policies)
            row[f"cheapest_{end}"] = str(means.idxmin())
            row.update({f"{end}.{p}": means[p] for p in policies})
        row["changes"] = cheapest != row["cheapest_low"] or cheapest != row["cheapest_high"]
        rows.append(row)
    return pd.DataFrame(rows)


def _money(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:,.2f}"


def report_section(kpis: pd.DataFrame, scenario: Scenario, policies: list[str]) -> dict | None:
    """The report's "How the ranking depends on prices" table (None for a single policy
    or results without the quantities it needs)."""
    if len(policies) < 2 or not has_quantities(kpis, scenario):
        return None
    table = price_sensitivity(kpis, scenario, policies)
    if table.empty:
        return None
    base = mean_costs(kpis, scenario, scenario.costs, policies)
    rows = []
    for r in table.to_dict("records"):
        factor = 1.0 if r["price"] == "premium_factor" else r["value"]
        shown = (f"{1 + r['value']:g} x nursing" if r["price"] == "premium_factor"
                 else _money(factor))
        rows.append({
            "label": r["label"], "given": shown, "why": r["why"],
            "low": f"x{r['low']:g}", "high": f"x{r['high']:g}",
            "cheapest_low": r["cheapest_low"], "cheapest_high": r["cheapest_high"],
            "changes": bool(r["changes"]),
        })
    flips = [r["label"] for r in rows if r["changes"]]
    return {"cheapest": str(base.idxmin()), "policies": policies, "rows": rows,
            "flips": flips, "costs": {p: _money(base[p]) for p in policies}}
