"""Expected failures of every command are one line naming the file, field or value, with a
non-zero exit and no traceback, before any work, and nothing outside the run's files changes."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from conftest import snapshot
from test_scenario_errors import TINY
from typer.testing import CliRunner

import scenarios
from experiments.cli import app
from experiments.study.run import run_study

runner = CliRunner()
CHEAP = ["horizon_days=7", "warmup_days=0", "replications=2", "policies=[{name: static}]"]


def fails(tmp_path: Path, *args: str, code: int = 2) -> str:
    """Run `hospsim ARGS` expecting a one-line refusal that changes nothing in tmp_path."""
    before = snapshot(tmp_path)
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert snapshot(tmp_path) == before
    return result.output.strip()


@pytest.mark.parametrize(("policy", "message"), [
    ("milp:time_limit=abc", "policies[0].params.time_limit: Input should be a valid number "
     "(got 'abc')"),
    ("milp:time_limit=-1", "policies[0].params.time_limit: must be a finite number >= 0"),
    ("milp:time_limit=.inf", "policies[0].params.time_limit: must be a finite number >= 0"),
    ("greedy:horizon=2.5", "policies[0].params.horizon: Input should be a valid integer"),
    ("milp:threads=yes", "policies[0].params.threads: Input should be a valid integer"),
    ("milp:horizon=0", "policies[0].params: horizon must be >= 1"),
    ("milp:forecast=psychic", "policies[0].params: unknown forecast source 'psychic'"),
    ("milp:speed=3", "policies[0].params: policy 'milp' has no parameter 'speed'"),
])
def test_policy_parameter_values_are_checked_before_running(tmp_path, policy, message):
    out = tmp_path / "out"
    line = fails(tmp_path, "run", "baseline", "-p", policy, "--out", str(out))
    assert message in line and line.startswith("--set policies=")
    assert not out.exists()


def test_a_policy_value_in_a_file_is_located(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(TINY + "policies:\n  - name: milp\n    params:\n      time_limit: abc\n")
    line = fails(tmp_path, "validate", str(path), code=1)
    assert line == (f"{path}:12:19: policies[0].params.time_limit: Input should be a valid "
                    "number (got 'abc')")


def test_a_formula_label_is_refused(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(TINY + "policies:\n  - name: static\n    label: '=HYPERLINK(\"x\")'\n")
    line = fails(tmp_path, "validate", str(path), code=1)
    assert line.startswith(f"{path}:11:12: policies[0].label: must not start with =, +, -, @")


def test_an_unknown_reference_is_refused_before_simulating(tmp_path):
    out = tmp_path / "out"
    line = fails(tmp_path, "run", "baseline", "--reference", "nosuch", "--out", str(out))
    assert line.startswith("error: --reference 'nosuch' is not one of baseline, erlang")
    assert not out.exists()


@pytest.fixture
def results(tmp_path) -> Path:
    out = tmp_path / "out"
    run_study(scenarios.load("baseline", CHEAP), out)
    return out


def test_report_without_a_manifest(tmp_path):
    (tmp_path / "empty").mkdir()
    line = fails(tmp_path, "report", str(tmp_path / "empty"))
    assert line.startswith(f"error: {tmp_path / 'empty'} has no manifest.json")


@pytest.mark.parametrize(("name", "damage"), [
    ("kpis.csv", lambda p: p.write_text(p.read_text()[:40])),
    ("kpis.csv", lambda p: p.write_text("")),
    ("census.parquet", lambda p: p.write_bytes(p.read_bytes()[:100])),
    ("census.parquet", lambda p: p.unlink()),
    ("manifest.json", lambda p: p.write_text('{"scenario": ')),
    ("manifest.json", lambda p: p.write_text(json.dumps({
        k: v for k, v in json.loads(p.read_text()).items() if k != "scenario"}))),
])
def test_report_on_a_damaged_folder_is_one_line(results, tmp_path, name, damage):
    damage(results / name)
    line = fails(tmp_path, "report", str(results))
    assert line.startswith("error: ")


def test_report_with_an_unknown_reference(results, tmp_path):
    line = fails(tmp_path, "report", str(results), "--reference", "nosuch")
    assert line == "error: --reference 'nosuch' is not one of static"


@pytest.mark.parametrize(("vary", "message"), [
    ("ventilators=0:1e10:1", "1e+10 values; a sweep runs a study per value, so at most 200"),
    ("ventilators=0:inf:1", "START, STOP and STEP must be finite"),
])
def test_stress_sweeps_are_bounded(tmp_path, vary, message):
    line = fails(tmp_path, "stress", "baseline", "--vary", vary, "--until",
                 "icu_refusal_rate>0.05", "--out", str(tmp_path / "out"))
    assert message in line


@pytest.mark.parametrize("content", [b"", b"\xff\xfea\x00d\x00", b"admit\n"])
def test_plan_on_unreadable_patients(tmp_path, content):
    path = tmp_path / "patients.csv"
    path.write_bytes(content)
    line = fails(tmp_path, "plan", str(path))
    assert line.startswith(f"error: {path}")


@pytest.mark.parametrize(("content", "message"), [
    (gzip.compress(b"Length of Stay\n3\n"), "this is gzip-compressed, not UTF-8 CSV text: name "
     "it .csv.gz or decompress it"),
    ("Length of Stay\n3\n".encode("utf-16"),
     "this is UTF-16 text, not UTF-8 CSV text: save it as UTF-8 CSV"),
    (b"", "the file is empty: expected a header row"),
])
def test_unreadable_training_data_is_one_line(tmp_path, monkeypatch, content, message):
    monkeypatch.setenv("HOSPSIM_CACHE", str(tmp_path / "cache"))
    (tmp_path / "stays.csv").write_bytes(content)
    path = tmp_path / "s.yaml"
    path.write_text(TINY + "los: {model: linear, data: stays.csv}\n")
    out = tmp_path / "out"
    line = fails(tmp_path, "run", str(path), "--days", "7", "-n", "1", "--out", str(out))
    assert line == f"error: {tmp_path / 'stays.csv'}: {message}"
    assert not out.exists()


@pytest.mark.parametrize("content", [gzip.compress(b"date,admissions\n"),
                                     "date,admissions\n".encode("utf-16"), b"", b"\xff\x00\n"])
def test_unreadable_admissions_are_a_data_error(tmp_path, content):
    from forecasting.sparcs import DataError
    from forecasting.userdata import load_admissions

    (tmp_path / "a.csv").write_bytes(content)
    with pytest.raises(DataError, match=f"^{tmp_path / 'a.csv'}: "):
        load_admissions(tmp_path / "a.csv")
