"""Policies from a scenario's specs, and what kind of policy a spec describes.

A forecast-using policy takes its `forecast` as a source object, as the name of a built-in
source (`historical`, `perfect`: `policies.forecasts.SOURCES`) or as the mapping of the noisy
source (`{source: noisy, sigma: 0.2, bias: 0}`: the truth with chosen error). The trained
sources (`ml`, `ml_xgboost`: a forecaster per unit fitted on the scenario's simulated history) need
`forecasting`, which policies may not import, so `build_policy` makes them here as
`MlForecast` objects and hands them to the policy. Everything that builds a policy from a
scenario calls `build_policy`; the report and the backtest ask this module, not the raw
parameter, what kind of policy a spec is.
"""

from __future__ import annotations

import math
import types
import typing
from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import ConfigDict, TypeAdapter, ValidationError

from experiments.trained.arrival_forecast import MlForecast
from policies import make_policy
from policies.forecasts import NOISY, SOURCES, ArrivalForecast, Noise
from policies.registry import REGISTRY
from scenarios.schema import PolicySpec, Scenario
from simulator import Policy

TRAINED_SOURCES: dict[str, str] = {"ml": "linear", "ml_xgboost": "xgboost"}
"""Trained forecast sources by name, and the `forecasting.admissions` model each fits."""

PERFECT_SOURCE = "perfect"  # the built-in source that reads the revealed truth
RATE_SOURCE = "rate"  # the built-in source that reads the demand process itself
PERFECT_INFORMATION = {"oracle": "milp"}  # the oracle is the MILP told the whole truth
TRUTH = "perfect information"  # the oracle's source, when sources are compared


def source_names() -> list[str]:
    """Every name a policy spec's `forecast` may take: built-in and trained."""
    return sorted({*SOURCES, *TRAINED_SOURCES})


def is_trained_source(name: object) -> bool:
    """Whether `name` is a source trained on the scenario's simulated history."""
    return isinstance(name, str) and name in TRAINED_SOURCES


def forecast_source(name: object) -> str | Mapping | ArrivalForecast:
    """What a policy's `forecast` parameter is given for the source called `name`: a new
    `MlForecast` for a trained source, the name (or the noisy source's mapping) itself for a
    built-in; a misspelt name is a ValueError listing the valid ones."""
    if is_trained_source(name):
        return MlForecast(TRAINED_SOURCES[name])
    if (isinstance(name, str) and name in SOURCES) or isinstance(name, Mapping):
        return name
    raise ValueError(f"unknown forecast source {name!r}; available: {', '.join(source_names())}"
                     f", or {{source: {NOISY}, sigma: ..., bias: ...}}")


def source_label(value: object) -> str:
    """How reports name a `forecast` or `los_forecast` value: the name, or the noisy
    source's error (`noisy σ=0.2`)."""
    return str(Noise.parse(value)) if isinstance(value, Mapping) else str(value)


def noise_of(value: object) -> Noise | None:
    """The chosen error of a noisy `forecast` or `los_forecast` value; None for any other."""
    return Noise.parse(value) if isinstance(value, Mapping) else None


def build_policy(spec: PolicySpec) -> Policy:
    """The policy `spec` describes, a fresh object with its forecast source wired in; a
    misspelt policy, parameter or source is a ValueError naming the valid ones."""
    params: dict[str, Any] = dict(spec.params)
    if "forecast" in params:
        params["forecast"] = forecast_source(params["forecast"])
    return make_policy(spec.name, params)


SOURCE_PARAMETERS = ("forecast", "los_forecast")
"""Parameters naming a forecast source (a name or the noisy mapping): checked as sources."""
SCALARS = (int, float, str, bool, types.NoneType)


def policy_problems(scenario: Scenario) -> list[tuple[tuple[str | int, ...], str]]:
    """Every policy spec's problems before anything runs (a `scenarios.load` check, so each
    is reported at its file and line): parameter values of the type the policy's signature
    gives, numbers finite and not negative, then whatever building the policy refuses (a
    misspelt name, parameter or source; the policy's own ranges)."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    for i, spec in enumerate(scenario.policies):
        found = [(("policies", i, "params", name), message)
                 for name, message in _value_problems(spec)]
        if not found:
            try:
                build_policy(spec)
            except (ValueError, TypeError) as error:
                where = "name" if spec.name not in REGISTRY else "params"
                found = [(("policies", i, where), str(error))]
        problems += found
    return problems


def _value_problems(spec: PolicySpec) -> Iterator[tuple[str, str]]:
    factory = REGISTRY.get(spec.name)
    hints = typing.get_type_hints(factory.__init__) if factory is not None else {}
    for name, value in spec.params.items():
        hint = hints.get(name)
        if hint is None or name in SOURCE_PARAMETERS or not all(
                t in SCALARS for t in typing.get_args(hint) or (hint,)):
            continue
        try:
            TypeAdapter(hint, config=ConfigDict(strict=True)).validate_python(value)
        except ValidationError as error:
            shown = repr(value) if len(repr(value)) <= 40 else f"{repr(value)[:37]}..."
            yield name, f"{error.errors()[0]['msg']} (got {shown})"
            continue
        if (isinstance(value, int | float) and not isinstance(value, bool)
                and not (math.isfinite(value) and value >= 0)):
            yield name, f"must be a finite number >= 0 (got {value})"


def knows_the_future(spec: PolicySpec) -> bool:
    """A bound rather than a policy a hospital could run: the oracle, or forecasts made
    from the truth or the demand process itself (perfect, rate or noisy, of arrivals or of
    stays)."""
    sources = (spec.params.get("forecast"), spec.params.get("los_forecast"))
    return spec.name in PERFECT_INFORMATION or any(
        s in (PERFECT_SOURCE, RATE_SOURCE) or isinstance(s, Mapping) for s in sources)


def forecast_group(spec: PolicySpec) -> tuple[str, str] | None:
    """(policy, forecast source) for comparing the sources one policy ran with: the oracle
    is the MILP with `TRUTH`; None for a spec that names no source."""
    if spec.name in PERFECT_INFORMATION:
        return PERFECT_INFORMATION[spec.name], TRUTH
    if "forecast" in spec.params:
        return spec.name, source_label(spec.params["forecast"])
    return None
