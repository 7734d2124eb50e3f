"""How a stay is split into phases of care: ICU, step-down, then the home ward."""

from __future__ import annotations

from scenarios.schema import Scenario
from simulator.calendar import HOURS_PER_DAY


def first_unit(scenario: Scenario, home: int, needs_icu: bool) -> int:
    """The unit a patient's first bed request is for: the ICU if they need it and there is
    one, else their home ward."""
    if needs_icu:
        icu = next((i for i, u in enumerate(scenario.units) if u.kind == "icu"), None)
        if icu is not None:
            return icu
    return home


def phase_plan(
    scenario: Scenario, home: int, needs_icu: bool, los_days: float
) -> list[tuple[int, float]]:
    """[(unit index, hours), ...] for one patient; the phases add up to the true LOS."""
    hours = los_days * HOURS_PER_DAY
    icu = first_unit(scenario, home, needs_icu)
    if icu == home:
        return [(home, hours)]
    units = scenario.units
    pathway = scenario.pathway
    phases = [(icu, hours * pathway.icu_share)]
    rest = 1.0 - pathway.icu_share
    stepdown = next((i for i, u in enumerate(units) if u.kind == "stepdown"), None)
    if stepdown is not None and stepdown != home and pathway.stepdown_share > 0:
        phases.append((stepdown, hours * pathway.stepdown_share))
        rest -= pathway.stepdown_share
    if rest > 1e-9:
        phases.append((home, hours * rest))
    return phases
