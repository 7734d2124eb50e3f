"""The `ml` arrival forecast: a daily admissions forecaster per unit, trained on the
scenario's own demand, predicting each morning from the latest observed days.

Policies may not import `forecasting`, so this source lives here; `experiments.trained.wiring`
makes one for a policy whose `forecast` is `ml` (`ml_xgboost`: gradient-boosted trees) and
passes it in.

Training history: `HISTORY_DAYS` of arrivals per first-need unit, drawn with the simulator's
own demand functions from a seed no replication uses, dated so that it ends the day before
the run's first (warm-up) day, without the scenario's surges (they are timed relative to
the run, not to a history before it). One model per unit is fitted once per scenario and
process and then only predicts: each morning it reads the training history followed by the
run's observed `arrival_history`. The models are horizon-aware (`forecasting.features`): a
forecast h days ahead reads every day up to the morning's, so a surge under way reaches the
forecast within days. `MlForecast.quantiles` gives each unit's forecast distribution, from
the errors each horizon's model made on the history's last year. An `MlForecast` follows the
scenario it is asked about, so one object can serve runs of different scenarios.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from experiments.trained.openmp import passive_openmp
from scenarios.schema import Scenario, home_unit
from simulator import HospitalView
from simulator.demand import draw_arrivals, draw_attributes
from simulator.pathway import first_unit

HISTORY_DAYS = 3 * 365
HISTORY_SPAWN_KEY = 2_000_000  # far from any replication's spawn key
RUN_SPAWN_KEY = HISTORY_SPAWN_KEY + 1
INTERVAL_DAYS = 365
"""The history's last year: its errors, forecast by a fit on the two years before, calibrate
the quantiles (`FeatureRegressor.interval_days`)."""
CALENDAR_BLOCK = 400  # days of calendar features built at once
DEMAND_FIELDS = {"arrivals", "case_mix", "surges", "units", "start_date", "warmup_days"}


@dataclass
class Trained:
    """One scenario's training history and fitted forecaster per unit."""

    first: pd.Timestamp  # date of the history's first day
    history: dict[str, np.ndarray]
    models: dict[str, object]
    tail: int  # days of history a prediction reads
    spreads: dict[tuple[str, tuple[float, ...]], np.ndarray] = field(default_factory=dict)
    """Quantiles of each unit's held-out errors, gaps x levels, by (unit, levels)."""


_CACHE: dict[tuple[str, str], Trained] = {}


def scenario_key(scenario: Scenario) -> str:
    text = scenario.model_dump_json(include=DEMAND_FIELDS) + f"|seed={scenario.seed}"
    return hashlib.sha256(text.encode()).hexdigest()


def simulated_history(scenario: Scenario, days: int = HISTORY_DAYS) -> tuple[dt.date, dict]:
    """Daily arrivals per first-need unit over `days` days ending the day before the run's
    first day: (first date, {unit: counts})."""
    run_first = scenario.start_date - dt.timedelta(days=scenario.warmup)
    first = run_first - dt.timedelta(days=days)
    # day_dates counts from start_date - warmup: shift start_date so the history starts at
    # `first`; surges are left out (their timing is the run's, not the history's)
    past = scenario.model_copy(update={"start_date": first + dt.timedelta(days=scenario.warmup),
                                       "surges": []})
    return first, daily_demand(past, days, HISTORY_SPAWN_KEY)


def run_demand(scenario: Scenario) -> tuple[dt.date, dict]:
    """Daily arrivals per first-need unit over a run of `scenario` (warm-up included), surges
    and all, from a seed no replication uses: (first date, {unit: counts}). What the `ml`
    source meets after `simulated_history`, for backtesting it through a surge."""
    days = scenario.warmup + scenario.horizon_days
    first = scenario.start_date - dt.timedelta(days=scenario.warmup)
    return first, daily_demand(scenario, days, RUN_SPAWN_KEY)


def daily_demand(scenario: Scenario, days: int, spawn_key: int) -> dict[str, np.ndarray]:
    """Arrivals drawn with the simulator's demand functions, counted per day on the unit
    each patient first needs."""
    seed = np.random.SeedSequence(scenario.seed, spawn_key=(spawn_key,))
    arrivals_rng, attributes_rng = (np.random.default_rng(s) for s in seed.spawn(2))
    arrivals = draw_arrivals(scenario, days, arrivals_rng)
    units = scenario.units
    counts = {u.name: np.zeros(days) for u in units}
    for (s, k), group in arrivals.groupby(["stream", "surge"], sort=True):
        attributes = draw_attributes(scenario, int(s), int(k), len(group), attributes_rng)
        day = (group["time"].to_numpy() // 24).astype(int)
        homes: dict[tuple[str, str], int | None] = {}
        for d, specialty, age, needs_icu in zip(
            day, attributes["specialty"], attributes["age_group"], attributes["needs_icu"],
            strict=True,
        ):
            key = (specialty, age)
            if key not in homes:
                homes[key] = home_unit(units, specialty, age)
            home = homes[key]
            if home is not None:
                counts[units[first_unit(scenario, home, needs_icu)].name][d] += 1
    return counts


def train(scenario: Scenario, model: str = "linear") -> Trained:
    """The scenario's trained forecasters, built once per process."""
    key = (scenario_key(scenario), model)
    if key not in _CACHE:
        passive_openmp()
        from forecasting.admissions import make_model  # sklearn/xgboost only when used

        first, history = simulated_history(scenario)
        spec = feature_spec(scenario)
        index = pd.date_range(first, periods=HISTORY_DAYS, freq="D")
        models = {
            unit: make_model(model, features=spec, interval_days=INTERVAL_DAYS)
            .fit(pd.Series(counts, index=index))
            for unit, counts in history.items()
        }
        _CACHE[key] = Trained(pd.Timestamp(first), history, models, reach(spec))
    return _CACHE[key]


def reach(spec) -> int:
    """Days of history a forecast with `spec`'s features reads (a week to spare)."""
    return max(*spec.lags, *spec.windows, spec.level_window or 0) + spec.max_horizon + 7


def feature_spec(scenario: Scenario):
    """Default features, with the holiday calendar of the scenario's streams."""
    from forecasting.features import FeatureSpec

    effect = next((s.holidays for s in scenario.arrivals if s.holidays is not None), None)
    if effect is None:
        return FeatureSpec()
    return FeatureSpec(country=effect.country, subdivision=effect.subdivision)


class MlForecast:
    """`ArrivalForecast` from a forecaster per unit (`linear` by default, or any name of
    `forecasting.admissions.make_model`, e.g. `xgboost`).

    Each morning's features are built here with numpy (the calendar once for all units)
    rather than by `Forecaster.predict`, which rebuilds them with pandas per unit: the same
    features in the same order (`tests/test_ml_source.py` checks the two agree), at a
    fraction of the cost."""

    def __init__(self, model: str = "linear") -> None:
        self.model = model
        self.trained: Trained | None = None
        self._scenario: tuple[Scenario, str] | None = None  # the scenario trained for, its key
        self._calendar: tuple[pd.Timestamp, np.ndarray] | None = None
        self._plans: dict[tuple[object, int], _Plan] = {}

    def for_scenario(self, scenario: Scenario) -> Trained:
        """The forecasters trained on `scenario`'s demand (`scenario_key`): a scenario with
        other demand gets its own models and calendar, not the last one's."""
        if self._scenario is None or self._scenario[0] is not scenario:
            key = scenario_key(scenario)
            if self._scenario is None or self._scenario[1] != key:
                self.trained, self._calendar = train(scenario, self.model), None
                self._plans = {}
            self._scenario = (scenario, key)
        return self.trained

    def expected(self, view: HospitalView, horizon: int) -> dict[str, np.ndarray]:
        return {
            name: _weekly(np.clip(ratio * level, 0.0, None), horizon)
            for name, _, ratio, level, _ in self._ratios(view, horizon)
        }

    def quantiles(
        self, view: HospitalView, horizon: int, levels: tuple[float, ...]
    ) -> dict[str, np.ndarray]:
        """The `levels`-quantiles of each unit's arrivals on the next `horizon` days (levels x
        horizon), from each horizon's errors on the last year of the training history
        (`FeatureRegressor.predict_quantiles`): to staff to a quantile of the forecast's own
        error distribution rather than to an assumed one."""
        levels = tuple(float(q) for q in levels)
        trained = self.for_scenario(view.scenario)
        out = {}
        for name, model, ratio, level, gaps in self._ratios(view, horizon):
            key = (name, levels)
            if key not in trained.spreads:
                trained.spreads[key] = np.stack(
                    [np.quantile(model.residuals_[g], levels) for g in model.spec_.gaps])
            spread = trained.spreads[key][np.searchsorted(model.spec_.gaps, gaps)]
            values = np.clip((ratio[None, :] + spread.T) * level[None, :], 0.0, None)
            out[name] = _weekly(values, horizon)
        return out

    def _ratios(self, view: HospitalView, horizon: int) -> Iterator[tuple]:
        """Per unit: (name, model, ratio, level, gaps) of the days ahead its model reaches
        (`ratio_at`), from the training history followed by the run's observed days."""
        trained = self.for_scenario(view.scenario)
        steps = min(horizon, next(iter(trained.models.values())).spec_.max_horizon)
        for unit in view.units:
            name = unit.name
            run = view.arrival_history(name)
            past = trained.history[name]
            origin = trained.first + pd.Timedelta(days=past.size + len(run) - 1)
            recent = np.asarray(run[-trained.tail :], dtype=float)
            values = np.concatenate([past[past.size - trained.tail + recent.size :], recent])
            model = trained.models[name]
            yield name, model, *self.ratio_at(model, values, origin, steps)

    def calendar(self, spec, origin: pd.Timestamp, steps: int) -> np.ndarray:
        """Calendar features of the `steps` days after `origin`, built for a year and more
        at a time (building them is most of a morning's cost otherwise)."""
        first = origin + pd.Timedelta(days=1)
        if self._calendar is not None:
            start, rows = self._calendar
            offset = (first - start).days
            if offset >= 0 and offset + steps <= len(rows):
                return rows[offset : offset + steps]
        from forecasting.features import calendar_features

        dates = pd.date_range(first, periods=CALENDAR_BLOCK + steps, freq="D")
        frame = calendar_features(dates, spec.fourier_order, spec.country, spec.subdivision)
        self._calendar = (first, frame.to_numpy(dtype=float))
        return self._calendar[1][:steps]

    def predict(self, model, values: np.ndarray, origin: pd.Timestamp, steps: int) -> np.ndarray:
        """`model.predict(history, steps)` for the history `values` ending on `origin`."""
        ratio, level, _ = self.ratio_at(model, values, origin, steps)
        return np.clip(ratio * level, 0.0, None)

    def ratio_at(
        self, model, values: np.ndarray, origin: pd.Timestamp, steps: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For the `steps` days after `origin`, the end of the history `values`: the predicted
        ratio to the level, the level, and the gap each day's model reads at (FeatureSpec.build
        in numpy: row h reads lags shortened to its gap and windows ending at it)."""
        key = (model, steps)
        if key not in self._plans:
            self._plans[key] = _Plan.of(model, steps)
        plan, spec = self._plans[key], model.spec_
        sums = np.concatenate([[0.0], np.cumsum(values)])

        def trailing(window: int) -> np.ndarray:
            return (sums[plan.ends] - sums[plan.ends - window]) / window

        past = np.column_stack([values[plan.lags], *(trailing(w) for w in spec.windows)])
        level = np.ones(steps)
        if spec.level_window is not None:
            level = np.maximum(trailing(spec.level_window), 1 / spec.level_window)
            past = past / level[:, None]
        X = np.hstack([self.calendar(spec, origin, steps), past])
        if plan.coef is not None:
            return np.einsum("ij,ij->i", X, plan.coef) + plan.intercept, level, plan.gaps
        from forecasting.admissions import predict_rows

        ratio = np.empty(steps)
        for gap in np.unique(plan.gaps):
            rows = plan.gaps == gap
            ratio[rows] = predict_rows(model.estimators_[int(gap)], X[rows])
        return ratio, level, plan.gaps


@dataclass(frozen=True)
class _Plan:
    """Where each of `steps` forecast rows reads, as indices from the end of the history
    (the same every morning), and for a linear model each row's coefficients: worked out
    once per model rather than every morning."""

    gaps: np.ndarray
    lags: np.ndarray  # steps x lags, into the history
    ends: np.ndarray  # into its cumulative sums (one longer): the end of each row's windows
    coef: np.ndarray | None  # steps x features
    intercept: np.ndarray | None

    @classmethod
    def of(cls, model, steps: int) -> _Plan:
        horizons = np.arange(1, steps + 1)
        gaps = model.spec_.gap(horizons)
        estimators = [model.estimators_[int(g)] for g in gaps]
        linear = all(hasattr(e, "coef_") for e in estimators)
        return cls(
            gaps=gaps,
            lags=horizons[:, None] - 1 - model.spec_.lags_at(gaps),  # the target is at +h
            ends=horizons - gaps - 1,
            coef=np.stack([e.coef_ for e in estimators]) if linear else None,
            intercept=np.array([e.intercept_ for e in estimators]) if linear else None,
        )


def _weekly(values: np.ndarray, horizon: int) -> np.ndarray:
    """Days ahead (the last axis) beyond the model's reach: the same weekday a week earlier."""
    steps = values.shape[-1]
    if horizon <= steps:
        return values
    extended = np.concatenate([values, np.zeros((*values.shape[:-1], horizon - steps))], -1)
    for k in range(steps, horizon):
        extended[..., k] = extended[..., k - 7]
    return extended
