"""The oracle gap bridge on a synthetic kpis table: steps found by name and params, parts
that add up, paired CIs, and the summary's sentence."""

import numpy as np
import pandas as pd
import pytest

import scenarios
from experiments.report import figures
from experiments.report.bridge import bridge, bridge_sentence, bridge_steps
from experiments.report.comparison import bridge_section, number

# mean total cost of each policy; replication r adds the same shock to every policy (CRN)
# plus a small policy-specific wobble that averages to zero
COST = {"baseline": 900.0, "milp+historical": 1000.0, "milp+ml": 950.0, "milp+perfect": 900.0,
        "milp+perfect_los": 930.0, "milp+perfect_both": 870.0, "oracle": 800.0}
SHOCK = np.array([-300.0, 100.0, 0.0, 250.0, -50.0])
WOBBLE = np.array([1.0, -1.0, 2.0, -2.0, 0.0])


def kpis_table(policies=COST) -> pd.DataFrame:
    rows = []
    for k, (policy, cost) in enumerate(policies.items()):
        for r, shock in enumerate(SHOCK):
            wobble = (-1) ** k * WOBBLE[r]
            rows.append({"policy": policy, "replication": r, "seed": r,
                         "cost_total": cost + shock + wobble,
                         "icu_refusals": 10 - k + (r % 2),
                         "staffed_bed_days": 500.0 + k, "occupied_bed_days": 400.0 + r})
    return pd.DataFrame(rows)


def scenario(policies: str | None = None):
    return scenarios.load("policy_comparison", [f"policies={policies}"] if policies else [])


def parts_by_key(result):
    return {p["key"]: p["kpis"] for p in result["parts"]}


def test_full_grid_splits_the_gap_into_parts_that_add_up():
    result = bridge(kpis_table(), scenario())
    assert [s["policy"] for s in result["steps"]] == [
        "milp+historical", "milp+ml", "milp+perfect", "milp+perfect_los", "milp+perfect_both",
        "oracle"]
    parts = parts_by_key(result)
    assert list(parts) == ["forecasts", "arrivals", "los", "interaction", "policy"]
    cost = {k: v["cost_total"]["mean"] for k, v in parts.items()}
    assert cost["forecasts"] == pytest.approx(-50)
    assert cost["arrivals"] == pytest.approx(-50)
    assert cost["los"] == pytest.approx(-20)
    assert cost["interaction"] == pytest.approx(870 - 900 - 930 + 950)
    assert cost["policy"] == pytest.approx(-70)
    assert sum(cost.values()) == pytest.approx(800 - 1000)  # historical to the oracle
    gap = result["gap"]["cost_total"]
    assert gap["mean"] == pytest.approx(-150)
    assert cost["arrivals"] + cost["los"] + cost["interaction"] + cost["policy"] \
        == pytest.approx(gap["mean"])
    # paired: the shared shock (sd ~ 200) cancels, leaving the wobble's few units
    assert gap["ci_high"] - gap["ci_low"] < 20 and gap["significant"]
    assert result["largest"] == "policy"
    assert {"icu_refusals", "idle_bed_days"} <= set(parts["arrivals"])
    assert parts["arrivals"]["idle_bed_days"]["mean"] == pytest.approx(1)  # one more staffed
    assert result["n"] == len(SHOCK)


def test_without_both_perfect_the_policy_part_is_the_rest_of_the_gap():
    table = kpis_table({k: v for k, v in COST.items() if k != "milp+perfect_both"})
    result = bridge(table, scenario())
    parts = parts_by_key(result)
    assert "interaction" not in parts and "policy" not in parts
    assert parts["rest"]["cost_total"]["mean"] == pytest.approx(-150 + 50 + 20)
    sentence = bridge_sentence(result, number)
    assert sentence.startswith("The oracle gap: milp+ml to the oracle changes total cost by −150")
    assert "the largest part is policy and the rest" in sentence
    assert "perfect arrivals −50.0 (95% CI" in sentence


def test_steps_are_recognised_by_params_not_labels():
    specs = scenario(
        "[{name: milp, label: a, params: {forecast: perfect}},"
        " {name: milp, label: b, params: {forecast: ml, los_forecast: predicted}},"
        " {name: milp, label: c, params: {forecast: historical}},"  # predicted LOS: no step
        " {name: milp, label: d, params: {forecast: ml, los_forecast: perfect, horizon: 3}},"
        " {name: greedy, label: e, params: {forecast: ml}}, {name: oracle, label: f}]"
    ).policies
    found = bridge_steps(list(specs), {"a", "b", "c", "d", "e", "f"})
    # d differs from the first MILP variant in more than its sources: not a step
    assert found == {"ml": "b", "arr": "a", "oracle": "f"}
    assert bridge_steps(list(specs), {"a", "c"}) == {"arr": "a"}


def test_fewer_than_two_steps_is_no_bridge_and_no_section():
    table = kpis_table({"baseline": 1.0, "milp+ml": 2.0})
    result = bridge(table, scenario())
    assert result is None
    assert bridge_section(result) is None and bridge_sentence(result, number) is None


def test_without_milp_ml_the_bridge_is_consecutive_steps():
    table = kpis_table({"milp+historical": 1000.0, "milp+perfect": 900.0, "oracle": 800.0})
    result = bridge(table, scenario())
    cost = {k: v["cost_total"]["mean"] for k, v in parts_by_key(result).items()}
    assert cost == pytest.approx({"hist->arr": -100, "arr->oracle": -100})
    assert result["gap"] is None and bridge_sentence(result, number) is None


def test_section_has_a_waterfall_and_a_row_per_part_and_the_gap():
    result = bridge(kpis_table(), scenario())
    section = bridge_section(result)
    assert section["figure"].startswith("<svg")
    assert [r["title"] for r in section["rows"]][-1] == "gap: milp+ml to the oracle"
    assert len(section["rows"]) == len(result["parts"]) + 1
    assert section["columns"][0].startswith("Total cost")
    assert figures.waterfall(result).count("<svg") == 1
