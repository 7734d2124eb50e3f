"""Across-replication statistics: t intervals, CRN paired differences, precision rule."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import scenarios
from experiments.study.run import run_to_precision
from experiments.study.stats import confidence_interval, imprecise, paired_differences, summarise

CHEAP = "policies=[{name: static}, {name: baseline}]"  # the study, not the policies, under test


def test_confidence_interval_is_the_t_interval():
    values = np.array([1.0, 2.0, 3.0, 4.0])
    mean, half, sd = confidence_interval(values)
    assert mean == 2.5 and sd == pytest.approx(np.std(values, ddof=1))
    assert half == pytest.approx(stats.t.ppf(0.975, 3) * sd / 2)
    assert np.isnan(confidence_interval(np.array([5.0]))[1])


def kpis_with_shift(shift: float, noise: float, n: int = 12) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    common = rng.normal(100, 20, n)  # replication-to-replication noise both policies share
    rows = [{"policy": "a", "replication": r, "seed": 1, "cost": common[r]} for r in range(n)]
    rows += [{"policy": "b", "replication": r, "seed": 1,
              "cost": common[r] + shift + rng.normal(0, noise)} for r in range(n)]
    return pd.DataFrame(rows)


def test_paired_differences_see_a_shift_hidden_in_shared_noise():
    kpis = kpis_with_shift(shift=3.0, noise=1.0)
    diff = paired_differences(kpis, "a").iloc[0]
    assert diff["significant"] and diff["ci_low"] < 3.0 < diff["ci_high"]
    summary = summarise(kpis).set_index("policy")
    unpaired_half = np.hypot(summary.loc["a", "half_width"], summary.loc["b", "half_width"])
    assert unpaired_half > 3.0  # the two separate intervals alone could not tell
    assert not paired_differences(kpis_with_shift(0.0, 1.0), "a").iloc[0]["significant"]


def test_imprecise_names_the_wide_intervals():
    summary = summarise(kpis_with_shift(3.0, 1.0))
    assert imprecise(summary, ["cost"], 0.5) == []
    assert imprecise(summary, ["cost"], 0.01) == ["a/cost", "b/cost"]


@pytest.mark.slow
def test_run_to_precision_adds_replications_until_the_target(tmp_path):
    scenario = scenarios.load("baseline", ["horizon_days=30", "warmup_days=7",
                                           "replications=3", CHEAP])
    study = run_to_precision(scenario, tmp_path, target=0.01, kpis=("cost_total",), cap=40)
    summary = summarise(study.kpis)
    cost = summary[summary["kpi"] == "cost_total"]
    assert (cost["half_width"] <= 0.01 * cost["mean"].abs()).all()
    assert study.precision["replications"] == len(study.kpis) // 2 > 3
    assert study.ran == len(study.kpis)  # every replication ran exactly once
