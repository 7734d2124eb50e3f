"""The forecast-error -> outcome curve (issue 11 item 3): what a policy's outcomes do as its
forecast error grows, on the same patients, and where the real forecast sources sit.

A curve is one policy run with the `noisy` source (lognormal error of chosen sigma,
`policies.forecasts.Noise`, around the arrivals that will come or, `around: rate`, around
the demand process's expected arrivals) at several sigmas, all else equal; the `perfect`
(or `rate`) forecast is the curve's zero-error point (noisy with sigma 0 gives identical
numbers, `tests/test_noisy_forecast.py`). Separately for arrivals (`forecast`; error as the
realised same-day MAE in patients a day, `forecast_mae`) and for stays (`los_forecast`;
realised MAE in days, `los_forecast_mae`). Every value is a paired change from the curve's
smallest-error point, replication by replication (common random numbers), so its 95% CI
carries no patient-to-patient noise. The same policy run with a named source (historical,
ml, predicted...) and otherwise the same parameters is placed on the figure at its own
realised error: on, above or below the curve, its errors cost what random errors of that
size would, more, or less.

The price of error is the slope of a straight line fitted to each replication's curve
(KPI against realised MAE), averaged with its 95% CI across replications, and scaled to a
year.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from experiments.study.stats import confidence_interval
from experiments.trained.wiring import (
    PERFECT_INFORMATION,
    PERFECT_SOURCE,
    RATE_SOURCE,
    noise_of,
    source_label,
)
from scenarios.schema import Scenario
from simulator import kpis as catalogue

KPIS = catalogue.names("error_curve")  # money, idle staffed beds, overflow, ICU refusals


@dataclass(frozen=True)
class Axis:
    param: str  # the policy parameter whose error varies
    default: str  # its value when a spec does not give it
    error: str  # the KPI measuring the realised error
    title: str  # what is forecast, as an adjective
    truth: str  # what the noisy source is fed
    unit: str  # of the error, for one
    units: str  # of the error, for several


AXES = (
    Axis("forecast", "historical", "forecast_mae", "arrivals", "the true arrivals",
         "patient a day", "patients a day"),
    Axis("los_forecast", "predicted", "los_forecast_mae", "length-of-stay", "the true stays",
         "day", "days"),
)


ZERO_ERROR = {PERFECT_SOURCE: "truth", RATE_SOURCE: "rate"}  # each curve's sigma-0 source


def _on_curve(value: object) -> tuple[str, float] | None:
    """(what the error is around, sigma) of a curve point: sigma 0 for the perfect or rate
    source, the noise's for an unbiased noisy one; None for anything else."""
    if isinstance(value, str) and value in ZERO_ERROR:
        return ZERO_ERROR[value], 0.0
    noise = noise_of(value)
    return (noise.around, noise.sigma) if noise is not None and noise.bias == 0 else None


def _placed(value: object) -> bool:
    """Shown as a point beside other curves: any source but an unbiased noisy one (which
    lies on a curve of its own)."""
    point = _on_curve(value)
    return point is None or point[1] == 0.0


def _paired(kpis: pd.DataFrame, key: str, reference: str, kpi: str) -> np.ndarray:
    wide = kpis.pivot(index="replication", columns="policy", values=kpi)
    return (wide[key] - wide[reference]).dropna().to_numpy()


def _cell(values: np.ndarray) -> dict:
    mean, half, _ = confidence_interval(values)
    return {"mean": mean, "ci_low": mean - half, "ci_high": mean + half}


def _groups(scenario: Scenario, ran: set[str], axis: Axis) -> dict[tuple, list]:
    """(policy name, its other parameters) -> [(spec key, value of the axis parameter)]."""
    groups: dict[tuple, list] = {}
    for spec in scenario.policies:
        if spec.key not in ran or spec.name in PERFECT_INFORMATION:
            continue
        others = {k: v for k, v in spec.params.items() if k != axis.param}
        key = (spec.name, json.dumps(others, sort_keys=True, default=str))
        groups.setdefault(key, []).append((spec.key, spec.params.get(axis.param,
                                                                     axis.default)))
    return groups


def error_curves(kpis: pd.DataFrame, scenario: Scenario) -> list[dict]:
    """Every curve the study ran: policy, axis, `points` (sigma, key, error and each KPI's
    paired change with CI, sorted by sigma), `placed` (named sources the same way), and
    `slope` (per KPI, the change per unit of error, a year, with CI)."""
    kpis = kpis.assign(idle_bed_days=kpis["staffed_bed_days"] - kpis["occupied_bed_days"])
    year = 365.0 / scenario.horizon_days
    curves = []
    for axis in AXES:
        if axis.error not in kpis.columns:
            continue
        for (name, _), members in _groups(scenario, set(kpis["policy"]), axis).items():
            points_by_centre: dict[str, list[tuple[float, str]]] = {}
            for key, value in members:
                if (point := _on_curve(value)) is not None:
                    points_by_centre.setdefault(point[0], []).append((point[1], key))
            for centre, points in points_by_centre.items():
                on_curve = sorted(points)
                if len({s for s, _ in on_curve}) < 2:
                    continue
                reference = on_curve[0][1]
                keys = {k for _, k in on_curve}
                placed = [_point(kpis, key, reference, axis, source=source_label(value))
                          for key, value in members if key not in keys and _placed(value)]
                curves.append({
                    "policy": name, "axis": axis, "around": centre, "reference": reference,
                    "points": [_point(kpis, k, reference, axis, sigma=s) for s, k in on_curve],
                    "placed": placed, "slope": _slopes(kpis, sorted(keys), axis, year)})
    return curves


def _point(kpis: pd.DataFrame, key: str, reference: str, axis: Axis, **extra) -> dict:
    """One policy's mean realised error and each KPI's paired change from `reference`."""
    changes = {kpi: _cell(_paired(kpis, key, reference, kpi)) for kpi in KPIS}
    error = float(kpis.loc[kpis["policy"] == key, axis.error].mean())
    return {"key": key, "error": error, "changes": changes, **extra}


def _slopes(kpis: pd.DataFrame, keys: list[str], axis: Axis, year: float) -> dict:
    """Per KPI, the least-squares slope against the realised error within each replication,
    averaged (95% CI) over replications; cost is scaled to a year."""
    subset = kpis[kpis["policy"].isin(keys)]
    out = {}
    for kpi in KPIS:
        slopes = [np.polyfit(group[axis.error], group[kpi], 1)[0]
                  for _, group in subset.groupby("replication")
                  if group[axis.error].nunique() > 1]
        scale = 1.0 if catalogue.get(kpi).unit in ("share", "%") else year  # totals a year
        out[kpi] = _cell(np.asarray(slopes) * scale)
    return out


def curve_sentences(curves: list[dict], number) -> list[str]:
    """For summary.md: what each unit of forecast error costs a year in money and in ICU
    refusals, and what the real sources' errors cost against the zero-error forecast,
    measured on the same patients; `number` formats a value (the report's `number`)."""

    def change(cell: dict, points: bool = False) -> str:
        scale, unit = (100.0, " percentage points") if points else (1.0, "")
        certain = cell["ci_low"] > 0 or cell["ci_high"] < 0
        return (f"{number(cell['mean'] * scale, signed=True)}{unit} (95% CI "
                f"{number(cell['ci_low'] * scale)} to {number(cell['ci_high'] * scale)}"
                f"{'' if certain else ', n.s.'})")

    sentences = []
    for curve in curves:
        axis, slope = curve["axis"], curve["slope"]
        top = max(p["error"] for p in curve["points"])
        text = (f"Under {curve['policy']}, each {axis.unit} of {axis.title} forecast MAE "
                f"changes total cost by {change(slope['cost_total'])} a year and the ICU "
                f"refusal rate by {change(slope['icu_refusal_rate'], points=True)} (noisy "
                f"sweep to MAE {top:.2f}).")
        if curve["placed"]:
            text += f" Against {curve['reference']}, on the same patients: " + "; ".join(
                f"{p['source']} (MAE {p['error']:.2f}) total cost "
                f"{change(p['changes']['cost_total'])}, ICU refusal rate "
                f"{change(p['changes']['icu_refusal_rate'], points=True)}"
                for p in curve["placed"]) + "."
        sentences.append(text)
    return sentences
