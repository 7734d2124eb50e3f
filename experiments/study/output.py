"""What a run leaves on disk: KPIs per replication, daily census, and a provenance manifest."""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from experiments.files import csv_safe, replacing
from experiments.study.store import ResultStore
from experiments.study.warmup import WarmupChoice
from scenarios.schema import Scenario

MANIFEST = "manifest.json"
TABLES = ("kpis.csv", "kpis.parquet", "census.parquet", "hour_of_week.parquet",
          "events.parquet", "solves.parquet")
PACKAGES = (
    "hospsim", "simpy", "numpy", "pandas", "scipy", "scikit-learn", "xgboost", "pulp",
    "highspy", "pydantic", "pyarrow",
)


def scenario_hash(scenario: Scenario) -> str:
    canonical = json.dumps(scenario.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
            cwd=Path(__file__).resolve().parent,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() or None


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            if name == "xgboost":
                try:
                    found[name] = metadata.version("xgboost-cpu")
                except metadata.PackageNotFoundError:
                    continue
    return found


def manifest(
    scenario: Scenario, source: str, overrides: list[str], warmup: WarmupChoice | None,
    workers: int, wall_seconds: float,
) -> dict:
    """Everything needed to reproduce a run, and to see that a result came from it."""
    if warmup is None:
        warmup_info = {"days": scenario.warmup, "method": "given"}
    else:
        warmup_info = {
            "days": warmup.days, "method": "MSER-5 on the daily total census",
            "pilot_replications": warmup.pilots, "pilot_census": warmup.census,
        }
    return {
        "scenario": scenario.model_dump(mode="json"),
        "scenario_source": source,
        "overrides": overrides,
        "scenario_sha256": scenario_hash(scenario),
        "seed": scenario.seed,
        "replications": scenario.replications,
        "seed_scheme": "replication r of every policy: numpy SeedSequence(seed, spawn_key=(r,)); "
        "streams per purpose (arrivals, attributes, los, discharge, initial) spawned by key",
        "warmup": warmup_info,
        "policies": [p.model_dump() for p in scenario.policies],
        "workers": workers,
        "wall_seconds": round(wall_seconds, 3),
        "versions": versions(),
        "git_commit": git_commit(),
        "command": sys.argv,
        "machine": {"platform": platform.platform(), "processor": platform.machine()},
    }


def retire_outputs(out: Path, derived: tuple[str, ...] = ()) -> None:
    """Remove the tables of an earlier run (and the files `derived` from them, a report)
    before the replications change under them, the manifest first: without it the folder
    reads as unfinished, never as a mix of runs."""
    for name in (MANIFEST, *TABLES, *derived):
        (out / name).unlink(missing_ok=True)


def write_outputs(out: Path, store: ResultStore, info: dict) -> dict[str, Path]:
    """The study's tables, gathered from every replication in the store; the manifest, which
    says they are whole, last."""
    frames = {"census.parquet": store.read("census"), "hour_of_week.parquet":
              store.read("hourly"), "events.parquet": store.read("events"),
              "solves.parquet": store.read("solves")}  # event and solver logs may be absent
    kpis = store.read("kpis").drop(columns="scenario")
    paths = {"kpis.csv": out / "kpis.csv"}
    with replacing(paths["kpis.csv"]) as partial:
        csv_safe(kpis).to_csv(partial, index=False)
    for name, frame in {"kpis.parquet": kpis, **frames}.items():
        if frame is not None:
            paths[name] = out / name
            with replacing(paths[name]) as partial:
                frame.drop(columns="scenario", errors="ignore").to_parquet(partial, index=False)
    paths[MANIFEST] = out / MANIFEST
    with replacing(paths[MANIFEST]) as partial:
        partial.write_text(json.dumps(info, indent=2, default=str))
    return paths
