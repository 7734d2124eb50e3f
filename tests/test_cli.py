"""`hospsim` end to end: files written, overrides applied, errors reported, seeds honoured."""

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

import scenarios
from experiments.cli import app
from policies import make_policy
from simulator import simulate

runner = CliRunner()
SHORT = ["--days", "21", "--set", "warmup_days=7"]


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


@pytest.mark.slow
def test_run_writes_kpis_census_and_manifest(tmp_path):
    result = invoke("run", "baseline", "-n", "2", "--workers", "1", "--out", str(tmp_path), *SHORT)
    assert result.exit_code == 0, result.output
    kpis = pd.read_csv(tmp_path / "kpis.csv")
    assert list(kpis.columns[:3]) == ["policy", "replication", "seed"]
    assert len(kpis) == 6 * 2  # the default comparison x 2 replications
    assert list(kpis["policy"].unique()) == [
        "baseline", "erlang", "greedy+historical", "greedy+ml", "milp+ml", "oracle"]
    assert {"idle_pct", "overflow", "cost_total", "time_to_bed_p90_h"} <= set(kpis.columns)
    assert pd.read_parquet(tmp_path / "kpis.parquet").shape == kpis.shape
    census = pd.read_parquet(tmp_path / "census.parquet")
    assert set(census["unit"]) >= {"medicine", "icu", "ventilators"}
    assert census["day"].max() == 7 + 21 - 1
    info = json.loads((tmp_path / "manifest.json").read_text())
    assert info["scenario"]["horizon_days"] == 21
    assert len(info["scenario_sha256"]) == 64
    assert info["versions"]["simpy"]
    assert "95% CI" in result.output


@pytest.mark.slow
def test_set_override_reaches_the_simulation(tmp_path):
    result = invoke("run", "baseline", "-n", "1", "--workers", "1", "--out", str(tmp_path),
                    *SHORT, "--set", "units.icu.beds=30", "--set", "units.icu.staffed=30")
    assert result.exit_code == 0, result.output
    info = json.loads((tmp_path / "manifest.json").read_text())
    icu = next(u for u in info["scenario"]["units"] if u["name"] == "icu")
    assert (icu["beds"], icu["staffed"]) == (30, 30)


def test_bad_override_is_reported_with_its_field(tmp_path):
    result = runner.invoke(app, ["run", "baseline", "--out", str(tmp_path),
                                 "--set", "units.icu.beds=-3"])
    assert result.exit_code == 2
    assert "units[5].beds" in result.output
    assert not (tmp_path / "kpis.csv").exists()


@pytest.mark.slow
def test_same_seed_same_numbers_whatever_the_worker_count(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    for out, workers in ((one, "1"), (two, "2")):
        result = invoke("run", "baseline", "-n", "2", "--workers", workers, "--out", str(out),
                        *SHORT)
        assert result.exit_code == 0, result.output
    pd.testing.assert_frame_equal(pd.read_csv(one / "kpis.csv"), pd.read_csv(two / "kpis.csv"))


def test_replication_is_reproducible_from_the_manifest_seed_scheme():
    import numpy as np

    sc = scenarios.load("baseline", ["horizon_days=14", "warmup_days=0"])
    seed = np.random.SeedSequence(sc.seed, spawn_key=(1,))
    first = simulate(sc, make_policy("static"), seed).kpis
    again = simulate(sc, make_policy("static"), np.random.SeedSequence(sc.seed, spawn_key=(1,)))
    assert first == again.kpis


def test_validate_reports_file_line_and_field(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("extends: baseline\nname: bad\nventilators: -1\n")
    result = runner.invoke(app, ["validate", "baseline", str(bad)])
    assert result.exit_code == 1
    assert "baseline: ok" in result.output
    assert f"{bad}:3:14: ventilators:" in result.output


def test_schema_is_json_schema_with_extends():
    result = invoke("schema")
    document = json.loads(result.output)
    assert "units" in document["properties"] and "extends" in document["properties"]


@pytest.mark.parametrize("name", scenarios.builtin_names())
def test_every_builtin_scenario_validates_and_runs(name):
    sc = scenarios.load(name, ["horizon_days=30", "warmup_days=0"])
    result = simulate(sc, make_policy("baseline"), 1)
    assert result.kpis["arrivals"] > 0
    assert result.kpis["discharges"] > 0


def test_unknown_policy_lists_the_valid_ones():
    valid = "baseline, erlang, greedy, milp, oracle, static"
    with pytest.raises(ValueError, match=f"available: {valid}"):
        make_policy("greedyy")
    with pytest.raises(ValueError, match="its parameters: weeks, headroom, min_weeks"):
        make_policy("baseline", {"weekz": 3})


@pytest.mark.slow
def test_compare_runs_the_policies_given(tmp_path):
    greedy = "greedy:forecast=perfect,quantile=0.8"
    result = invoke("compare", "baseline", "-p", "static", "-p", greedy, "-n", "2",
                    "--workers", "1", "--out", str(tmp_path), *SHORT)
    assert result.exit_code == 0, result.output
    kpis = pd.read_csv(tmp_path / "kpis.csv")
    assert set(kpis["policy"]) == {"static", greedy}
    assert "Each policy against static" in (tmp_path / "report.html").read_text()
    printed = " ".join(result.output.split())  # the console wraps lines
    assert "Service levels: mean (95% CI) against the target" in printed
    assert f"{greedy} knows the future: a bound, never named best." in printed
    bad = runner.invoke(app, ["compare", "baseline", "-p", "greedy:quantile"])
    assert bad.exit_code == 2 and "expected NAME[:KEY=VALUE,...]" in bad.output
