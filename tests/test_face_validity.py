"""Face validity: would a bed manager run these policies? On the built-in hospital through
its winter peak, under common random numbers, each forecast-using policy and the Erlang
reference keep the ICU staffed at or above its demand and meet the service levels; the
naive baseline's breaches are reported as breaches, never hidden; occupancy sits in the
bands the baseline scenario cites; the oracle is the cheapest policy that meets them; the
breakeven view never recommends fewer beds than the demand it has to serve."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import scenarios
from experiments.report.breakeven import unit_breakevens
from experiments.study.service_levels import BREACHES, MEETS, service_verdicts
from policies import make_policy
from simulator import simulate

pytestmark = pytest.mark.slow

REPLICATIONS = 3
POLICIES = ("baseline", "erlang", "greedy", "milp", "oracle")
RUNNABLE = ("erlang", "greedy", "milp")  # policies a hospital could run that must comply
# The bands baseline.yaml's service_levels comment cites (Bagust et al. 1999 for wards,
# Tierney & Conroy 2014 for the ICU), widened by what a 90-day winter run may swing.
WARD_OCCUPANCY = (75.0, 92.0)
ICU_OCCUPANCY = (60.0, 88.0)


@pytest.fixture(scope="module")
def study() -> tuple[scenarios.Scenario, pd.DataFrame, pd.DataFrame]:
    """90 measured days from January (the winter peak), each policy on the same patients."""
    scenario = scenarios.load("baseline", ["horizon_days=90"])
    kpis, census = [], []
    for r in range(REPLICATIONS):
        seed = np.random.SeedSequence(scenario.seed, spawn_key=(r,))
        for name in POLICIES:
            result = simulate(scenario, make_policy(name), seed)
            kpis.append({"policy": name, "replication": r, **result.kpis})
            census.append(result.daily.assign(policy=name, replication=r))
    return scenario, pd.DataFrame(kpis), pd.concat(census, ignore_index=True)


def test_the_icu_is_staffed_for_its_demand_not_spiralling_down(study):
    """The regression: policies once planned day 0 from the morning census alone and
    staffed the ICU to 7 beds for a demand of 14 (72% refused). Now every runnable policy
    staffs the ICU at or above its mean uncensored demand."""
    _, kpis, census = study
    measured = census[~census["warmup"] & (census["unit"] == "icu")]
    demand = measured.groupby("policy")["demand_mean"].mean()
    staffed = kpis.groupby("policy")["staffed_beds.icu"].mean()
    for name in (*RUNNABLE, "oracle"):
        assert staffed[name] >= demand[name], (name, staffed[name], demand[name])


def test_runnable_policies_meet_the_service_levels_and_baseline_is_marked(study):
    scenario, kpis, _ = study
    targets = scenario.service_levels.targets()
    verdicts = service_verdicts(kpis, targets).set_index(["policy", "kpi"])["verdict"]
    means = kpis.groupby("policy").mean(numeric_only=True)
    for name in RUNNABLE:  # three replications may leave a close call undecided, not breached
        for kpi in ("icu_refusal_rate", "long_wait_share", "ventilator_shortfall_patients"):
            assert means.loc[name, kpi] <= targets[kpi], (name, kpi, means[kpi])
            assert verdicts[name, kpi] != BREACHES, (name, kpi, means[kpi])
    # the proportional-headroom rule of thumb falls short in the small ICU, and says so
    icu = kpis[kpis["policy"] == "baseline"]["icu_refusal_rate"]
    assert icu.mean() > targets["icu_refusal_rate"]
    assert verdicts["baseline", "icu_refusal_rate"] != MEETS
    # a verdict is never kinder than the numbers: any mean above its target is not 'meets'
    for (name, kpi), verdict in verdicts.items():
        mean = kpis.loc[kpis["policy"] == name, kpi].mean()
        if mean > targets[kpi]:
            assert verdict != MEETS, (name, kpi, mean)


def test_occupancy_sits_in_the_cited_bands(study):
    scenario, kpis, _ = study
    means = kpis.groupby("policy").mean(numeric_only=True)
    for name in (*RUNNABLE, "oracle"):
        row = means.loc[name]
        icu = 100 - row["idle_pct.icu"]
        assert ICU_OCCUPANCY[0] <= icu <= ICU_OCCUPANCY[1], (name, icu)
        wards = [u.name for u in scenario.units if u.kind == "ward"]
        occupied = sum(row[f"mean_census.{w}"] for w in wards)
        staffed = sum(row[f"staffed_beds.{w}"] for w in wards)
        ward = 100 * occupied / staffed
        assert WARD_OCCUPANCY[0] <= ward <= WARD_OCCUPANCY[1], (name, ward)


def test_the_oracle_is_no_dearer_than_any_policy_meeting_the_service_levels(study):
    """Paired under CRN: the oracle's cost minus each complying policy's is at most the
    half-width of its 95% t-interval above zero."""
    scenario, kpis, _ = study
    verdicts = service_verdicts(kpis, scenario.service_levels.targets())
    failing = set(verdicts.loc[verdicts["verdict"] != MEETS, "policy"])
    cost = kpis.pivot(index="replication", columns="policy", values="cost_total")
    for name in set(POLICIES) - failing - {"oracle"}:
        diff = (cost["oracle"] - cost[name]).to_numpy()
        half = stats.t.ppf(0.975, diff.size - 1) * diff.std(ddof=1) / np.sqrt(diff.size)
        assert diff.mean() <= half, (name, diff)


def test_breakeven_never_recommends_fewer_beds_than_the_mean_demand(study):
    """Where a patient-day short costs more beyond a bed than a bed-day costs, the newsvendor
    fractile is above one half, so the cheapest staffing is at least the median (about the
    mean) demand."""
    scenario, _, census = study
    table, _ = unit_breakevens(census, scenario, "greedy")
    dear = table[table["shortage"] - table["bed_day"] > table["bed_day"]]
    assert "icu" in set(dear["unit"])  # a refused ICU patient costs more than an ICU bed
    for row in dear.itertuples():
        assert row.breakeven >= np.floor(row.demand_mean), row
