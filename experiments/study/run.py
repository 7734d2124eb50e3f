"""A study: every policy of a scenario over its replications, stored as each one finishes.

The CLI and notebooks share this: `run_study` resolves the warm-up, runs what is not yet on
disk, and gathers the tables and the provenance manifest. It writes no report: whoever runs
a study writes one from the folder afterwards (`experiments.report.comparison.write_report`),
as `hospsim run` does.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from experiments.files import replacing
from experiments.study.folder import claim
from experiments.study.output import (
    MANIFEST,
    manifest,
    retire_outputs,
    scenario_hash,
    write_outputs,
)
from experiments.study.replications import Failure, check_policies, run_replications, tasks
from experiments.study.stats import imprecise, summarise
from experiments.study.store import ResultStore
from experiments.study.warmup import WarmupChoice, resolve_warmup
from experiments.trained.backtest import store_backtest
from experiments.trained.los import los_model_for
from scenarios.schema import Scenario
from simulator import kpis as catalogue


@dataclass
class Study:
    scenario: Scenario
    warmup: WarmupChoice | None
    kpis: pd.DataFrame
    paths: dict[str, Path]
    ran: int
    reused: int
    wall_seconds: float
    failures: list[Failure] = field(default_factory=list)
    precision: dict | None = None


def run_study(
    scenario: Scenario,
    out: Path,
    *,
    source: str = "",
    overrides: list[str] | None = None,
    workers: int = 1,
    resume: bool = False,
    overwrite: bool = False,
    derived: tuple[str, ...] = (),
    event_log: bool = False,
    dask: str | None = None,
    on_start: Callable[[Scenario, int, int], None] | None = None,
    on_done: Callable[[], None] | None = None,
) -> Study:
    """Run the replications missing from `out` (all of them unless `resume`), store each as
    it finishes, then write kpis.csv/.parquet, census.parquet and manifest.json.

    `out` must be new, empty or a results folder (`overwrite`: any folder, see
    `experiments.study.folder`); it is locked while the study runs. Files `derived` from the
    tables (a report) are removed with the earlier tables, when the new ones replace them."""
    check_policies(scenario)
    los_model_for(scenario)  # train (or load) once here, so workers only load it
    scenario, warmup = resolve_warmup(scenario)
    with claim(Path(out), overwrite) as out:
        store = ResultStore(out, scenario.name)
        identity = {
            "scenario": scenario.name,
            "scenario_sha256": scenario_hash(scenario.model_copy(update={"replications": 1})),
            "seed": scenario.seed,
            "event_log": event_log,
        }
        store.start(identity, resume)
        done = store.completed()
        todo = [task for task in tasks(scenario) if task.key not in done]
        if on_start:
            on_start(scenario, len(todo), len(done))
        started = time.perf_counter()
        failures = []
        for task, outcome in run_replications(scenario, todo, workers, event_log, dask):
            if isinstance(outcome, Failure):
                failures.append(outcome)
                store.save_failure(*task.key, outcome.record())
            else:
                store.save(outcome, scenario.seed)
            if on_done:
                on_done()
        wall = time.perf_counter() - started
        info = manifest(scenario, source, overrides or [], warmup, workers, wall)
        info["backend"] = dask or ("in-process" if workers <= 1 else "process pool")
        info["failures"] = [f.record() for f in failures]
        info["run"] = store.run_id  # the replications' run, checked by `check_one_run`
        retire_outputs(out, derived)
        store.commit()
        paths = {}
        if store.completed():
            paths = store_backtest(scenario, out)
            paths.update(write_outputs(out, store, info))
        kpis = pd.read_parquet(paths["kpis.parquet"]) if paths else pd.DataFrame()
    return Study(scenario, warmup, kpis, paths, len(todo), len(done), wall, failures)


def estimated_stays(scenario: Scenario) -> float:
    """Patient stays a study simulates, about (surges aside): its run time and memory
    grow with it. The built-in scenarios are 1.3 to 5 million."""
    days = scenario.horizon_days + (scenario.warmup_days if scenario.warmup_days != "auto"
                                    else 0)
    daily = sum(stream.daily_rate for stream in scenario.arrivals)
    return daily * days * scenario.replications * len(scenario.policies)


PRECISION_KPIS = catalogue.names("precision")


def run_to_precision(
    scenario: Scenario,
    out: Path,
    *,
    target: float,
    kpis: tuple[str, ...] = PRECISION_KPIS,
    cap: int = 200,
    **options,
) -> Study:
    """Add replications until every policy's CI half-width of each KPI in `kpis` is within
    `target` x |mean| (the confidence-interval method), or `cap` replications are done.

    Starts from the scenario's replications (at least 3) and grows by the 1/sqrt(n) estimate
    of what the widest interval needs; each round resumes the study, so nothing is rerun.
    """
    n = max(3, scenario.replications)
    study = run_study(scenario.model_copy(update={"replications": n}), out, **options)
    ran, reused = study.ran, study.reused
    options["resume"] = True
    while True:
        summary = summarise(study.kpis)
        loose = imprecise(summary, list(kpis), target)
        if not loose or n >= cap:
            break
        rows = summary[summary["kpi"].isin(kpis)]
        ratio = (rows["half_width"] / (target * rows["mean"].abs())).replace(np.inf, np.nan)
        worst = float(np.nanmax(ratio.to_numpy())) if ratio.notna().any() else math.sqrt(2)
        grow = math.ceil(n * worst**2)
        n = min(cap, max(n + 1, grow))
        study = run_study(study.scenario.model_copy(update={"replications": n}), out, **options)
        ran += study.ran
    study.ran, study.reused = ran, reused
    study.precision = {"target": target, "kpis": list(kpis), "cap": cap, "replications": n,
                       "still_imprecise": loose}
    manifest_path = study.paths.get(MANIFEST)
    if manifest_path:
        info = json.loads(manifest_path.read_text())
        info["replication_rule"] = study.precision
        with replacing(manifest_path) as partial:
            partial.write_text(json.dumps(info, indent=2, default=str))
    return study
