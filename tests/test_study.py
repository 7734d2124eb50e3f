"""Studies keep what they finished: resume after a kill, failures reported, not fatal."""

import json
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

import experiments.study.replications as replications
import scenarios
from experiments.study.run import run_study
from experiments.study.store import STAGING

ARGS = ["horizon_days=20", "warmup_days=5", "replications=3",
        "policies=[{name: static}, {name: baseline}]"]  # the study, not the policies, under test


def scenario():
    return scenarios.load("baseline", ARGS)


@pytest.mark.slow
def test_resume_runs_only_what_is_missing_and_matches_an_uninterrupted_run(tmp_path):
    whole = run_study(scenario(), tmp_path / "whole")
    assert (whole.ran, whole.reused) == (6, 0)
    part = tmp_path / "part"
    run_study(scenario(), part)
    kpis = sorted((part / "replications" / "kpis").rglob("*.parquet"))
    for path in kpis[::2]:  # as if the run had died before these finished
        path.unlink()
    resumed = run_study(scenario(), part, resume=True)
    assert (resumed.ran, resumed.reused) == (len(kpis[::2]), 6 - len(kpis[::2]))
    pd.testing.assert_frame_equal(resumed.kpis, whole.kpis)
    pd.testing.assert_frame_equal(pd.read_parquet(part / "census.parquet"),
                                  pd.read_parquet(tmp_path / "whole" / "census.parquet"))


def test_resume_refuses_results_of_another_run(tmp_path):
    run_study(scenario(), tmp_path)
    other = scenarios.load("baseline", [*ARGS, "units.icu.beds=30"])
    with pytest.raises(ValueError, match="scenario_sha256"):
        run_study(other, tmp_path, resume=True)


@pytest.mark.slow
def test_more_replications_on_resume_reuses_the_first_ones(tmp_path):
    run_study(scenario(), tmp_path)
    more = run_study(scenarios.load("baseline", [*ARGS, "replications=4"]), tmp_path,
                     resume=True)
    assert (more.ran, more.reused) == (2, 6)
    assert len(more.kpis) == 8


@pytest.mark.slow
def test_a_failed_replication_is_reported_and_the_others_kept(tmp_path, monkeypatch):
    real = replications.simulate

    def flaky(scenario, policy, seed, **kwargs):
        if seed.spawn_key == (1,) and kwargs["policy_name"] == "baseline":
            raise RuntimeError("solver exploded")
        return real(scenario, policy, seed, **kwargs)

    monkeypatch.setattr(replications, "simulate", flaky)
    study = run_study(scenario(), tmp_path)
    assert len(study.failures) == 1
    failure = study.failures[0].record()
    assert (failure["policy"], failure["replication"], failure["seed"]) == ("baseline", 1, 2026)
    assert "solver exploded" in failure["traceback"]
    assert len(study.kpis) == 5
    saved = json.loads(next((tmp_path / "replications" / "failures").rglob("*.json")).read_text())
    assert saved["error"] == "RuntimeError: solver exploded"
    assert json.loads((tmp_path / "manifest.json").read_text())["failures"][0]["replication"] == 1
    monkeypatch.setattr(replications, "simulate", real)
    rerun = run_study(scenario(), tmp_path, resume=True)
    assert (rerun.ran, len(rerun.failures), len(rerun.kpis)) == (1, 0, 6)


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_numbers(tmp_path):
    """A real interruption: SIGKILL the CLI once some replications are on disk."""
    command = [sys.executable, "-m", "experiments.cli", "run", "baseline", "--workers", "1",
               "-n", "6", "--days", "60", "--set", "warmup_days=7", "--set", ARGS[-1]]
    killed = tmp_path / "killed"
    process = subprocess.Popen([*command, "--out", str(killed)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    kpis = killed / STAGING / "kpis"  # a fresh run is staged until it finishes
    while time.monotonic() < deadline and len(list(kpis.rglob("*.parquet"))) < 3:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    finished = len(list(kpis.rglob("*.parquet")))
    assert 3 <= finished < 12, "the kill should land mid-study"
    # a file the kill cut short is never read: it still has its temporary dot-name
    some_policy = next(kpis.glob("scenario=*/policy=*"))
    (some_policy / ".replication=00005.parquet.partial").write_bytes(b"cut short")
    resumed = subprocess.run([*command, "--out", str(killed), "--resume"], capture_output=True,
                             text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{finished} replications already done" in resumed.stdout.replace("\n", " ")
    whole = subprocess.run([*command, "--out", str(tmp_path / "whole")], capture_output=True,
                           text=True, timeout=300)
    assert whole.returncode == 0, whole.stderr
    pd.testing.assert_frame_equal(pd.read_csv(killed / "kpis.csv"),
                                  pd.read_csv(tmp_path / "whole" / "kpis.csv"))


@pytest.mark.slow
def test_dask_local_cluster_gives_the_local_pool_numbers(tmp_path):
    pytest.importorskip("dask.distributed")
    pool = run_study(scenario(), tmp_path / "pool", workers=2)
    on_dask = run_study(scenario(), tmp_path / "dask", workers=2, dask="local")
    pd.testing.assert_frame_equal(on_dask.kpis, pool.kpis)
    assert json.loads((tmp_path / "dask" / "manifest.json").read_text())["backend"] == "local"
