"""Stress tests: sweep one scenario field and find where a KPI crosses a threshold.

Each value of the swept field is a study of its own (`DIR/value=V/`, stored and resumable
like any `hospsim run`); every value reuses the same seeds, so the curve's steps come from
the field, not from new patients. The breaking point is reported three ways: where the mean
crosses the threshold (linear interpolation between grid points), and the first grid value
at which the whole 95% interval has crossed (certainly broken) or any of it has (possibly).
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict

import scenarios
from experiments.study.run import run_study
from experiments.study.stats import confidence_interval
from scenarios.schema import PolicySpec

CONDITION = re.compile(r"^\s*([\w.]+)\s*(>=|<=|>|<)\s*(-?[\d.eE+-]+)\s*$")
MAX_VALUES = 200
"""Values one sweep may take: each is a whole study (all its replications)."""
OPERATORS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}


@dataclass(frozen=True)
class Sweep:
    path: str
    values: list[float]

    @classmethod
    def parse(cls, text: str) -> Sweep:
        """`PATH=START:STOP:STEP` (STOP included), e.g. `ventilators=10:40:2`."""
        path, _, span = text.partition("=")
        parts = span.split(":")
        if not path or len(parts) != 3:
            raise ValueError(f"--vary {text!r}: expected PATH=START:STOP:STEP")
        try:
            start, stop, step = (float(p) for p in parts)
        except ValueError:
            raise ValueError(f"--vary {text!r}: START, STOP and STEP must be numbers") from None
        if step <= 0 or stop < start:
            raise ValueError(f"--vary {text!r}: need STEP > 0 and STOP >= START")
        if not all(map(math.isfinite, (start, stop, step))):
            raise ValueError(f"--vary {text!r}: START, STOP and STEP must be finite")
        count = math.floor((stop - start) / step + 1e-9) + 1
        if count > MAX_VALUES:
            raise ValueError(f"--vary {text!r}: {count:.3g} values; a sweep runs a study per "
                             f"value, so at most {MAX_VALUES} (raise STEP or narrow the range)")
        values = [round(start + i * step, 10) for i in range(count)]
        if all(float(v).is_integer() for v in (start, step)):
            values = [int(v) for v in values]
        return cls(path, values)


@dataclass(frozen=True)
class Condition:
    kpi: str
    op: str
    threshold: float

    @classmethod
    def parse(cls, text: str) -> Condition:
        match = CONDITION.match(text)
        if not match:
            raise ValueError(f"--until {text!r}: expected KPI>THRESHOLD (or <, >=, <=)")
        return cls(match[1], match[2], float(match[3]))

    def holds(self, value: float) -> bool:
        return OPERATORS[self.op](value, self.threshold)

    def __str__(self) -> str:
        return f"{self.kpi} {self.op} {self.threshold:g}"


FORECAST_ERRORS = ("forecast_mae", "los_forecast_mae")
"""Realised forecast errors kept per value, so a sweep of a noisy forecast's sigma reads as
outcomes against the error it made."""

STUDIES = Path(__file__).parents[1] / "studies"  # experiments/studies/


class StudySpec(BaseModel):
    """A shipped stress study: the arguments of `hospsim stress`, kept in a file."""

    model_config = ConfigDict(extra="forbid")
    scenario: str
    set: list[str] = []
    vary: str
    until: str
    policy: str | None = None
    replications: int = 10
    full: bool = False  # run every value (for the cost curve), not stop once certain


def study_names() -> list[str]:
    return sorted(p.stem for p in STUDIES.glob("*.yaml"))


def load_study(name: str) -> StudySpec:
    path = STUDIES / f"{name}.yaml"
    if not path.is_file():
        raise ValueError(f"no study named {name!r}; shipped: {', '.join(study_names())}")
    return StudySpec.model_validate(yaml.safe_load(path.read_text()))


@dataclass
class StressResult:
    sweep: Sweep
    condition: Condition
    policy: str
    curve: pd.DataFrame  # value, mean, ci_low, ci_high, n
    crossing: float | None  # where the mean crosses (interpolated)
    certain: float | None  # first value whose whole CI satisfies the condition
    possible: float | None  # first value whose CI reaches it


def run_stress(
    source: str,
    sweep: Sweep,
    condition: Condition,
    out: Path,
    *,
    overrides: list[str] | None = None,
    policy: str | None = None,
    stop_when_certain: bool = True,
    on_value: Callable[[float], None] | None = None,
    **study_options,
) -> StressResult:
    """Run the sweep (one policy: the scenario's first unless named, by its key in the
    scenario or, with default parameters, by any registered name), value by value."""
    rows = []
    chosen = policy
    for value in sweep.values:
        scenario = scenarios.load(source, [*(overrides or []), f"{sweep.path}={value}"])
        chosen = chosen or scenario.policies[0].key
        specs = [p for p in scenario.policies if p.key == chosen] or [PolicySpec(name=chosen)]
        scenario = scenario.model_copy(update={"policies": specs})
        if on_value:
            on_value(value)
        study = run_study(scenario, Path(out) / f"value={value}", source=source,
                          **study_options)
        if condition.kpi not in study.kpis.columns:
            raise ValueError(f"--until: unknown KPI {condition.kpi!r}")
        mean, half, _ = confidence_interval(study.kpis[condition.kpi].to_numpy())
        half = 0.0 if np.isnan(half) else half
        costs = study.kpis.sort_values("replication")["cost_total"].to_numpy()
        cost, cost_half, _ = confidence_interval(costs)
        step = {}
        if rows:  # the same seeds at every value: the cost change is a paired difference
            change, change_half, _ = confidence_interval(costs - rows[-1]["costs"])
            step = {"cost_change": change, "cost_change_half_width": change_half}
        errors = {k: float(study.kpis[k].mean()) for k in FORECAST_ERRORS
                  if k in study.kpis.columns}  # what a swept forecast error came to
        rows.append({"value": value, "mean": mean, "ci_low": mean - half,
                     "ci_high": mean + half, "n": len(study.kpis), "cost_total": cost,
                     "cost_half_width": cost_half, **step, **errors, "costs": costs})
        low_side, high_side = condition.holds(mean - half), condition.holds(mean + half)
        if stop_when_certain and low_side and high_side:
            break
    curve = pd.DataFrame(rows).drop(columns="costs")
    return StressResult(sweep, condition, chosen, curve, *_breaking_points(curve, condition))


def _breaking_points(curve: pd.DataFrame, condition: Condition):
    crossing = certain = possible = None
    previous = None
    for row in curve.itertuples():
        both = condition.holds(row.ci_low) and condition.holds(row.ci_high)
        either = condition.holds(row.ci_low) or condition.holds(row.ci_high)
        if possible is None and either:
            possible = row.value
        if certain is None and both:
            certain = row.value
        if crossing is None and condition.holds(row.mean):
            if previous is None or previous.mean == row.mean:
                crossing = float(row.value)
            else:  # linear interpolation between the last value short of it and this one
                share = (condition.threshold - previous.mean) / (row.mean - previous.mean)
                crossing = float(previous.value + share * (row.value - previous.value))
        previous = row
    return crossing, certain, possible
