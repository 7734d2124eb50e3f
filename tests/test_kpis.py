"""The KPI catalogue: every KPI a run reports is catalogued once, labelled once, and named
in the README."""

import re
from pathlib import Path

import pytest

import scenarios
from experiments import cli
from experiments.report import comparison
from experiments.study.run import PRECISION_KPIS
from policies import make_policy, policy_names
from scenarios.schema import ServiceLevels
from simulator import kpis, simulate

ROOT = Path(__file__).resolve().parents[1]
CODE = ("scenarios", "simulator", "policies", "forecasting", "experiments")


@pytest.fixture(scope="module")
def reported() -> set[str]:
    """The KPI names of a short run by every registered policy (forecast-using ones report
    their forecast errors, MILP ones their solver's)."""
    scenario = scenarios.load("baseline", ["horizon_days=6", "warmup_days=2"])
    names = set()
    for policy in policy_names():
        names |= set(simulate(scenario, make_policy(policy), seed=1).kpis)
    return names


def test_every_reported_kpi_is_catalogued(reported):
    assert {"forecast_mae", "solver_fallbacks", "idle_pct.icu"} <= reported
    missing = sorted(name for name in reported if not kpis.is_catalogued(name))
    assert not missing, f"computed but not in simulator/kpis.py: {missing}"


def test_per_unit_kpis_are_patterns():
    icu = kpis.get("idle_pct.icu")
    assert (icu.unit, icu.better, icu.label) == ("%", "lower", "Idle staffed beds, icu")
    assert kpis.get("staffed_beds.ward_a").title == "Staffed beds, ward_a (beds)"
    with pytest.raises(KeyError, match="not in the catalogue"):
        kpis.get("idle_pct_typo")


def test_service_levels_are_the_catalogued_ones():
    assert {k.name for k in kpis.service_levels()} == set(ServiceLevels.model_fields)
    assert all(k.better == "lower" for k in kpis.service_levels())  # each is a most


def test_tables_figures_and_rules_read_the_catalogue():
    assert [name for name, _ in cli.HEADLINE_KPIS] == list(comparison.HEADLINE)
    assert [title for _, title in cli.HEADLINE_KPIS] == list(comparison.HEADLINE.values())
    assert kpis.names("precision") == PRECISION_KPIS
    assert list(comparison.FOREST) == list(kpis.names("forest"))
    assert list(comparison.FORECAST_VALUE) == list(kpis.names("forecast_value"))


def _code_files():
    for folder in CODE:
        for path in sorted((ROOT / folder).rglob("*")):
            if path.suffix in (".py", ".j2") and path != ROOT / "simulator" / "kpis.py":
                yield path, path.read_text()


def test_each_label_is_written_once():
    """A label (or its title with the unit) as a string literal in code, or as the text of
    an element in a template, belongs in the catalogue only."""
    catalogued = list(kpis.CATALOGUE.values()) + list(kpis.PATTERNS.values())
    found = []
    for path, text in _code_files():
        for kpi in catalogued:
            for words in {kpi.label, kpi.title}:
                quoted = re.escape(words)
                pattern = (rf"[\"']{quoted}[\"']" if path.suffix == ".py"
                           else rf">\s*{quoted}\s*<")
                if re.search(pattern, text) or (words == kpi.title != kpi.label
                                                and words in text):
                    found.append(f"{path.relative_to(ROOT)}: {words!r}")
    assert not found, "labels written outside simulator/kpis.py: " + ", ".join(found)


def test_the_readme_names_every_catalogued_kpi():
    readme = (ROOT / "README.md").read_text()
    named = set(re.findall(r"`([a-z0-9_.<>]+)`", readme))
    missing = [k for k in kpis.CATALOGUE if k not in named]
    missing += [f"{prefix}.<unit>" for prefix in kpis.PATTERNS
                if f"{prefix}.<unit>" not in named]
    assert not missing, f"README's KPI list lacks {missing}"
