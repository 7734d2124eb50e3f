"""Hostile or careless input: a scenario reads only files it may, errors never echo a
file's contents, and nothing outside the run's own files changes."""

from __future__ import annotations

import json
import pickle
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


# The model cache holds data, never code


@pytest.fixture(scope="module")
def records():
    from test_los_models import make_records

    return make_records(3_000, seed=3)


def fit(records, kind: str = "linear"):
    from forecasting.los_models import LosRegressor

    return LosRegressor(kind, params={"n_estimators": 4} if kind != "linear" else None,
                        n_folds=2).fit(records)


def rewrite(directory: Path, change) -> None:
    """Change the stored files or manifest as an attacker who can write the cache would,
    hashes recomputed so that only the content checks stand."""
    from forecasting import artefacts

    manifest = json.loads((directory / artefacts.MANIFEST).read_text())
    change(directory, manifest)
    files = manifest.get("files")
    if isinstance(files, dict):
        manifest["files"] = {name: artefacts._sha256(directory / name) for name in files
                             if (directory / name).is_file()}
    (directory / artefacts.MANIFEST).write_text(json.dumps(manifest))


def test_no_code_in_the_project_unpickles():
    roots = [Path(__file__).parents[1] / p for p in ("forecasting", "experiments", "simulator",
                                                     "policies", "scenarios")]
    for path in (p for root in roots for p in root.rglob("*.py")):
        text = path.read_text()
        assert "joblib.load" not in text and "import pickle" not in text, path
        assert "allow_pickle=True" not in text, path


def test_an_old_pickled_model_is_never_unpickled(records, tmp_path, monkeypatch):
    from forecasting import artefacts

    monkeypatch.setenv("HOSPSIM_CACHE", str(tmp_path))
    key = {"data_hash": "d" * 64, "kind": "linear"}
    model = fit(records)
    stored = artefacts.save(model, tmp_path / artefacts.key_hash(key)[:24],
                            data_hash=key["data_hash"], key_parts=key)
    ran = tmp_path / "ran"
    payload = pickle.dumps(Exploit(str(ran)))

    def plant(directory, manifest):  # a format-1 artefact: model.joblib, files map emptied
        (directory / "model.joblib").write_bytes(payload)
        manifest["format"], manifest["files"] = 1, {}

    rewrite(stored, plant)
    with pytest.warns(UserWarning, match=r"rebuilding the cached model: .*format 1"):
        artefacts.cached(key, lambda: model)
    assert not ran.exists()


class Exploit:
    """Unpickling this creates a file: proof that code ran."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.touch, (Path(self.path),))


@pytest.mark.parametrize(("change", "message"), [
    (lambda d, m: m.pop("data_hash"), r"fields missing \['data_hash'\]"),
    (lambda d, m: m.update(extra=1), r"unknown \['extra'\]"),
    (lambda d, m: m.update(files={}), "files must be exactly"),
    (lambda d, m: m.update(library_versions=None), "library_versions is not a mapping"),
    (lambda d, m: (d / "model.json").write_text("[]"), "malformed"),
])
def test_a_bad_manifest_means_rebuild(records, tmp_path, change, message):
    from forecasting import artefacts

    stored = artefacts.save(fit(records), tmp_path / "m", data_hash="d" * 64)
    rewrite(stored, change)
    with pytest.raises(artefacts.ArtefactError, match=message):
        artefacts.load(stored)


def test_a_forest_whose_nodes_point_outside_is_refused(records, tmp_path):
    import numpy as np

    from forecasting import artefacts

    model = fit(records, "random_forest")
    stored = artefacts.save(model, tmp_path / "m", data_hash="d" * 64)
    np.testing.assert_allclose(artefacts.load(stored).predict(records.iloc[:50]),
                               model.predict(records.iloc[:50]), rtol=1e-12)  # trees in any order

    def corrupt(directory, manifest):
        arrays = dict(np.load(directory / artefacts.ARRAYS_FILE))
        arrays["tree0_nodes"]["left_child"][0] = 10**9  # would read far outside the table
        np.savez(directory / artefacts.ARRAYS_FILE, **arrays)

    rewrite(stored, corrupt)
    with pytest.raises(artefacts.ArtefactError, match="not a tree over the model's features"):
        artefacts.load(stored)


def test_a_tampered_cached_table_is_rebuilt(tmp_path, monkeypatch):
    import pandas as pd

    from forecasting import artefacts

    monkeypatch.setenv("HOSPSIM_CACHE", str(tmp_path))
    built = []

    def build():
        built.append(1)
        return pd.DataFrame({"model": ["linear"], "rmse": [1.0]})

    first = artefacts.cached_table("t", {"k": 1}, build)
    assert artefacts.cached_table("t", {"k": 1}, build).equals(first) and len(built) == 1
    (stored,) = (tmp_path / "t").glob("*.csv")
    stored.write_text("model,rmse\n=HYPERLINK(\"http://x\"),0.1\n")
    with pytest.warns(UserWarning, match="changed since written"):
        again = artefacts.cached_table("t", {"k": 1}, build)
    assert again.equals(first) and len(built) == 2
    (tmp_path / "t" / f"{stored.stem}.json").write_text('{"key": 1}')
    with pytest.warns(UserWarning, match=r"not \{key, sha256\}"):
        artefacts.cached_table("t", {"k": 1}, build)


# What hospsim writes for people: no formulas, no markup, no mathtext from users' text


def test_csv_cells_that_start_like_formulas_are_neutralised():
    import pandas as pd

    from experiments.files import csv_safe

    frame = pd.DataFrame({"unit": ["=HYPERLINK(\"http://x\")", "+1", "-a", "@SUM(A1)", "\tx",
                                   "\rx", "ward"], "value": [-1.5, 2, 3, 4, 5, 6, 7]})
    text = csv_safe(frame.rename(columns={"unit": "=cmd"})).to_csv(index=False)
    assert text.splitlines()[0] == "'=cmd,value"
    assert [line.split(",")[0] for line in text.splitlines()[1:4]] == [
        "\"'=HYPERLINK(\"\"http://x\"\")\"", "'+1", "'-a"]
    assert "ward,7" in text and "-1.5" in text  # plain text and numbers are left alone
    assert frame["unit"][0].startswith("=")  # the caller's frame is not changed


def test_markdown_text_is_literal():
    from experiments.report import markdown_text

    assert markdown_text("<script>alert(1)</script>") == "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert markdown_text("![x](http://e/t.png) a|b\n# *c*") == \
        "\\!\\[x\\](http://e/t.png) a\\|b # \\*c\\*"


def test_labels_reach_matplotlib_without_mathtext():
    import matplotlib.pyplot as plt

    from experiments.report import figures

    figure, ax = plt.subplots()
    ax.set_title("cost $x^{ in $ and \\frac{1")  # unbalanced: mathtext would raise
    assert "cost $x^{" in figures._svg(figure)


def test_the_report_diffs_only_against_a_base_the_scenario_may_name(tmp_path):
    """An edited manifest cannot make the report read and show another file."""
    from experiments.report.comparison import scenario_diff

    outside = tmp_path / "outside.yaml"
    outside.write_text("name: secret\n")
    folder = tmp_path / "mine"
    folder.mkdir()
    source = folder / "s.yaml"
    source.write_text("extends: ../outside.yaml\nname: s\n")
    manifest = {"scenario_source": str(source), "scenario": {"name": "s"}}
    assert scenario_diff(manifest) is None
    source.write_text("extends: baseline\nname: s\n")
    assert scenario_diff(manifest).startswith("--- baseline")
