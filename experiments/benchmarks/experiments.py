"""End-to-end benchmark of a study: `hospsim run baseline` as a user runs it.

Times the scenario's default policies over 10 replications of one simulated year (a trained
model, if the scenario has one, is cached first so training is not timed), with 1 worker,
2 workers and, if Dask is installed, a Dask LocalCluster; checks that every backend gives
identical KPIs. Targets on 2 cores: < 60 s end to end, speed-up from 1 to 2 workers >= 1.8x,
Dask within 15% of the local pool.

    python -m experiments.benchmarks.experiments [--replications 10] [--scenario baseline]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import pandas as pd

import scenarios
from experiments.report.comparison import write_report
from experiments.study.run import run_study
from experiments.trained.los import los_model_for


def timed_study(scenario, out: Path, **options) -> tuple[float, pd.DataFrame]:
    """What `hospsim run` does, timed: the study, then its report."""
    started = time.perf_counter()
    study = run_study(scenario, out, **options)
    write_report(out)
    return time.perf_counter() - started, study.kpis


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="baseline")
    parser.add_argument("--replications", type=int, default=10)
    args = parser.parse_args()
    scenario = scenarios.load(args.scenario, [f"replications={args.replications}"])
    los_model_for(scenario)  # training is cached and not part of a run's time
    print(f"machine: {platform.processor() or platform.machine()}, "
          f"{len(os.sched_getaffinity(0))} cores, Python {platform.python_version()}; "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"{scenario.name}: {len(scenario.policies)} policies x {args.replications} "
          f"replications, {scenario.horizon_days} days after {scenario.warmup_days} warm-up")
    runs = {}
    with tempfile.TemporaryDirectory() as folder:
        for label, options in (("1 worker", {"workers": 1}), ("2 workers", {"workers": 2}),
                               ("Dask LocalCluster", {"workers": 2, "dask": "local"})):
            try:
                runs[label] = timed_study(scenario, Path(folder) / label, **options)
            except RuntimeError as error:  # Dask not installed
                print(f"{label}: skipped ({error})")
    one, two = runs["1 worker"][0], runs["2 workers"][0]
    print(f"\n{'backend':<20}{'seconds':>9}{'vs 1 worker':>13}")
    for label, (seconds, _) in runs.items():
        print(f"{label:<20}{seconds:>9.1f}{one / seconds:>12.2f}x")
    same = all(kpis.equals(runs["1 worker"][1]) for _, kpis in runs.values())
    print(f"\nidentical KPIs on every backend: {same}")
    print(f"end to end on 2 workers < 60 s: {'met' if two < 60 else 'NOT met'} ({two:.1f} s)")
    print(f"speed-up 1 -> 2 workers >= 1.8x: {'met' if one / two >= 1.8 else 'NOT met'} "
          f"({one / two:.2f}x)")
    if "Dask LocalCluster" in runs:
        dask = runs["Dask LocalCluster"][0]
        print(f"Dask within 15% of the local pool: {'met' if dask <= 1.15 * two else 'NOT met'}"
              f" ({dask / two:.2f}x)")


if __name__ == "__main__":
    main()
