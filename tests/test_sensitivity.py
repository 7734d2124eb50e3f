"""How the ranking depends on prices: costs recomputed from a study's KPIs, no re-run."""

import pandas as pd
import pytest

import scenarios
from experiments.report.comparison import write_report
from experiments.report.sensitivity import (
    PRICES,
    mean_costs,
    price_sensitivity,
    recompute,
    report_section,
    vary,
)
from experiments.study.run import run_study
from policies import make_policy
from simulator import simulate

TWO_UNITS = """\
name: two_units
units:
  - name: ward
    beds: 20
    specialties: ["*"]
  - name: icu
    kind: icu
    beds: 12
    nurse_ratio: 1
arrivals:
  - name: emergency
    daily_rate: 2
"""


@pytest.fixture(scope="module")
def baseline_kpis():
    """Two policies, two replications each, of the baseline hospital (its cost table sets
    nurse_shift, so bed-days are priced by kind and nurse ratio)."""
    scenario = scenarios.load("baseline", ["horizon_days=40", "warmup_days=5"])
    rows = [{"policy": name, "replication": seed,
             **simulate(scenario, make_policy(name), seed=seed).kpis}
            for name in ("static", "baseline") for seed in (1, 2)]
    return scenario, pd.DataFrame(rows)


def test_at_the_prices_as_given_the_recomputed_cost_is_cost_total(baseline_kpis):
    scenario, kpis = baseline_kpis
    assert scenario.costs.nurse_shift is not None
    assert recompute(kpis, scenario, scenario.costs).to_numpy() == pytest.approx(
        kpis["cost_total"].to_numpy(), rel=1e-9)
    assert (kpis["premium_bed_days.icu"] >= 0).all()


def test_costs_are_linear_in_each_price(baseline_kpis):
    scenario, kpis = baseline_kpis
    base = recompute(kpis, scenario, scenario.costs)
    for price in PRICES:
        once = recompute(kpis, scenario, vary(scenario.costs, price.name, 2.0)) - base
        twice = recompute(kpis, scenario, vary(scenario.costs, price.name, 3.0)) - base
        assert twice.to_numpy() == pytest.approx(2 * once.to_numpy(), rel=1e-9, abs=1e-6)


def test_vary_moves_one_price():
    costs = scenarios.load("baseline").costs
    icu = vary(costs, "bed_day.icu", 2.0)
    assert (icu.bed_day.icu, icu.bed_day.ward) == (2 * costs.bed_day.icu, costs.bed_day.ward)
    assert vary(costs, "premium_factor", 3.0).premium_factor == pytest.approx(2.5)  # 1 + 0.5x3
    assert vary(costs, "icu_refusal", 0.25).icu_refusal == costs.icu_refusal / 4
    assert costs.icu_refusal == scenarios.load("baseline").costs.icu_refusal  # unchanged


def synthetic(scenario, refusals_lean: float) -> pd.DataFrame:
    """`ample` staffs 10 ICU beds and refuses nobody; `lean` staffs 9 and refuses
    `refusals_lean` ICU patients; both over 100 days, three replications."""
    rows = []
    for replication in range(3):
        for policy, icu_beds, refused in (("ample", 10.0, 0.0), ("lean", 9.0, refusals_lean)):
            rows.append({
                "policy": policy, "replication": replication,
                "staffed_beds.ward": 15.0, "staffed_beds.icu": icu_beds,
                "staffed_bed_days": 100 * (15.0 + icu_beds),
                "premium_bed_days.ward": 0.0, "premium_bed_days.icu": 0.0,
                "offservice_patient_hours": 0.0, "diversions": 0.0,
                "icu_refusals": refused, "elective_cancellations": 0.0,
                "ventilator_shortfall_hours": 0.0,
            })
    kpis = pd.DataFrame(rows)
    return kpis.assign(cost_total=0.0)


def test_a_cheap_enough_refusal_flips_the_ranking():
    scenario = scenarios.load_text(TWO_UNITS)
    costs = scenario.costs
    icu = scenario.unit("icu")
    # 100 ICU bed-days against 40 refusals: ample is cheaper at the prices as given and
    # lean at a quarter of the refusal price
    assert 100 * costs.bed_day_cost(icu) < 40 * costs.icu_refusal
    assert 100 * costs.bed_day_cost(icu) > 40 * costs.icu_refusal / 4
    kpis = synthetic(scenario, refusals_lean=40)
    means = mean_costs(kpis, scenario, costs, ["ample", "lean"])
    assert means["lean"] - means["ample"] == pytest.approx(
        40 * costs.icu_refusal - 100 * costs.bed_day_cost(icu))
    table = price_sensitivity(kpis, scenario).set_index("price")
    refusal = table.loc["icu_refusal"]
    assert (refusal["cheapest"], refusal["cheapest_low"], refusal["cheapest_high"]) == (
        "ample", "lean", "ample")
    assert refusal["changes"]
    assert not table.loc["diversion"]["changes"]  # nobody was diverted
    assert "nurse_shift" not in table.index  # this table has no nurse_shift
    assert "bed_day.stepdown" not in table.index  # and no step-down unit
    section = report_section(kpis, scenario, ["ample", "lean"])
    assert section["cheapest"] == "ample"
    assert "ICU refusal" in section["flips"]


@pytest.mark.slow
def test_the_report_shows_the_section(tmp_path):
    scenario = scenarios.load("baseline", ["horizon_days=20", "warmup_days=5", "replications=2",
                                           "policies=[{name: static}, {name: baseline}]"])
    run_study(scenario, tmp_path, source="baseline")
    html = write_report(tmp_path)["report.html"].read_text()
    assert "How the ranking depends on prices" in html
    assert "nurse shift" in html and "ICU refusal" in html
