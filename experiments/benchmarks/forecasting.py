"""Forecasting benchmark: time and peak memory of loading a SPARCS release, training the LOS
models and backtesting the admission forecasters.

Each stage runs in a fresh Python process (this module again, with `--stage`), so its peak
resident memory (`getrusage` ru_maxrss of that process) is its own: one process would only
ever report the largest peak so far, and what one stage freed the allocator may keep for the
next. A stage's peak includes the interpreter, the imports and building its input; the RSS
just before the timed call is printed as "before" so the step's own share can be read off.

    python -m experiments.benchmarks.forecasting [--rows 2350000] [--train-rows 500000]
    python -m experiments.benchmarks.forecasting --csv release.csv --skip-backtest

Targets (2 cores): load < 30 s, XGBoost LOS training < 60 s, every stage's peak < 4 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from experiments.trained.openmp import passive_openmp

SEED = 2015
GB = 1e9
TARGET_RSS = 4 * GB
TARGET_SECONDS = {"load": 30.0, "train xgboost": 60.0}
KINDS = ("linear", "random_forest", "xgboost")


def _rss_now() -> int | None:
    """Current resident set size in bytes (Linux /proc; None elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _peak_rss() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, KiB on Linux


def _timed(call: Callable[[], int]) -> dict[str, Any]:
    """Run `call` (returns its row count) and report seconds, RSS before and peak RSS."""
    before, load = _rss_now(), os.getloadavg()[0]
    start = time.perf_counter()
    rows = call()
    seconds = time.perf_counter() - start
    return {"rows": rows, "seconds": seconds, "rss_before": before, "peak_rss": _peak_rss(),
            "load_avg": load}


def _stage(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """One stage, run inside its own process."""
    if name == "write":
        from forecasting.synthetic import generate_records

        def write() -> int:
            frame = generate_records(args.rows, SEED)
            frame.to_csv(args.csv, index=False)
            return len(frame)

        return _timed(write)
    if name == "load":
        from forecasting.sparcs import load_sparcs

        return _timed(lambda: len(load_sparcs(args.csv).records))
    if name.startswith("train "):
        from forecasting.los_models import LosRegressor
        from forecasting.sparcs import normalise_sparcs
        from forecasting.synthetic import generate_records

        records = normalise_sparcs(generate_records(args.train_rows, SEED)).records
        model = LosRegressor(name.removeprefix("train "))

        def fit() -> int:
            model.fit(records)
            return len(records)

        return _timed(fit)
    if name == "backtest":
        from forecasting.backtest import backtest
        from forecasting.synthetic import generate

        history = generate()  # 3 years, 5 units
        return _timed(lambda: len(backtest(history.daily, expected=history.expected).forecasts))
    raise ValueError(f"unknown stage {name!r}")


def _run_stage(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """Run one stage in a child process and return what it measured."""
    command = [sys.executable, "-m", "experiments.benchmarks.forecasting", "--stage", name,
               "--rows", str(args.rows), "--train-rows", str(args.train_rows)]
    if args.csv is not None:
        command += ["--csv", str(args.csv)]
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _verdict(name: str, result: dict[str, Any]) -> str:
    limit = TARGET_SECONDS.get(name)
    met = result["peak_rss"] < TARGET_RSS and (limit is None or result["seconds"] < limit)
    target = (f"< {limit:.0f} s, " if limit else "") + f"< {TARGET_RSS / GB:.0f} GB"
    if name == "write":
        return "(setup, no target)"
    return f"{target}: {'met' if met else 'NOT MET'}"


def _gb(value: int | None) -> str:
    return "-" if value is None else f"{value / GB:.2f}"


def main(argv: list[str] | None = None) -> None:
    # as every hospsim training does (experiments/trained/openmp.py): before a stage imports
    # xgboost; the stages' processes inherit it
    passive_openmp()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", type=Path, help="a SPARCS CSV to load (default: generate one "
                        "of --rows rows into a temporary directory)")
    parser.add_argument("--rows", type=int, default=2_350_000, help="rows of the generated CSV")
    parser.add_argument("--train-rows", type=int, default=500_000,
                        help="normalised records to train each LOS model on")
    parser.add_argument("--models", nargs="+", choices=KINDS, default=list(KINDS),
                        help="LOS models to train")
    parser.add_argument("--skip-load", action="store_true")
    parser.add_argument("--skip-train", action="store_true")
    parser.add_argument("--skip-backtest", action="store_true")
    parser.add_argument("--stage", help=argparse.SUPPRESS)  # internal: run one stage, print JSON
    args = parser.parse_args(argv)

    if args.stage:
        print(json.dumps(_stage(args.stage, args)))
        return

    print(f"Python {platform.python_version()}, {os.cpu_count()} CPUs, "
          f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}, "
          f"OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}")
    stages = [] if args.skip_load else ["load"]
    stages += [] if args.skip_train else [f"train {kind}" for kind in args.models]
    stages += [] if args.skip_backtest else ["backtest"]
    header = (f"{'stage':<20} {'rows':>10} {'seconds':>8} {'before GB':>9} {'peak GB':>8} "
              f"{'load1':>5}  target")
    with tempfile.TemporaryDirectory(prefix="hospsim-bench-") as tmp:
        if args.csv is None and "load" in stages:
            args.csv = Path(tmp) / "sparcs.csv"
            stages.insert(0, "write")
        print(header)
        for name in stages:
            result = _run_stage(name, args)
            size = f" ({args.csv.stat().st_size / GB:.2f} GB file)" if name == "write" else ""
            print(f"{name:<20} {result['rows']:>10,} {result['seconds']:>8.1f} "
                  f"{_gb(result['rss_before']):>9} {_gb(result['peak_rss']):>8} "
                  f"{result['load_avg']:>5.2f}  {_verdict(name, result)}{size}", flush=True)
    print(f"load average at the end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
