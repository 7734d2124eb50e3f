"""A scenario with a trained LOS model: trained once, cached, used by every replication."""

import pytest

import experiments.trained.los as models
import scenarios
from experiments.study.run import run_study
from policies import make_policy
from simulator import simulate

CHEAP = "policies=[{name: static}, {name: baseline}]"  # the study, not the policies, under test


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HOSPSIM_CACHE", str(tmp_path / "cache"))
    models._trained.cache_clear()
    yield tmp_path / "cache"
    models._trained.cache_clear()


@pytest.mark.slow
def test_scenario_runs_with_a_trained_los_model(cache, tmp_path):
    scenario = scenarios.load("baseline", ["los.model=linear", "horizon_days=30",
                                           "warmup_days=7", "replications=2", CHEAP])
    with pytest.raises(ValueError, match="los_model_for"):
        simulate(scenario, make_policy("static"), 1)
    study = run_study(scenario, tmp_path / "out", workers=2)
    assert len(study.kpis) == 4 and not study.failures
    manifests = list(cache.glob("*/manifest.json"))
    assert len(manifests) == 1  # trained once in the main process, loaded by the workers
    assert 3.5 < study.kpis["mean_los_days"].mean() < 8  # synthetic SPARCS-like stays
    stamp = manifests[0].stat().st_mtime
    models._trained.cache_clear()
    models.los_model_for(scenario)
    assert manifests[0].stat().st_mtime == stamp  # reused, not retrained


def test_data_is_only_for_trained_models():
    with pytest.raises(scenarios.ScenarioError, match="'data' trains a model"):
        scenarios.load("baseline", ["los.data=records.csv"])
