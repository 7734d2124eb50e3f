"""The cost table: bed-days priced by unit kind and nurse ratio, errors that name the line."""

from pathlib import Path

import pytest

import scenarios
from scenarios.loader import ScenarioError, load
from scenarios.schema import Costs, Unit
from tests.test_scenario_errors import TINY

WARD = Unit(name="ward", beds=30, nurse_ratio=5)
ICU = Unit(name="icu", kind="icu", beds=10, nurse_ratio=1)
STEP = Unit(name="step", kind="stepdown", beds=10, nurse_ratio=3)


def test_nursing_follows_the_nurse_ratio():
    costs = Costs(bed_day={"ward": 1000, "stepdown": 1200, "icu": 2000}, nurse_shift=600,
                  shifts_per_day=2, premium_factor=1.5)
    assert costs.bed_day_cost(WARD) == 1000 + 2 * 600 / 5
    assert costs.bed_day_cost(ICU) == 2000 + 2 * 600 / 1
    assert costs.bed_day_cost(STEP) == 1200 + 2 * 600 / 3
    # agency cover pays 1.5x for the nursing only
    assert costs.premium_bed_day_cost(ICU) == 2000 + 1.5 * 1200
    assert costs.premium_bed_day_cost(WARD) - costs.bed_day_cost(WARD) == 0.5 * 240


def test_without_a_nurse_shift_bed_day_is_all_in():
    costs = Costs(bed_day={"ward": 1000, "stepdown": 1200, "icu": 4000})
    assert (costs.shifts_per_day, costs.nurse_shift) == (3, None)
    assert costs.bed_day_cost(WARD) == 1000 and costs.bed_day_cost(ICU) == 4000
    assert costs.premium_bed_day_cost(ICU) == 1.5 * 4000


def test_a_bed_day_elsewhere_is_where_the_unit_overflows():
    icu = ICU.model_copy(update={"overflow_to": ["step"]})
    costs = Costs(icu_refusal=20000, overflow_patient_day=900)
    units = [WARD, icu, STEP]
    assert costs.overflow_bed_day_cost(icu, units) == costs.bed_day_cost(STEP)
    assert costs.overflow_bed_day_cost(WARD, units) == costs.bed_day_cost(WARD)  # its own kind
    assert costs.excess_day_cost(icu, units) == costs.bed_day_cost(STEP) + 20000
    assert costs.excess_day_cost(WARD, units) == costs.bed_day_cost(WARD) + 900


def test_an_icu_bed_day_is_dearer_than_a_ward_one_in_every_builtin_scenario():
    for name in scenarios.builtin_names():
        scenario = scenarios.load(name)
        kinds = {u.kind: scenario.costs.bed_day_cost(u) for u in scenario.units}
        assert kinds["icu"] > kinds["stepdown"] > kinds["ward"], name
        assert scenario.costs.icu_refusal > kinds["icu"], name  # refusing is not the cheap way


def error_lines(tmp_path: Path, costs: str, overrides: tuple[str, ...] = ()) -> list[str]:
    path = tmp_path / "s.yaml"
    path.write_text(TINY + costs)
    with pytest.raises(ScenarioError) as info:
        load(path, overrides)
    return str(info.value).replace(str(path), "s.yaml").splitlines()


def test_the_removed_single_price_names_its_replacement(tmp_path):
    (line,) = error_lines(tmp_path, "costs:\n  diversion: 100\n  staffed_bed_day: 600\n")
    assert line.startswith("s.yaml:11:20: costs.staffed_bed_day: removed: ")
    assert "bed_day: {ward: ..., stepdown: ..., icu: ...}" in line and "nurse_shift" in line
    (line,) = error_lines(tmp_path, "costs:\n  premium_bed_day: 900\n")
    assert line.startswith("s.yaml:10:20: costs.premium_bed_day: removed: ")
    assert "premium_factor" in line


def test_unknown_keys_in_the_cost_table_name_the_line(tmp_path):
    lines = error_lines(tmp_path, "costs:\n  bed_day: {ward: 1, stepdwn: 2}\n  nurse_shfit: 5\n")
    assert lines == [
        "s.yaml:10:22: costs.bed_day.stepdwn: unknown field (did you mean 'stepdown'?)",
        "s.yaml:11:3: costs.nurse_shfit: unknown field (did you mean 'nurse_shift'?)",
    ]


def test_set_overrides_reach_a_kind(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(TINY)
    scenario = load(path, ("costs.bed_day.icu=9000", "costs.nurse_shift=800"))
    assert (scenario.costs.bed_day.icu, scenario.costs.nurse_shift) == (9000, 800)
    assert scenario.costs.bed_day.ward == Costs().bed_day.ward
