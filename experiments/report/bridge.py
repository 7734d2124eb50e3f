"""The oracle gap decomposed (issue 11 item 4): the same MILP, on the same patients, fed
better and better information, from historical averages to the oracle.

The bridge's steps are MILP variants recognised by their `name` and `params` (never their
label): milp(historical arrivals, historical LOS), milp(ml, predicted), milp(perfect
arrivals, predicted LOS), milp(ml arrivals, perfect LOS), milp(perfect, perfect) and the
oracle. From whichever of them a scenario ran, it splits the change in each KPI into
parts that add up, replication by replication (so each part's 95% CI is paired under common
random numbers):

- `forecasts`: milp(ml, predicted) - milp(historical, historical), what today's trained
  forecasts are worth against historical averages;
- `arrivals`: milp(perfect, predicted) - milp(ml, predicted), what perfect arrival forecasts
  would add;
- `los`: milp(ml, perfect) - milp(ml, predicted), what perfect LOS forecasts would add;
- `interaction` (only with milp(perfect, perfect)): what knowing both adds beyond the sum
  of the two;
- `policy`: the oracle - milp(perfect, perfect), what the oracle's exact within-day timing
  adds to perfect daily forecasts; without milp(perfect, perfect), the rest of the gap from
  milp(ml, predicted) to the oracle (interaction included).

A scenario without milp(ml, predicted) gets the changes between consecutive steps instead.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from experiments.study.stats import confidence_interval
from scenarios.schema import PolicySpec, Scenario

KPIS = ("cost_total", "icu_refusals", "idle_bed_days")
"""What each part is measured in: money first, then two service measures."""


@dataclass(frozen=True)
class Step:
    key: str  # what the parts below call it
    title: str  # what the report calls it
    policy: str  # the policy's name
    forecast: str | None = None  # arrivals source; None for the oracle
    los_forecast: str | None = None


STEPS = (
    Step("hist", "milp, historical arrivals and LOS", "milp", "historical", "historical"),
    Step("ml", "milp, ml arrivals, predicted LOS", "milp", "ml", "predicted"),
    Step("arr", "milp, perfect arrivals, predicted LOS", "milp", "perfect", "predicted"),
    Step("los", "milp, ml arrivals, perfect LOS", "milp", "ml", "perfect"),
    Step("both", "milp, perfect arrivals and LOS", "milp", "perfect", "perfect"),
    Step("oracle", "oracle", "oracle"),
)
DEFAULTS = {"forecast": "historical", "los_forecast": "predicted"}  # a milp spec's defaults
SOURCES = ("forecast", "los_forecast")

PART_TITLES = {
    "forecasts": "ml forecasts instead of historical",
    "arrivals": "perfect arrivals",
    "los": "perfect LOS",
    "interaction": "both together, beyond the sum",
    "policy": "policy: the oracle's exact timing",
    "rest": "policy and the rest",
}


def bridge_steps(specs: list[PolicySpec], ran: set[str]) -> dict[str, str]:
    """Step key -> policy key for each bridge step the scenario ran. A MILP variant counts
    when its params other than the two sources are those of the first MILP variant found
    (so the steps differ in information only); the first spec matching a step wins."""
    found: dict[str, str] = {}
    rest: dict | None = None
    for spec in specs:
        if spec.key not in ran:
            continue
        params = dict(spec.params)
        for step in STEPS:
            if step.key in found or spec.name != step.policy:
                continue
            if step.policy == "oracle":
                found[step.key] = spec.key
                break
            sources = {k: str(params.get(k, DEFAULTS[k])) for k in SOURCES}
            if sources != {"forecast": step.forecast, "los_forecast": step.los_forecast}:
                continue
            others = {k: v for k, v in params.items() if k not in SOURCES}
            if rest is None:
                rest = others
            if others == rest:
                found[step.key] = spec.key
            break
    return {s.key: found[s.key] for s in STEPS if s.key in found}


def _parts(present: set[str]) -> list[tuple[str, dict[str, int]]]:
    """Each part as signed weights on step keys (per-replication linear combinations)."""
    if "ml" not in present:
        chain = [s.key for s in STEPS if s.key in present]
        return [(f"{a}->{b}", {b: 1, a: -1}) for a, b in itertools.pairwise(chain)]
    parts = []
    if "hist" in present:
        parts.append(("forecasts", {"ml": 1, "hist": -1}))
    if "arr" in present:
        parts.append(("arrivals", {"arr": 1, "ml": -1}))
    if "los" in present:
        parts.append(("los", {"los": 1, "ml": -1}))
    split = {"arr", "los", "both"} <= present
    if split:
        parts.append(("interaction", {"both": 1, "arr": -1, "los": -1, "ml": 1}))
    if "oracle" in present:
        if split:
            parts.append(("policy", {"oracle": 1, "both": -1}))
        else:
            rest = {"oracle": 1, "ml": -1}
            for key in ("arr", "los"):
                if key in present:  # take the parts already counted off the gap
                    rest[key] = rest.get(key, 0) - 1
                    rest["ml"] += 1
            parts.append(("rest", {k: w for k, w in rest.items() if w}))
    return parts


def _cell(values: np.ndarray) -> dict:
    mean, half, _ = confidence_interval(values)
    low, high = mean - half, mean + half
    return {"mean": mean, "ci_low": low, "ci_high": high,
            "significant": bool(np.isfinite(half) and (low > 0 or high < 0))}


def bridge(kpis: pd.DataFrame, scenario: Scenario) -> dict | None:
    """The bridge, or None when fewer than two of its steps ran. Returns `steps` (key,
    title, policy, mean of each KPI), `parts` (key, title, and per KPI the mean change with
    its paired 95% CI: `mean`, `ci_low`, `ci_high`, `significant`), `gap` (milp+ml to the
    oracle, per KPI, when both ran) and `largest` (the part of that gap with the largest
    mean cost, or None)."""
    if "idle_bed_days" not in kpis.columns and {"staffed_bed_days",
                                                 "occupied_bed_days"} <= set(kpis.columns):
        kpis = kpis.assign(idle_bed_days=kpis["staffed_bed_days"] - kpis["occupied_bed_days"])
    found = bridge_steps(list(scenario.policies), set(kpis["policy"]))
    if len(found) < 2:
        return None
    shown = [k for k in KPIS if k in kpis.columns]
    wide = {kpi: kpis[kpis["policy"].isin(found.values())]
            .pivot_table(index="replication", columns="policy", values=kpi, aggfunc="first")
            .dropna() for kpi in shown}  # replications every step ran: the pairs
    titles = {s.key: s.title for s in STEPS}
    steps = [{"key": key, "title": titles[key], "policy": policy,
              "means": {kpi: float(kpis.loc[kpis["policy"] == policy, kpi].mean())
                        for kpi in shown}} for key, policy in found.items()]

    def combine(weights: dict[str, int]) -> dict[str, dict]:
        return {kpi: _cell(sum(w * wide[kpi][found[k]] for k, w in weights.items())
                           .to_numpy(dtype=float)) for kpi in shown}

    parts = []
    for key, weights in _parts(set(found)):
        if "->" in key:
            a, b = key.split("->")
            title = f"{titles[a]} to {titles[b]}"
        else:
            title = PART_TITLES[key]
        parts.append({"key": key, "title": title, "kpis": combine(weights)})
    gap = combine({"oracle": 1, "ml": -1}) if {"ml", "oracle"} <= set(found) else None
    of_gap = [p for p in parts if p["key"] in ("arrivals", "los", "interaction", "policy",
                                               "rest")]
    largest = (max(of_gap, key=lambda p: abs(p["kpis"]["cost_total"]["mean"]))["key"]
               if gap is not None and of_gap and "cost_total" in shown else None)
    return {"steps": steps, "parts": parts, "gap": gap, "largest": largest,
            "n": len(wide[shown[0]]) if shown else 0}


def _money(cell: dict, number) -> str:
    return (f"{number(cell['mean'], signed=True)} (95% CI {number(cell['ci_low'])} to "
            f"{number(cell['ci_high'])}{'' if cell['significant'] else ', n.s.'})")


def bridge_sentence(result: dict | None, number) -> str | None:
    """For the summary: the gap from milp+ml to the oracle in money, which part carries it,
    each part with its CI; `number` formats a value (the report's `number`)."""
    if result is None or result["gap"] is None or "cost_total" not in result["gap"]:
        return None
    parts = [p for p in result["parts"] if p["key"] in ("arrivals", "los", "interaction",
                                                        "policy", "rest")]
    if not parts:
        return None
    listed = "; ".join(f"{p['title']} {_money(p['kpis']['cost_total'], number)}"
                       for p in parts)
    largest = next(p for p in parts if p["key"] == result["largest"])
    carrier = PART_TITLES[result["largest"]] + (
        "" if largest["kpis"]["cost_total"]["significant"] else " (not significant)")
    return (f"The oracle gap: milp+ml to the oracle changes total cost by "
            f"{_money(result['gap']['cost_total'], number)}; the largest part is {carrier}. "
            f"Parts: {listed}.")
