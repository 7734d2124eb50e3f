"""Results on disk as each replication finishes, so a stopped study keeps what it did.

Layout (Parquet, hive-partitioned, readable by pandas or DuckDB):

    DIR/replications/run.json                      what the results are of (checked on --resume)
    DIR/replications/kpis/scenario=S/policy=P/replication=R.parquet    one row of KPIs
    DIR/replications/census/scenario=S/policy=P/replication=R.parquet  the daily census table
    DIR/replications/hourly/scenario=S/policy=P/replication=R.parquet  census by hour of week
    DIR/replications/events/scenario=S/policy=P/replication=R.parquet  with --event-log only
    DIR/replications/solves/scenario=S/policy=P/replication=R.parquet  morning solves (MILP)
    DIR/replications/failures/policy=P/replication=R.json              error, seed, traceback

`pd.read_parquet("DIR/replications/kpis")` or DuckDB's
`read_parquet('DIR/replications/kpis/**/*.parquet', hive_partitioning = true)` read them all.
A replication counts as done when its KPI file exists: it is written last, and every file is
written to a temporary name and renamed, so a crash never leaves half a file behind.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from urllib.parse import quote, unquote

import pandas as pd

from simulator import SimulationResult

TABLES = ("census", "hourly", "events", "solves", "kpis")  # in order; kpis marks completion


class ResultStore:
    def __init__(self, out: Path, scenario: str) -> None:
        self.root = Path(out) / "replications"
        self.scenario = scenario

    def _path(self, table: str, policy: str, replication: int) -> Path:
        return (self.root / table / f"scenario={quote(self.scenario, safe='')}"
                / f"policy={quote(policy, safe='')}" / f"replication={replication:05d}.parquet")

    def start(self, identity: dict, resume: bool) -> None:
        """Begin a run: fresh (earlier results removed), or resuming the same run."""
        info = self.root / "run.json"
        if resume and info.exists():
            before = json.loads(info.read_text())
            if before != identity:
                changed = sorted(k for k in identity if before.get(k) != identity[k])
                raise ValueError(
                    f"cannot resume: {self.root} holds results of a different run "
                    f"({', '.join(changed)} differ); use another --out or drop --resume"
                )
        elif self.root.exists():
            shutil.rmtree(self.root)
        self.root.mkdir(parents=True, exist_ok=True)
        info.write_text(json.dumps(identity, indent=2))

    def completed(self) -> set[tuple[str, int]]:
        folder = self.root / "kpis" / f"scenario={quote(self.scenario, safe='')}"
        return {
            (unquote(path.parent.name.removeprefix("policy=")),
             int(path.stem.removeprefix("replication=")))
            for path in folder.glob("policy=*/replication=*.parquet")
        }

    def save(self, result: SimulationResult, seed: int) -> None:
        frames = {
            "census": result.daily,
            "hourly": result.hour_of_week,
            "events": result.events,
            "solves": result.solves,
            "kpis": pd.DataFrame([{"replication": result.replication, "seed": seed,
                                   **result.kpis}]),
        }
        for table in TABLES:
            frame = frames[table]
            if frame is None:
                continue
            if table != "kpis":
                frame = frame.assign(replication=result.replication)
            path = self._path(table, result.policy, result.replication)
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(f".{path.name}.partial")  # readers skip dot-files
            frame.to_parquet(partial, index=False)
            partial.replace(path)

    def save_failure(self, policy: str, replication: int, record: dict) -> None:
        path = self.root / "failures" / f"policy={quote(policy, safe='')}"
        path.mkdir(parents=True, exist_ok=True)
        (path / f"replication={replication:05d}.json").write_text(json.dumps(record, indent=2))

    def read(self, table: str) -> pd.DataFrame | None:
        """Every replication of one table, with `scenario` and `policy` columns."""
        folder = self.root / table
        if not any(folder.glob("*/*/*.parquet")):
            return None
        frame = pd.read_parquet(folder)
        for column in ("scenario", "policy"):
            frame[column] = frame[column].astype(str)
        first = ["scenario", "policy", "replication"]
        frame = frame[first + [c for c in frame.columns if c not in first]]
        return frame.sort_values(first, kind="stable", ignore_index=True)
