"""Bounded work: sizes beyond the limits (with their unit, reason and how to raise them)
are refused at the line that asks for them, in well under a second, before any run."""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path

import pytest
from conftest import snapshot
from test_scenario_errors import TINY
from typer.testing import CliRunner

import scenarios
from experiments.cli import app
from scenarios import limits

runner = CliRunner()


def refused(tmp_path: Path, text: str, *args: str) -> str:
    """`hospsim validate` of a scenario `text`: exit 1, one line, nothing else written."""
    path = tmp_path / "s.yaml"
    path.write_text(text)
    before = snapshot(tmp_path)
    started = time.perf_counter()
    result = runner.invoke(app, ["validate", str(path), *args])
    assert time.perf_counter() - started < 5
    assert result.exit_code == 1, result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert snapshot(tmp_path) == before
    return result.output.strip().removeprefix(f"{path}:")


@pytest.mark.parametrize(("edit", "expected"), [
    ("    daily_rate: 2", "    daily_rate: .inf"),
    ("    daily_rate: 2", "    daily_rate: .nan"),
])
def test_rates_are_finite(tmp_path, edit, expected):
    line = refused(tmp_path, TINY.replace(edit, expected))
    assert line == "8:17: arrivals[0].daily_rate: Input should be a finite number"


@pytest.mark.parametrize(("text", "where", "name", "value", "message"), [
    (TINY.replace("daily_rate: 2", "daily_rate: 1.0e9"), "8:17: arrivals[0].daily_rate",
     "daily_rate", "1000000000", "admissions a day in a stream is more than the limit of 10000"),
    (TINY + "horizon_days: 10000000\n", "9:15: horizon_days", "horizon_days", "10000000",
     "days is more than the limit of 3650"),
    (TINY.replace("beds: 10", "beds: 1.0e+12"), "4:11: units[0].beds", "beds",
     "1000000000000", "beds in a unit is more than the limit of 10000"),
    (TINY + "replications: 1000000\n", "9:15: replications", "replications", "1000000",
     "replications is more than the limit of 10000"),
    (TINY + "ventilators: 100000\n", "9:14: ventilators", "ventilators", "100000",
     "ventilators is more than the limit of 10000"),
])
def test_sizes_beyond_the_limits(tmp_path, text, where, name, value, message):
    line = refused(tmp_path, text)
    assert line.startswith(f"{where}: {value} {message} (")
    assert line.endswith(f"); if you mean it, raise it: {limits.VARIABLE}={name}={value}")


def test_a_limit_can_be_raised_for_one_command(tmp_path, monkeypatch):
    text = TINY + "horizon_days: 5000\n"
    assert "raise it: HOSPSIM_LIMITS=horizon_days=5000" in refused(tmp_path, text)
    monkeypatch.setenv(limits.VARIABLE, "horizon_days=5000")
    assert scenarios.load_text(text).horizon_days == 5000
    monkeypatch.setenv(limits.VARIABLE, "horizon=5000")
    with pytest.raises(ValueError, match="HOSPSIM_LIMITS: no limit named 'horizon'"):
        limits.most("beds")
    result = runner.invoke(app, ["run", "baseline", "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and result.output.startswith(
        "error: HOSPSIM_LIMITS: no limit named 'horizon'; limits: beds, agency_beds")


def test_too_many_units_are_refused_before_each_is_validated(tmp_path):
    units = "".join(f"  - {{name: u{i}, beds: 1, specialties: ['*']}}\n" for i in range(600))
    line = refused(tmp_path, f"name: big\nunits:\n{units}arrivals: [{{name: e, daily_rate: 1}}]\n")
    assert line.startswith("3:3: units: 600 units is more than the limit of 500")


def test_many_units_validate_in_linear_time():
    units = [{"name": f"u{i}", "beds": 1, "specialties": ["*"]} for i in range(500)]
    started = time.perf_counter()
    scenario = scenarios.Scenario.model_validate({"name": "big", "units": units, "arrivals": [
        {"name": "e", "daily_rate": 1}]})
    assert len(scenario.units) == 500 and time.perf_counter() - started < 2


def test_an_alias_bomb_is_stopped(tmp_path):
    levels = "abcdefghi"
    bomb = "a: &a [1,1,1,1,1,1,1,1,1]\n" + "".join(
        f"{child}: &{child} [{','.join(['*' + parent] * 9)}]\n"
        for parent, child in itertools.pairwise(levels))
    line = refused(tmp_path, bomb)
    assert "200001 values once aliases are expanded is more than the limit of 200000" in line


@pytest.mark.parametrize("depth", [40, 5000])
def test_deep_nesting_is_refused(tmp_path, depth):
    line = refused(tmp_path, "x: " + "[" * depth + "]" * depth + "\n")
    assert "31 levels of nesting is more than the limit of 30" in line


def test_a_huge_file_is_not_read(tmp_path):
    line = refused(tmp_path, "# " + "x" * 1_000_000 + "\n" + TINY)
    assert line.startswith("1:1: ") and "bytes in a scenario file is more than the limit" in line


def test_a_long_extends_chain_is_refused(tmp_path):
    for i in range(1, 25):
        (tmp_path / f"c{i}.yaml").write_text(f"extends: c{i + 1}.yaml\n" if i < 24 else TINY)
    line = refused(tmp_path, "extends: c1.yaml\n")
    assert "21 files in an extends chain is more than the limit of 20" in line


def test_a_huge_run_asks_for_yes(tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", "baseline", "--days", "3650", "-n", "100",
                                 "--out", str(out)])
    assert result.exit_code == 2
    assert result.output.strip() == ("error: this run simulates about 126 million patient "
                                     "stays (the largest built-in study: 5 million); pass "
                                     "--yes to run it")
    assert not out.exists()


def test_the_json_schema_states_the_limits(monkeypatch):
    monkeypatch.setenv(limits.VARIABLE, "beds=20000")
    result = runner.invoke(app, ["schema"])
    document = json.loads(result.output)
    assert document["x-limits"]["beds"] == {
        "most": 20000, "unit": "beds in a unit",
        "reason": "the largest hospitals have about 5,000 in all"}
    assert set(document["x-limits"]) == set(limits.LIMITS)
