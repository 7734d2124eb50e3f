"""Across-replication statistics: t intervals, CRN paired differences, precision rule."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import scenarios
from experiments.study.run import run_to_precision
from experiments.study.stats import (
    confidence_interval,
    holm,
    imprecise,
    paired_differences,
    replications_needed,
    summarise,
)

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


def test_holm_adjusts_step_down_and_stays_monotone():
    p = np.array([0.01, 0.04, 0.03, np.nan, 0.2])
    adjusted = holm(p)
    # sorted 0.01, 0.03, 0.04, 0.2 (m = 4): x4, x3, x2, x1, each at least the one before
    assert adjusted[[0, 2, 1, 4]] == pytest.approx([0.04, 0.09, 0.09, 0.2])
    assert np.isnan(adjusted[3])
    assert list(holm(np.array([0.01, 0.9]))) == pytest.approx([0.02, 0.9])
    assert holm(np.array([0.5, 0.9]))[1] == 1.0  # raised to the one before it, capped


def test_paired_p_value_is_the_one_sample_t_test():
    kpis = kpis_with_shift(shift=3.0, noise=2.0)
    row = paired_differences(kpis, "a").iloc[0]
    diff = kpis[kpis["policy"] == "b"]["cost"].to_numpy() - kpis[kpis["policy"] == "a"][
        "cost"].to_numpy()
    assert row["p_value"] == pytest.approx(stats.ttest_1samp(diff, 0.0).pvalue)


def test_replications_needed_makes_the_half_width_smaller_than_the_difference():
    n = replications_needed(mean=1.0, sd=4.0, n=5)
    assert stats.t.ppf(0.975, n - 1) * 4.0 / np.sqrt(n) < 1.0
    assert stats.t.ppf(0.975, 5) * 4.0 / np.sqrt(5) > 1.0  # and five were too few
    assert replications_needed(0.0, 1.0, 5) == np.inf


def test_intervals_of_rates_and_counts_stay_within_their_range():
    """A skewed rate over three replications: the t-interval would reach below zero."""
    kpis = pd.DataFrame({"policy": "a", "replication": [0, 1, 2], "seed": 1,
                         "icu_refusal_rate": [0.0, 0.0, 0.2], "overflow": [0.0, 1.0, 40.0],
                         "cost_change": [-5.0, 1.0, 2.0]})
    summary = summarise(kpis).set_index("kpi")
    assert summary.loc["icu_refusal_rate", "ci_low"] == 0.0
    assert summary.loc["overflow", "ci_low"] == 0.0
    assert summary.loc["cost_change", "ci_low"] < -5.0  # may be negative: left as is
    shares = summarise(pd.DataFrame({"policy": "a", "replication": [0, 1, 2], "seed": 1,
                                     "icu_refusal_rate": [1.0, 1.0, 0.6]}))
    assert shares["ci_high"].iloc[0] == 1.0
