"""Hostile or careless input: a scenario reads only files it may, errors never echo a
file's contents, and nothing outside the run's own files changes."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import snapshot
from test_scenario_errors import TINY
from typer.testing import CliRunner

from experiments.cli import app
from scenarios import loader

runner = CliRunner()
SECRET = "hunter2-do-not-print"


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path]:
    """A scenario folder and, beside it, a private file the scenario must not reach."""
    folder = tmp_path / "scenarios"
    folder.mkdir()
    secret = tmp_path / "private.yaml"
    secret.write_text(f"password: {SECRET}\n")
    return folder, secret


def validate(path: Path) -> tuple[int, str]:
    result = runner.invoke(app, ["validate", str(path)])
    return result.exit_code, result.output


@pytest.mark.parametrize("ref", ["{secret}", "../private.yaml", "/etc/passwd"])
def test_extends_outside_the_folder_is_refused_unread(layout, ref: str) -> None:
    folder, secret = layout
    scenario = folder / "s.yaml"
    scenario.write_text(f"extends: {ref.format(secret=secret)}\n{TINY}")
    before = snapshot(folder.parent)
    code, output = validate(scenario)
    assert code == 1
    assert f"{scenario}:1:10: extends: " in output
    assert "is outside the scenario's folder" in output and loader.ROOTS_VARIABLE in output
    assert SECRET not in output and "root:" not in output
    assert len(output.strip().splitlines()) == 1
    assert snapshot(folder.parent) == before


def test_a_symlink_out_of_the_folder_is_refused(layout) -> None:
    folder, secret = layout
    (folder / "base.yaml").symlink_to(secret)
    scenario = folder / "s.yaml"
    scenario.write_text(f"extends: base.yaml\n{TINY}")
    code, output = validate(scenario)
    assert (code, SECRET in output) == (1, False)
    assert "is outside the scenario's folder" in output


def test_allowed_roots_widen_the_reach(layout, monkeypatch) -> None:
    folder, _ = layout
    (folder.parent / "base.yaml").write_text(TINY)
    scenario = folder / "s.yaml"
    scenario.write_text("extends: ../base.yaml\nname: child\n")
    assert validate(scenario)[0] == 1
    monkeypatch.setenv(loader.ROOTS_VARIABLE, str(folder.parent))
    assert validate(scenario)[0] == 0


def test_a_file_that_is_not_a_mapping_is_described_not_echoed(layout) -> None:
    folder, _ = layout
    (folder / "notes.txt").write_text(f"{SECRET} and more text\n")
    scenario = folder / "s.yaml"
    scenario.write_text("extends: notes.txt\n")
    code, output = validate(scenario)
    assert code == 1
    assert "a scenario must be a mapping of fields (name: ..., units: ...), not a string" in output
    assert SECRET not in output


def test_los_data_resolves_from_the_scenario_folder(layout, monkeypatch, tmp_path) -> None:
    folder, _ = layout
    (folder / "stays.csv").write_text("length_of_stay\n3\n")
    scenario = folder / "s.yaml"
    scenario.write_text(TINY + "los:\n  model: linear\n  data: stays.csv\n")
    monkeypatch.chdir(tmp_path)  # another working folder: the path is the scenario's
    assert loader.load(scenario).los.data == str((folder / "stays.csv").resolve())


@pytest.mark.parametrize(("data", "message"), [
    ("missing.csv", "no such file 'missing.csv'"),
    ("../private.yaml", "is outside the scenario's folder"),
    ("/etc/passwd", "is outside the scenario's folder"),
])
def test_los_data_missing_or_outside_is_a_located_error(layout, data: str, message: str) -> None:
    folder, _ = layout
    scenario = folder / "s.yaml"
    scenario.write_text(TINY + f"los:\n  model: linear\n  data: {data}\n")
    code, output = validate(scenario)
    assert code == 1
    assert output.startswith(f"{scenario}:11:9: los.data: ") and message in output
    assert SECRET not in output


def test_los_data_given_by_the_user_is_theirs(layout, monkeypatch) -> None:
    folder, secret = layout
    monkeypatch.chdir(secret.parent)
    scenario = folder / "s.yaml"
    scenario.write_text(TINY + "los:\n  model: linear\n")
    loaded = loader.load(scenario, ["los.data=private.yaml"])
    assert loaded.los.data == str(secret.resolve())
