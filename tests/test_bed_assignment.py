"""The offline bed planner: exactness of both methods, bed feasibility, replay, CSV errors, CLI."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from experiments.cli.plan import app, plan
from policies import bed_assignment
from policies.bed_assignment import (
    PatientsError,
    draw_true_los,
    generate_patients,
    plan_beds,
    read_patients,
    replay,
    serve_latest_out,
)


def max_overlap(start: np.ndarray, end: np.ndarray) -> int:
    """Peak census of half-open stays, by brute force at every admission."""
    return max((((start <= t) & (end > t)).sum() for t in start), default=0)


def assert_no_overlap(assignment: pd.DataFrame) -> None:
    for _, stays in assignment[assignment["bed"] != ""].groupby("bed"):
        stays = stays.sort_values("admit")
        assert (stays["admit"].to_numpy()[1:] >= stays["end"].to_numpy()[:-1]).all()


stays = st.lists(
    st.tuples(st.integers(0, 40), st.integers(1, 12)), min_size=1, max_size=25
).map(lambda rows: pd.DataFrame(rows, columns=["admit", "predicted_los"]).astype(float))


@pytest.mark.slow
@settings(max_examples=25, deadline=None)
@given(stays)
def test_unlimited_beds_both_methods_reach_the_peak(patients):
    start = patients["admit"].to_numpy()
    peak = max_overlap(start, start + patients["predicted_los"].to_numpy())
    for method in ("greedy", "milp"):
        result = plan_beds(patients, method=method)
        assert (result.beds_used, result.overflow, result.status) == (peak, 0, "optimal")
        assert_no_overlap(result.assignment)


@pytest.mark.slow
@settings(max_examples=25, deadline=None)
@given(stays, st.integers(0, 6))
def test_capped_identical_beds_greedy_serves_the_milp_optimum(patients, beds):
    greedy = plan_beds(patients, beds, "greedy")
    milp = plan_beds(patients, beds, "milp")
    assert milp.status == "optimal"
    assert greedy.overflow == milp.overflow
    assert greedy.beds_used <= beds and milp.beds_used <= beds
    assert_no_overlap(greedy.assignment)
    assert_no_overlap(milp.assignment)


def test_overflowing_the_arriving_patient_is_not_optimal():
    # one bed; a long stay then two short ones inside it: drop the long one, serve two
    start, end = np.array([0.0, 1.0, 3.0]), np.array([10.0, 2.0, 4.0])
    assert serve_latest_out(start, end, 1).tolist() == [False, True, True]


@pytest.mark.parametrize("seed", range(4))
def test_milp_never_worse_than_greedy_with_units_and_sexes(seed):
    patients = generate_patients(60, seed=seed, days=15, mix=True)
    uncapped = plan_beds(patients, method="greedy").beds_used
    for beds in (None, uncapped * 2 // 3):
        greedy = plan_beds(patients, beds, "greedy")
        milp = plan_beds(patients, beds, "milp")
        assert milp.status == "optimal" and milp.gap == 0.0
        assert milp.objective <= greedy.objective + 1e-9
        assert_no_overlap(milp.assignment)
        a = milp.assignment.merge(patients, on="id")
        placed = a[a["bed"] != ""]
        home = placed["unit_x"] == placed["unit_y"]
        allowed = np.array([u in alts for u, alts in zip(placed["unit_x"], placed["alternatives"],
                                                strict=True)])
        assert (home | allowed).all()
        sexes = [pool.split("/")[1] for pool in placed["pool"]]
        assert sexes == placed["sex"].tolist()  # single-sex pools


def test_cbc_gives_the_same_optimum():
    patients = generate_patients(80, seed=1, days=20, mix=True)
    highs = plan_beds(patients, 12, "milp")
    cbc = plan_beds(patients, 12, "milp", solver="cbc")
    assert cbc.status == "optimal" and cbc.objective == pytest.approx(highs.objective)


def _hang(*_args):
    time.sleep(60)


def _crash(*_args):
    raise RuntimeError("solver exploded")


@pytest.mark.parametrize(("fault", "reason", "limit"), [(_hang, "wall-clock guard", 0.5),
                                                        (_crash, "solver exploded", 60.0)])
def test_solver_failure_falls_back_to_greedy(monkeypatch, fault, reason, limit):
    """A hung solver is cut off by the guard (in well under the 60 s it would sleep); a
    crash is reported as itself, however long the child takes to start on a busy machine."""
    monkeypatch.setattr(bed_assignment, "_milp", fault)
    monkeypatch.setattr(bed_assignment, "GUARD_MARGIN_S", 0.0)
    began = time.perf_counter()
    result = plan_beds(generate_patients(100, seed=2), 10, "milp", time_limit=limit)
    assert time.perf_counter() - began < 30
    assert reason in result.fallback
    assert result.overflow == plan_beds(generate_patients(100, seed=2), 10, "greedy").overflow


def test_replay_counts_conflicts_on_a_hand_made_case():
    patients = pd.DataFrame({"id": ["a", "b", "c", "d"], "admit": [0.0, 0.0, 2.0, 3.0],
                             "predicted_los": [2.0, 3.0, 3.0, 2.0]})
    result = plan_beds(patients, method="greedy")
    beds = dict(zip(result.assignment["id"], result.assignment["bed"], strict=True))
    assert result.beds_used == 2 and beds["a"] == beds["c"] and beds["b"] == beds["d"]
    exact = replay(result, np.array([2.0, 3.0, 3.0, 2.0]))
    assert (exact.conflicts, exact.overflow) == (0, 0)
    # a stays 2.5 days: c finds its bed taken and ward#2 (b, until 3) busy -> overflow;
    # b stays 4 days: d finds its bed taken, but a's bed is free by then -> rehoused
    late = replay(result, np.array([2.5, 4.0, 3.0, 2.0]))
    assert (late.conflicts, late.rehoused, late.overflow) == (2, 1, 1)


def test_true_los_column_wins_and_draws_are_reproducible(tmp_path):
    patients = generate_patients(30, seed=3)
    drawn = draw_true_los(patients, cv=0.5, seed=7)
    assert (drawn > 0).all() and np.array_equal(drawn, draw_true_los(patients, 0.5, 7))
    assert np.array_equal(draw_true_los(patients.assign(true_los=2.0), 0.5, 7),
                          np.full(30, 2.0))


@pytest.mark.parametrize(("text", "message"), [
    ("admit,predicted_los\n1,2\n3,x\n", "row 3, column 'predicted_los'"),
    ("admit,predicted_los\n1,2\n3,4\n5,-1\n", "row 4, column 'predicted_los'"),
    ("admit,predicted_los,unit\nmonday,2,icu\n", "row 2, column 'admit'"),
    ("admit,predicted_los,sex\n1,2,M\n1,2,X\n", "row 3, column 'sex'"),
    ("admit,predicted_los,true_los\n1,2,\n", "row 2, column 'true_los'"),
    ("id,admit,predicted_los\nx,1,2\nx,1,2\n", "row 3, column 'id'"),
    ("admit,los\n1,2\n", "['predicted_los'] missing"),
])
def test_csv_errors_name_row_and_column(tmp_path, text, message):
    path = tmp_path / "patients.csv"
    path.write_text(text)
    with pytest.raises(PatientsError, match=message.replace("[", r"\[").replace("]", r"\]")):
        read_patients(path)


def test_cli_prints_the_table_next_to_the_seed(tmp_path):
    result = CliRunner().invoke(app, ["--generate", "200", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "seed notebook" in result.output and "34.8" in result.output
    assert "optimal" in result.output and "conflicts" in result.output
    mounted = typer.Typer()
    mounted.command("plan")(plan)
    mounted.command("other")(lambda: None)
    again = CliRunner().invoke(mounted, ["plan", str(tmp_path / "generated_200.csv"),
                                         "--beds", "20", "--method", "greedy"])
    assert again.exit_code == 0, again.output
    assert "generated_200.csv" in again.output and "reference" in again.output


def test_cli_reports_a_bad_file(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("admit,predicted_los\n1,two\n")
    result = CliRunner().invoke(app, [str(path)])
    assert result.exit_code == 2
    assert "row 2, column 'predicted_los'" in result.output
