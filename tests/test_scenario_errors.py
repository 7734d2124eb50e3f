"""Scenario errors point at FILE:LINE:COL and the field path, for every kind of mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from scenarios import loader
from scenarios.loader import ScenarioError, load, load_text, resolve
from scenarios.schema import Scenario

TINY = """\
name: tiny
units:
  - name: ward
    beds: 10
    specialties: ["*"]
arrivals:
  - name: emergency
    daily_rate: 2
"""

# A base with three units, so a child overriding `icu` addresses units[1] in the merged list.
BASE = """\
name: base
horizon_days: 60
units:
  - name: ward
    beds: 10
    specialties: ["*"]
  - name: icu
    kind: icu
    beds: 4
  - name: step
    kind: stepdown
    beds: 6
arrivals:
  - name: emergency
    daily_rate: 2
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text)
    return path


def errors(source: str | Path, overrides: tuple[str, ...] = ()) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        load(source, overrides)
    assert len(info.value.problems) == len(str(info.value).splitlines())
    return str(info.value).splitlines()


def only_error(source: str | Path, overrides: tuple[str, ...] = ()) -> str:
    (line,) = errors(source, overrides)
    return line


def test_unknown_top_level_key_lists_valid_fields(tmp_path: Path) -> None:
    path = write(tmp_path, "s.yaml", TINY + "colour: blue\n")
    line = only_error(path)
    assert line.startswith(f"{path}:9:1: colour: unknown field; valid fields: name, description, ")
    assert "units" in line and "extends" in line


def test_unknown_top_level_key_suggests_close_match(tmp_path: Path) -> None:
    path = write(tmp_path, "s.yaml", "horizon: 30\n" + TINY)
    assert only_error(path) == f"{path}:1:1: horizon: unknown field (did you mean 'horizon_days'?)"


def test_unknown_nested_key_points_at_key(tmp_path: Path) -> None:
    text = TINY.replace("arrivals:", "  - name: icu\n    kind: icu\n    bedz: 4\narrivals:")
    path = write(tmp_path, "s.yaml", text)
    lines = errors(path)
    assert f"{path}:8:5: units[1].bedz: unknown field (did you mean 'beds'?)" in lines
    assert f"{path}:6:5: units[1]: missing required field 'beds'" in lines


def test_negative_beds_points_at_value(tmp_path: Path) -> None:
    path = write(tmp_path, "s.yaml", TINY.replace("beds: 10", "beds: -3"))
    assert only_error(path) == (
        f"{path}:4:11: units[0].beds: Input should be greater than or equal to 0"
    )


def test_probability_above_one(tmp_path: Path) -> None:
    text = TINY + "case_mix:\n  icu_probability:\n    major: 1.5\n"
    path = write(tmp_path, "s.yaml", text)
    assert only_error(path) == (
        f"{path}:11:12: case_mix.icu_probability.major: Input should be less than or equal to 1"
    )


def test_shares_not_summing_to_one_point_at_the_mapping(tmp_path: Path) -> None:
    text = TINY + "case_mix:\n  severity:\n    minor: 0.5\n    major: 0.2\n"
    path = write(tmp_path, "s.yaml", text)
    assert only_error(path) == (
        f"{path}:11:5: case_mix.severity: shares must sum to 1 (they sum to 0.7)"
    )


def test_unknown_severity_key(tmp_path: Path) -> None:
    text = TINY + "case_mix:\n  icu_probability: {major: 0.5, critical: 0.9}\n"
    path = write(tmp_path, "s.yaml", text)
    line = only_error(path)
    assert line.startswith(f"{path}:10:20: case_mix.icu_probability: unknown key 'critical'; ")


def test_staffed_above_beds_points_at_the_unit(tmp_path: Path) -> None:
    path = write(tmp_path, "s.yaml", TINY.replace("beds: 10", "beds: 10\n    staffed: 12"))
    assert only_error(path) == f"{path}:3:5: units[0]: staffed (12) exceeds physical beds (10)"


def test_overflow_to_unknown_unit_points_at_the_list_item(tmp_path: Path) -> None:
    text = TINY.replace('["*"]', '["*"]\n    overflow_to:\n      - ward\n      - icuu')
    path = write(tmp_path, "s.yaml", text)
    assert only_error(path) == f"{path}:8:9: units[0].overflow_to[1]: no unit named 'icuu'"


def test_missing_required_field_points_at_the_enclosing_mapping(tmp_path: Path) -> None:
    path = write(tmp_path, "s.yaml", TINY.replace("    beds: 10\n", ""))
    assert only_error(path) == f"{path}:3:5: units[0]: missing required field 'beds'"


def test_missing_top_level_field(tmp_path: Path) -> None:
    path = write(tmp_path, "s.yaml", "# a comment\n" + TINY.split("arrivals:")[0])
    assert only_error(path) == f"{path}:2:1: missing required field 'arrivals'"


def test_yaml_syntax_error(tmp_path: Path) -> None:
    path = write(tmp_path, "s.yaml", TINY.replace("    beds: 10\n", "    beds: 10\n     x: 3\n"))
    assert only_error(path) == f"{path}:5:7: mapping values are not allowed here"


def test_duplicate_key(tmp_path: Path) -> None:
    path = write(tmp_path, "s.yaml", TINY.replace("    beds: 10\n", "    beds: 10\n    beds: 9\n"))
    assert only_error(path) == f"{path}:5:5: units[0].beds: duplicate key"


def test_wrong_type(tmp_path: Path) -> None:
    path = write(tmp_path, "s.yaml", TINY + "horizon_days: many\n")
    line = only_error(path)
    assert line.startswith(f"{path}:9:15: horizon_days: Input should be a valid integer")


def test_union_tags_are_stripped_from_the_path(tmp_path: Path) -> None:
    path = write(tmp_path, "s.yaml", TINY + "warmup_days: -1\n")
    lines = errors(path)
    assert lines[0] == f"{path}:9:14: warmup_days: Input should be greater than or equal to 0"
    assert lines[1] == f"{path}:9:14: warmup_days: Input should be 'auto'"


def test_top_level_not_a_mapping(tmp_path: Path) -> None:
    path = write(tmp_path, "s.yaml", "# units\n- ward\n- icu\n")
    assert only_error(path).startswith(f"{path}:1:1: a scenario must be a mapping")


def test_missing_file_lists_builtins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    library = tmp_path / "library"
    library.mkdir()
    write(library, "tiny.yaml", TINY)
    write(library, "alpha.yaml", TINY)
    monkeypatch.setattr(loader, "LIBRARY", library)
    assert loader.builtin_names() == ["alpha", "tiny"]
    missing = tmp_path / "nope.yaml"
    assert only_error(missing) == (
        f"{missing}:1:1: no file or built-in scenario '{missing}' (built-ins: alpha, tiny)"
    )


def test_many_errors_reported_together_in_line_order(tmp_path: Path) -> None:
    text = """\
name: tiny
horizon_days: 0
units:
  - name: ward
    beds: -1
    specialtiez: ["*"]
arrivals:
  - name: emergency
    daily_rate: -2
"""
    path = write(tmp_path, "s.yaml", text)
    assert errors(path) == [
        f"{path}:2:15: horizon_days: Input should be greater than or equal to 1",
        f"{path}:5:11: units[0].beds: Input should be greater than or equal to 0",
        f"{path}:6:5: units[0].specialtiez: unknown field (did you mean 'specialties'?)",
        f"{path}:9:17: arrivals[0].daily_rate: Input should be greater than or equal to 0",
    ]


def test_load_text_names_the_source() -> None:
    with pytest.raises(ScenarioError) as info:
        load_text(TINY + "seed: -1\n", filename="inline.yaml")
    assert str(info.value) == "inline.yaml:9:7: seed: Input should be greater than or equal to 0"


# extends


def test_extends_builtin_with_bad_child_value_reports_child(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    library = tmp_path / "library"
    library.mkdir()
    write(library, "base.yaml", BASE)
    monkeypatch.setattr(loader, "LIBRARY", library)
    child = write(tmp_path, "child.yaml", "extends: base\nunits:\n  - name: icu\n    beds: -2\n")
    assert only_error(child) == (
        f"{child}:4:11: units[1].beds: Input should be greater than or equal to 0"
    )


def test_extends_value_from_base_reports_base(tmp_path: Path) -> None:
    base = write(tmp_path, "base.yaml", BASE.replace("horizon_days: 60", "horizon_days: 0"))
    child = write(tmp_path, "child.yaml", "extends: base.yaml\nname: child\n")
    assert only_error(child) == (
        f"{base}:2:15: horizon_days: Input should be greater than or equal to 1"
    )


def test_extends_cycle(tmp_path: Path) -> None:
    first = write(tmp_path, "a.yaml", "extends: b.yaml\nname: a\n")
    second = write(tmp_path, "b.yaml", "name: b\nextends: a.yaml\n")
    line = only_error(first)
    assert line.startswith(f"{second}:2:10: extends: extends cycle: {first} -> {second} -> ")


def test_extends_missing_base(tmp_path: Path) -> None:
    child = write(tmp_path, "child.yaml", "name: c\nextends: nothere.yaml\n")
    assert only_error(child).startswith(
        f"{child}:2:10: extends: no file or built-in scenario 'nothere.yaml' (built-ins: "
    )


def test_good_extends_and_overrides_merge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(loader.ROOTS_VARIABLE, str(tmp_path))  # the base is outside sub/
    write(tmp_path, "base.yaml", BASE)
    sub = tmp_path / "sub"
    sub.mkdir()
    child_text = """\
extends: ../base.yaml
name: child
units:
  - name: icu
    staffed: 3
  - name: paeds
    beds: 5
    specialties: ["*"]
    age_groups: ["0 to 17"]
case_mix:
  icu_probability: {major: 0.1}
"""
    child = write(sub, "child.yaml", child_text)
    overrides = ("units.icu.beds=8", "arrivals.emergency.daily_rate=0.5", "units.0.beds=12")
    scenario = load(child, overrides)
    assert scenario.name == "child"
    assert scenario.horizon_days == 60
    assert [u.name for u in scenario.units] == ["ward", "icu", "step", "paeds"]
    icu = scenario.unit("icu")
    assert (icu.kind, icu.beds, icu.staffed) == ("icu", 8, 3)
    assert scenario.unit("ward").beds == 12
    assert scenario.arrivals[0].daily_rate == 0.5
    assert scenario.case_mix.icu_probability == {"major": 0.1}

    raw = resolve(child, overrides)
    assert "extends" not in raw
    assert raw["units"][1] == {"name": "icu", "kind": "icu", "beds": 8, "staffed": 3}
    assert Scenario.model_validate(raw) == scenario


# --set overrides


def test_override_bad_value_points_at_the_override(tmp_path: Path) -> None:
    path = write(tmp_path, "base.yaml", BASE)
    assert only_error(path, ("horizon_days=90", "units.icu.beds=-3")) == (
        "--set units.icu.beds=-3:2:1: units[1].beds: Input should be greater than or equal to 0"
    )


def test_override_no_such_item(tmp_path: Path) -> None:
    path = write(tmp_path, "base.yaml", BASE)
    assert only_error(path, ("units.icuu.beds=3",)) == (
        "--set units.icuu.beds=3:1:7: units: no item named 'icuu' (did you mean 'icu'?)"
    )


def test_override_malformed(tmp_path: Path) -> None:
    path = write(tmp_path, "base.yaml", BASE)
    assert errors(path, ("units.icu.beds", "units..beds=3", "name.x=1", "seed=[1,")) == [
        "--set units.icu.beds:1:1: expected PATH=VALUE, e.g. units.icu.beds=30",
        "--set units..beds=3:2:7: empty step in PATH (expected e.g. units.icu.beds)",
        "--set name.x=1:3:6: name: is a str, not a mapping or list",
        "--set seed=[1,:4:9: bad value: expected the node content, but found '<stream end>'",
    ]


def test_override_creates_missing_mappings(tmp_path: Path) -> None:
    path = write(tmp_path, "base.yaml", BASE)
    scenario = load(path, ("initial.census.icu=2", "units.step.specialties=[cardio, '*']"))
    assert scenario.initial is not None and scenario.initial.census == {"icu": 2}
    assert scenario.unit("step").specialties == ["cardio", "*"]


def test_extends_replaces_the_policies_to_compare(tmp_path):
    """Units and streams merge by name; the policies a child lists are the set it compares
    (several may share a name, told apart by label)."""
    child = tmp_path / "child.yaml"
    child.write_text(
        "extends: baseline\nname: child\npolicies:\n"
        "  - {name: milp, label: milp+historical, params: {forecast: historical}}\n"
        "  - {name: milp, label: milp+perfect, params: {forecast: perfect}}\n"
    )
    scenario = load(child)
    assert [p.key for p in scenario.policies] == ["milp+historical", "milp+perfect"]
    assert len(scenario.units) == 7  # still merged with the base
