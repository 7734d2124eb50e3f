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
A replication counts as done when its KPI file is a whole Parquet file: it is written last,
and every file is written to a temporary name and renamed, so a crash never leaves half a
file behind (and one truncated later is run again).

A fresh run works in `DIR/.replications.partial` and swaps it in for `replications/` only
when it has finished (`commit`), so a run killed half-way leaves the previous results whole
(and `--resume` finishes the staged run). `run.json` carries a run id that the tables'
manifest repeats, so `check_one_run` can tell a folder whose parts are of different runs.
"""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path
from urllib.parse import quote, unquote

import pandas as pd

from experiments.files import replacing
from experiments.study.folder import FolderError, real_folder
from simulator import SimulationResult

TABLES = ("census", "hourly", "events", "solves", "kpis")  # in order; kpis marks completion
FINAL, STAGING, REPLACED = "replications", ".replications.partial", ".replications.old"
PARQUET_MAGIC = b"PAR1"  # a Parquet file begins and ends with it


class ResultStore:
    def __init__(self, out: Path, scenario: str) -> None:
        self.out = Path(out)
        self.root = self.out / FINAL
        self.scenario = scenario
        self.run_id: str | None = None

    def _path(self, table: str, policy: str, replication: int) -> Path:
        return (self.root / table / f"scenario={quote(self.scenario, safe='')}"
                / f"policy={quote(policy, safe='')}" / f"replication={replication:05d}.parquet")

    def start(self, identity: dict, resume: bool) -> None:
        """Begin a run: resuming the same run (a staged one first), or fresh in the staging
        folder, the earlier results kept until `commit`."""
        for name in (FINAL, STAGING, REPLACED):
            if (self.out / name).is_symlink():
                real_folder(self.out / name)  # refuses it
        earlier = [(root, info) for root in (self.out / STAGING, self.out / FINAL)
                   if (info := read_run(root)) is not None] if resume else []
        for root, info in earlier:
            if _same(info, identity):
                self.root, self.run_id = root, info.get("run")
                return
        if earlier:
            root, info = earlier[-1]
            changed = sorted(k for k in identity if info.get(k) != identity[k])
            raise ValueError(
                f"cannot resume: {root} holds results of a different run "
                f"({', '.join(changed)} differ); use another --out or drop --resume"
            )
        final = self.out / FINAL
        if final.is_dir() and read_run(final) is None and any(final.iterdir()):
            raise FolderError(f"{final} holds files that are not a hospsim run's; move them "
                              "away or choose another --out (hospsim deletes only its own)")
        self.root, self.run_id = self.out / STAGING, uuid.uuid4().hex
        if self.root.exists():
            shutil.rmtree(self.root)  # a killed run's stage, never swapped in
        real_folder(self.root)
        (self.root / "run.json").write_text(json.dumps({**identity, "run": self.run_id},
                                                       indent=2))

    def commit(self) -> None:
        """Make a staged run the folder's results, in place of the earlier ones."""
        if self.root.name != STAGING:
            return
        final, replaced = self.out / FINAL, self.out / REPLACED
        if replaced.exists():
            shutil.rmtree(replaced)
        if final.exists():
            final.rename(replaced)
        self.root.rename(final)
        self.root = final
        shutil.rmtree(replaced, ignore_errors=True)

    def completed(self) -> set[tuple[str, int]]:
        folder = self.root / "kpis" / f"scenario={quote(self.scenario, safe='')}"
        return {
            (unquote(path.parent.name.removeprefix("policy=")),
             int(path.stem.removeprefix("replication=")))
            for path in folder.glob("policy=*/replication=*.parquet") if _whole(path)
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
            with replacing(path) as partial:
                frame.to_parquet(partial, index=False)

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


def read_run(root: Path) -> dict | None:
    """What `root/run.json` says the replications are of; None when there is none."""
    info = Path(root) / "run.json"
    if not info.is_file():
        return None
    try:
        found = json.loads(info.read_text())
    except (OSError, ValueError) as error:
        raise ValueError(f"{info} is unreadable ({error}); rerun without --resume") from None
    if not isinstance(found, dict):
        raise ValueError(f"{info} is not a run description; rerun without --resume")
    return found


def check_one_run(out: Path, manifest: dict) -> None:
    """Refuse a folder whose tables (`manifest`) and replications are of different runs."""
    out = Path(out)
    run = read_run(out / FINAL)
    staged = " (a newer run is staged unfinished: --resume finishes it)" if (
        out / STAGING).exists() else ""
    if run is None:
        raise FolderError(f"{out / FINAL} holds no run: the folder is incomplete{staged}")
    if manifest.get("run") != run.get("run"):
        raise FolderError(f"{out}: manifest.json and {FINAL}/ are of different runs; rerun "
                          f"the study to make them one{staged}")


def _same(info: dict, identity: dict) -> bool:
    return {k: v for k, v in info.items() if k != "run"} == identity


def _whole(path: Path) -> bool:
    """Whether a Parquet file is whole: long enough and ending with its magic bytes."""
    try:
        with path.open("rb") as file:
            file.seek(-len(PARQUET_MAGIC), 2)
            return file.read() == PARQUET_MAGIC
    except OSError:
        return False
