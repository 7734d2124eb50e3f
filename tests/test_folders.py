"""Results folders are owned: an unrelated --out is refused, a concurrent run exits at once
naming the first, a killed rerun leaves the earlier results whole, and nothing that a run
did not create is deleted."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import snapshot
from typer.testing import CliRunner

import experiments.study.run as study_run
import scenarios
from experiments.cli import REPORTS, app
from experiments.study.folder import HOLDER, LOCK, MARKER, FolderError, claim
from experiments.study.run import run_study
from experiments.study.store import FINAL, STAGING, ResultStore

runner = CliRunner()
CHEAP = ["horizon_days=7", "warmup_days=0", "replications=2", "policies=[{name: static}]"]
RUN = ["run", "baseline", "--workers", "1", *(a for o in CHEAP for a in ("--set", o))]


def cheap():
    return scenarios.load("baseline", CHEAP)


def user_folder(path: Path) -> Path:
    """A folder of someone's own files, with names a run would write."""
    (path / FINAL).mkdir(parents=True)
    (path / FINAL / "mine.txt").write_text("my notes")
    for name in ("kpis.csv", "events.parquet", "report.html", "notes.txt"):
        (path / name).write_text(f"the user's {name}")
    return path


def test_an_unrelated_folder_is_refused_and_left_alone(tmp_path: Path) -> None:
    folder = user_folder(tmp_path / "mine")
    before = snapshot(folder)
    result = runner.invoke(app, [*RUN, "--out", str(folder)])
    assert result.exit_code == 2
    assert result.output.strip() == (
        f"error: {folder} is not empty and not a hospsim results folder; choose a new or "
        "empty --out, or pass --overwrite to write hospsim's files there (replacing files of "
        "the same names, deleting nothing else)")
    assert snapshot(folder) == before


def test_overwrite_still_deletes_nothing_it_did_not_make(tmp_path: Path) -> None:
    folder = user_folder(tmp_path / "mine")
    before = snapshot(folder)
    with pytest.raises(FolderError, match="holds files that are not a hospsim run's"):
        run_study(cheap(), folder, overwrite=True)
    assert {k: v for k, v in snapshot(folder).items() if k not in (MARKER, LOCK)} == before
    (folder / FINAL / "mine.txt").unlink()
    (folder / FINAL).rmdir()
    run_study(cheap(), folder, overwrite=True)
    assert (folder / "notes.txt").read_text() == "the user's notes.txt"  # not ours: kept
    assert (folder / "kpis.csv").read_text().startswith("policy,replication")  # ours now


def test_a_symlinked_replications_folder_is_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep.txt").write_text("precious")
    out = tmp_path / "out"
    run_study(cheap(), out)
    shutil.rmtree(out / FINAL)
    (out / FINAL).symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(FolderError, match="is a symbolic link"):
        run_study(cheap(), out)
    assert snapshot(elsewhere) == {"keep.txt": b"precious"}


def test_a_second_run_exits_at_once_naming_the_first(tmp_path: Path) -> None:
    out = tmp_path / "out"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from experiments.study.folder import claim\n"
         f"with claim({str(out)!r}):\n    print('held', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        started = time.perf_counter()
        result = runner.invoke(app, [*RUN, "--out", str(out)])
        assert time.perf_counter() - started < 10
    finally:
        holder.kill()
        holder.wait()
    assert result.exit_code == 2
    line = result.output.strip()
    assert line.startswith(f"error: {out} is in use by another hospsim run (pid {holder.pid} ")
    assert line.endswith("wait for it to finish or choose another --out")
    assert not (out / FINAL).exists()
    with claim(out):  # the lock died with its holder
        assert json.loads((out / HOLDER).read_text())["pid"] != holder.pid


@pytest.mark.slow  # two reports: about 7 s
def test_a_killed_rerun_leaves_the_earlier_results_whole(tmp_path, monkeypatch) -> None:
    out = tmp_path / "out"
    run_study(cheap(), out)
    assert runner.invoke(app, ["report", str(out)]).exit_code == 0
    before = snapshot(out)

    def killed(*args, **kwargs):
        yield from []
        raise KeyboardInterrupt  # stands for a kill part-way through the replications

    monkeypatch.setattr(study_run, "run_replications", killed)
    with pytest.raises(KeyboardInterrupt):  # as `hospsim run` would, its report derived
        run_study(cheap().model_copy(update={"seed": 7}), out, derived=REPORTS)
    monkeypatch.undo()
    after = snapshot(out)
    assert any(name.startswith(STAGING) for name in after)  # the new run is staged
    assert {k: v for k, v in after.items() if not k.startswith(STAGING)} == before
    result = runner.invoke(app, ["report", str(out)])  # still one run's report
    assert result.exit_code == 0, result.output
    resumed = run_study(cheap().model_copy(update={"seed": 7}), out, resume=True,
                        derived=REPORTS)
    assert resumed.ran == 2 and not (out / STAGING).exists()
    assert not (out / "report.html").exists()  # the earlier run's, no longer its data's
    assert json.loads((out / "manifest.json").read_text())["seed"] == 7


def test_a_report_refuses_parts_of_different_runs(tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_study(cheap(), out)
    info = json.loads((out / "manifest.json").read_text())
    (out / "manifest.json").write_text(json.dumps({**info, "run": "another"}))
    before = snapshot(out)
    result = runner.invoke(app, ["report", str(out)])
    assert result.exit_code == 2
    assert result.output.strip() == (f"error: {out}: manifest.json and replications/ are of "
                                     "different runs; rerun the study to make them one")
    assert snapshot(out) == before


def test_resume_reruns_a_truncated_replication(tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_study(cheap(), out)
    store = ResultStore(out, "baseline")
    assert len(store.completed()) == 2
    first = next((out / FINAL / "kpis").rglob("replication=00000.parquet"))
    first.write_bytes(first.read_bytes()[:-10])  # cut short after it was written
    assert store.completed() == {("static", 1)}
    assert run_study(cheap(), out, resume=True).ran == 1


def test_an_unreadable_run_json_is_named_on_resume(tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_study(cheap(), out)
    (out / FINAL / "run.json").write_text('{"scenario": ')
    with pytest.raises(ValueError, match=r"run\.json is unreadable .*rerun without --resume"):
        run_study(cheap(), out, resume=True)
