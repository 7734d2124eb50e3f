"""The `noisy` forecast source (issue 11 item 3): the truth with chosen error, for arrivals
and stays, seeded on its own stream; and the error -> outcome curves the report draws."""

import json

import numpy as np
import pandas as pd
import pytest

import scenarios
from experiments.report import figures
from experiments.report.comparison import number
from experiments.report.error_curve import curve_sentences, error_curves
from experiments.trained.wiring import build_policy, knows_the_future
from policies import make_policy
from policies.forecasts import Noise, Perfect, daily_rates
from scenarios.schema import PolicySpec
from simulator import simulate
from simulator.demand import RandomStreams, draw_patients
from simulator.hospital import Hospital
from simulator.los import ParametricLos

SHORT = ["horizon_days=40", "warmup_days=14"]


def noisy(sigma: float, bias: float = 0.0) -> dict:
    return {"source": "noisy", "sigma": sigma, "bias": bias}


def run(params: dict, name: str = "greedy", seed: int = 3, policy: list | None = None) -> dict:
    """The KPIs of one short run; `policy` (a list) receives the policy object."""
    scenario = scenarios.load("baseline", SHORT)
    built = build_policy(PolicySpec(name=name, params=params))
    (policy if policy is not None else []).append(built)
    return simulate(scenario, built, seed).kpis


def test_zero_noise_is_the_perfect_forecast_to_the_last_digit():
    assert run({"forecast": noisy(0.0)}) == run({"forecast": "perfect"})
    assert run({"los_forecast": noisy(0.0)}) == run({"los_forecast": "perfect"})


def test_noise_moves_the_forecasts_not_the_patients():
    policies: list = []
    runs = [run({"forecast": noisy(s), "los_forecast": noisy(s)}, policy=policies)
            for s in (0.0, 0.2, 0.6)]
    truths = [p.stay.truth for p in policies]  # every patient's true stay, as drawn
    assert all(np.array_equal(truths[0], t) for t in truths[1:])
    arrival_mae = [r["forecast_mae"] for r in runs]
    los_mae = [r["los_forecast_mae"] for r in runs]
    assert arrival_mae[0] == 0.0 and los_mae[0] == 0.0
    assert arrival_mae == sorted(arrival_mae) and los_mae == sorted(los_mae)
    assert arrival_mae[2] > 2 * arrival_mae[1] > 0 and los_mae[2] > 2 * los_mae[1] > 0


def test_every_policy_draws_the_same_noise_on_the_same_seed():
    """Common random numbers: greedy and the MILP see the same noisy forecasts (the noise
    comes from the replication's seed alone), and a new seed draws new noise."""
    spec = {"forecast": noisy(0.3)}
    greedy, milp = run(spec), run(spec, "milp")
    assert greedy["forecast_mae"] == milp["forecast_mae"]
    assert run(spec, seed=4)["forecast_mae"] != greedy["forecast_mae"]
    assert run(spec) == greedy  # same seed, same numbers


def test_arrival_and_stay_noise_are_independent_streams():
    """Making the stays noisy leaves the arrival forecasts' noise as it was."""
    arrivals_only = run({"forecast": noisy(0.3)})
    both = run({"forecast": noisy(0.3), "los_forecast": noisy(0.3)})
    assert both["forecast_mae"] == arrivals_only["forecast_mae"]


def test_noise_factors_have_mean_one_plus_bias_and_the_chosen_spread():
    """200,000 draws: the mean within 1% of 1 + bias (its standard error is ~0.07% at
    sigma 0.3), the log-sd within 1% of sigma."""
    seed = np.random.SeedSequence(1)
    for sigma, bias in ((0.3, 0.0), (0.3, 0.2), (1.0, -0.1)):
        factors = Noise(sigma, bias).factors(seed, (200_000,))
        assert factors.mean() == pytest.approx(1 + bias, rel=0.01)
        assert np.log(factors).std() == pytest.approx(sigma, rel=0.01)


@pytest.mark.parametrize("params, message", [
    ({"forecast": {"source": "noisy"}}, "expected sigma"),
    ({"forecast": {"source": "noisy", "sigma": -0.1}}, "0 <= sigma"),
    ({"forecast": {"source": "noisy", "sigma": 0.1, "bias": -1}}, "bias > -1"),
    ({"forecast": {"source": "noisy", "sigma": 0.1, "spread": 2}}, "expected sigma"),
    ({"forecast": {"source": "perfect", "sigma": 0.1}}, "source: noisy"),
    ({"los_forecast": "nois"}, "unknown los_forecast"),
    ({"los_forecast": {"source": "noisy", "sigma": float("nan")}}, "0 <= sigma"),
])
def test_a_misspelt_noisy_source_is_an_error_naming_what_is_expected(params, message):
    with pytest.raises(ValueError, match=message):
        make_policy("greedy", params)


def test_a_noisy_forecast_is_a_bound_never_a_policy_a_hospital_could_run():
    assert knows_the_future(PolicySpec(name="greedy", params={"forecast": noisy(0.5)}))
    assert knows_the_future(PolicySpec(name="milp", params={"los_forecast": noisy(0.5)}))
    assert not knows_the_future(PolicySpec(name="milp", params={"forecast": "historical"}))


# ----------------------------------------------------------------- the curves, on a table
SIGMAS = {"g+perfect": 0.0, "g+n0.2": 0.2, "g+n0.5": 0.5}
MAE = {"g+perfect": 0.0, "g+n0.2": 2.0, "g+n0.5": 5.0, "g+historical": 4.0}
SLOPE = 1_000.0  # cost per patient a day of MAE over the run
SHOCK = np.array([-300.0, 100.0, 0.0, 250.0, -50.0])


def curve_scenario():
    specs = [
        {"name": "greedy", "label": "g+perfect", "params": {"forecast": "perfect"}},
        {"name": "greedy", "label": "g+n0.2", "params": {"forecast": noisy(0.2)}},
        {"name": "greedy", "label": "g+n0.5", "params": {"forecast": noisy(0.5)}},
        {"name": "greedy", "label": "g+historical", "params": {"forecast": "historical"}},
        {"name": "greedy", "label": "g+biased", "params": {"forecast": noisy(0.2, 0.1)}},
        {"name": "milp", "label": "milp+historical"},  # another policy: on no greedy curve
    ]
    return scenarios.load("baseline", [f"policies={json.dumps(specs)}", "horizon_days=73"])


def curve_kpis(extra: float = 500.0) -> pd.DataFrame:
    """Cost = shared shock + SLOPE x MAE (+ `extra` for historical: off the curve)."""
    rows = []
    for policy in [*MAE, "g+biased", "milp+historical"]:
        for r, shock in enumerate(SHOCK):
            mae = MAE.get(policy, 3.0) + 0.1 * r  # each replication's realised error
            cost = 10_000 + shock + SLOPE * mae + (extra if policy == "g+historical" else 0)
            rows.append({"policy": policy, "replication": r, "seed": r, "cost_total": cost,
                         "forecast_mae": mae, "overflow": 50.0 + mae, "icu_refusal_rate":
                         0.01 * mae, "staffed_bed_days": 500.0, "occupied_bed_days": 400.0})
    return pd.DataFrame(rows)


def test_a_curve_is_the_noisy_sweep_paired_from_its_zero_error_point():
    (curve,) = error_curves(curve_kpis(), curve_scenario())
    assert curve["policy"] == "greedy" and curve["reference"] == "g+perfect"
    assert [p["key"] for p in curve["points"]] == ["g+perfect", "g+n0.2", "g+n0.5"]
    assert [p["sigma"] for p in curve["points"]] == list(SIGMAS.values())
    change = curve["points"][2]["changes"]["cost_total"]
    # paired: the shared shock cancels, so the CI is tight around SLOPE x 5
    assert change["mean"] == pytest.approx(SLOPE * 5)
    assert change["ci_high"] - change["ci_low"] < 1e-6
    # the slope is per patient a day of MAE and scaled from 73 days to a year
    assert curve["slope"]["cost_total"]["mean"] == pytest.approx(SLOPE * 5)
    assert curve["slope"]["icu_refusal_rate"]["mean"] == pytest.approx(0.01)  # a rate: unscaled
    placed = {p["source"]: p for p in curve["placed"]}
    assert set(placed) == {"historical", "noisy σ=0.2 bias=+0.1"}
    assert placed["historical"]["changes"]["cost_total"]["mean"] == pytest.approx(
        SLOPE * 4 + 500)  # above the curve by what its errors cost beyond random ones


def test_curves_need_two_error_levels_and_a_measured_error():
    kpis = curve_kpis()
    assert error_curves(kpis[kpis["policy"] != "g+n0.2"].loc[lambda k: k["policy"] != "g+n0.5"],
                        curve_scenario()) == []
    assert error_curves(kpis.drop(columns="forecast_mae"), curve_scenario()) == []


def test_the_curve_reads_as_a_sentence_and_draws():
    curves = error_curves(curve_kpis(), curve_scenario())
    (sentence,) = curve_sentences(curves, number)
    assert sentence.startswith("Under greedy, each patient a day of arrivals forecast MAE "
                               "changes total cost by +5,000 (95% CI 5,000 to 5,000) a year "
                               "and the ICU refusal rate by +1.00 percentage points")
    assert "historical (MAE 4.20) total cost +4,500" in sentence
    assert figures.error_curves(curves).startswith("<svg")


# ----------------------------------------------------------------- around the demand's rate
def drawn_truth(scenario, seed: int):
    """Every patient of one replication as drawn (what the simulator reveals)."""
    days = scenario.warmup + scenario.horizon_days
    patients = draw_patients(scenario, days, ParametricLos(scenario.los),
                             RandomStreams.spawn(seed))
    return Hospital(scenario, make_policy("static"), patients, days).truth()


@pytest.mark.parametrize("name", ["baseline", "pandemic_surge"])
def test_the_rate_source_is_the_mean_of_the_arrivals_it_forecasts(name):
    """Per unit, the expected arrivals over two years (the surge included) against those
    drawn: within 4 standard errors of a Poisson count of that mean."""
    scenario = scenarios.load(name, ["horizon_days=702"])
    rates = daily_rates(scenario)
    truth = Perfect()
    truth.reveal(drawn_truth(scenario, 7))
    for unit, counts in truth.counts.items():
        expected = rates[unit][: counts.size].sum()
        assert abs(counts.sum() - expected) < 4 * np.sqrt(expected), unit


def test_noise_around_the_rate_starts_from_the_rate_source():
    assert run({"forecast": noisy(0.0) | {"around": "rate"}}) == run({"forecast": "rate"})
    assert knows_the_future(PolicySpec(name="greedy", params={"forecast": "rate"}))
    with pytest.raises(ValueError, match="around must be truth or rate"):
        make_policy("greedy", {"forecast": noisy(0.1) | {"around": "mean"}})


def test_curves_around_the_truth_and_the_rate_are_drawn_apart():
    specs = [
        {"name": "greedy", "label": "g+perfect", "params": {"forecast": "perfect"}},
        {"name": "greedy", "label": "g+rate", "params": {"forecast": "rate"}},
        {"name": "greedy", "label": "g+n0.2", "params": {"forecast": noisy(0.2)}},
        {"name": "greedy", "label": "g+r0.2",
         "params": {"forecast": noisy(0.2) | {"around": "rate"}}},
        {"name": "greedy", "label": "g+historical", "params": {"forecast": "historical"}},
    ]
    scenario = scenarios.load("baseline", [f"policies={json.dumps(specs)}"])
    rows = [{"policy": p["label"], "replication": r, "seed": r, "cost_total": 1.0 * r + k,
             "forecast_mae": 1.0 + k + 0.1 * r, "overflow": 1.0, "icu_refusal_rate": 0.0,
             "staffed_bed_days": 1.0, "occupied_bed_days": 1.0}
            for k, p in enumerate(specs) for r in range(3)]
    curves = {c["around"]: c for c in error_curves(pd.DataFrame(rows), scenario)}
    assert curves["truth"]["reference"] == "g+perfect"
    assert curves["rate"]["reference"] == "g+rate"
    # each curve places the other's zero-error source and historical, never its noisy points
    assert {p["key"] for p in curves["rate"]["placed"]} == {"g+perfect", "g+historical"}
    assert {p["key"] for p in curves["truth"]["placed"]} == {"g+rate", "g+historical"}
