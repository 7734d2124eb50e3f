"""The KPI catalogue: every KPI a run reports, defined once.

Each KPI has its name (as in `kpis.csv`), a label for tables and figures, the unit of its
values, which direction is better, where it is measured, and whether the scenario's
`service_levels` bound it (the most it may be). Per-unit KPIs (`idle_pct.icu`) are
catalogued as patterns. The CLI tables, the report, the replication-precision rule and the
README's KPI list all read this module; `simulator.result.compute_kpis` computes the
simulator's KPIs, policies add their own (`Policy.kpis`), and a test fails if any KPI a run
reports is missing here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

Better = Literal["lower", "higher"] | None

#: where a KPI is measured: by the simulator (compute_kpis), by forecast-using policies,
#: by MILP policies, or derived from the others by the report
SOURCES = ("simulator", "forecast", "solver", "report")


@dataclass(frozen=True)
class Kpi:
    name: str
    label: str
    unit: str  # "%" (0-100), "share" (0-1, shown as %), "patients", "h", "cost", ...
    better: Better
    service_level: bool = False  # scenario.service_levels gives the most it may be
    source: str = "simulator"

    @property
    def scale(self) -> float:
        """Factor from the stored value to the shown one (shares are shown in %)."""
        return 100.0 if self.unit == "share" else 1.0

    @property
    def shown_unit(self) -> str:
        return "%" if self.unit == "share" else self.unit

    @property
    def phrase(self) -> str:
        """The label inside a sentence: `waits beyond target`, `ICU refusal rate`."""
        label = self.label
        return label if label[1:2].isupper() else label[:1].lower() + label[1:]

    @property
    def title(self) -> str:
        """The label with the unit its shown values are in, e.g. `Time to bed, mean (h)`."""
        unit = self.shown_unit
        return f"{self.label} ({unit})" if unit and unit != "cost" else self.label


def _k(name: str, label: str, unit: str, better: Better, **extra) -> Kpi:
    return Kpi(name, label, unit, better, **extra)


_CATALOGUE = (
    # beds
    _k("idle_pct", "Idle staffed beds", "%", "lower"),
    _k("occupancy_pct", "Occupancy of staffed beds", "%", "higher"),
    _k("mean_census", "Mean census", "patients", None),
    _k("occupied_bed_days", "Occupied bed-days", "bed-days", None),
    _k("staffed_bed_days", "Staffed bed-days", "bed-days", None),
    _k("premium_bed_days", "Premium (agency) bed-days", "bed-days", "lower"),
    _k("idle_bed_days", "Idle staffed bed-days", "bed-days", "lower", source="report"),
    # flow
    _k("arrivals", "Arrivals", "patients", None),
    _k("admissions", "Admissions", "patients", None),
    _k("discharges", "Discharges", "patients", None),
    _k("mean_los_days", "Mean length of stay", "days", None),
    # overflow and waiting
    _k("overflow", "Overflow: off-service + diverted", "patients", "lower"),
    _k("overflow_rate", "Overflow rate", "share", "lower"),
    _k("offservice_placements", "Off-service placements", "patients", "lower"),
    _k("offservice_patient_hours", "Off-service time", "patient-h", "lower"),
    _k("diversions", "Diversions", "patients", "lower"),
    _k("boarded_patients", "Patients who boarded", "patients", "lower"),
    _k("boarded_share", "Share of arrivals who boarded", "share", "lower"),
    _k("boarding_patient_hours", "Boarding time", "patient-h", "lower"),
    _k("time_to_bed_mean_h", "Time to bed, mean", "h", "lower"),
    _k("time_to_bed_p90_h", "Time to bed, p90", "h", "lower"),
    _k("time_to_bed_within_target", "Time to bed within target", "share", "higher"),
    _k("long_wait_share", "Waits beyond target", "share", "lower", service_level=True),
    _k("transfer_delay_hours", "Delayed transfers", "patient-h", "lower"),
    # ICU and ventilators
    _k("icu_requests", "ICU requests", "patients", None),
    _k("icu_refusals", "ICU refusals", "patients", "lower"),
    _k("icu_refusal_rate", "ICU refusal rate", "share", "lower", service_level=True),
    _k("ventilators_in_use_mean", "Ventilators in use, mean", "ventilators", None),
    _k("ventilator_shortfall_patients", "Patients short of a ventilator", "patients", "lower",
       service_level=True),
    _k("ventilator_shortfall_hours", "Ventilator shortfall", "patient-h", "lower"),
    _k("ventilator_shortfall_days_per_month", "Ventilator shortfall per month",
       "patient-days", "lower"),
    # electives
    _k("electives", "Electives booked", "patients", None),
    _k("elective_deferrals", "Elective deferrals", "patients", "lower"),
    _k("elective_cancellations", "Elective cancellations", "patients", "lower"),
    _k("elective_cancellation_rate", "Elective cancellation rate", "share", "lower",
       service_level=True),
    _k("invalid_placements", "Invalid placements", "patients", "lower"),
    # cost, from the scenario's cost table
    _k("cost_staffing", "Staffing cost", "cost", "lower"),
    _k("cost_overflow", "Overflow cost", "cost", "lower"),
    _k("cost_diversion", "Diversion cost", "cost", "lower"),
    _k("cost_icu_refusal", "ICU refusal cost", "cost", "lower"),
    _k("cost_cancellation", "Cancellation cost", "cost", "lower"),
    _k("cost_ventilator_shortfall", "Ventilator shortfall cost", "cost", "lower"),
    _k("cost_total", "Total cost", "cost", "lower"),
    # reported by forecast-using policies (policies/greedy.py `kpis`)
    _k("forecast_mae", "Forecast MAE", "arrivals/day", "lower", source="forecast"),
    _k("forecast_rmse", "Forecast RMSE", "arrivals/day", "lower", source="forecast"),
    _k("forecast_mape", "Forecast MAPE", "%", "lower", source="forecast"),
    _k("forecast_r2", "Forecast R²", "", "higher", source="forecast"),
    _k("los_forecast_mae", "LOS forecast MAE", "days", "lower", source="forecast"),
    _k("los_forecast_bias", "LOS forecast bias", "days", "lower", source="forecast"),
    # reported by MILP policies (policies/milp.py `kpis`)
    _k("solver_fallbacks", "Solver fallbacks to greedy", "mornings", "lower", source="solver"),
    _k("solve_ms_median", "Morning solve time, median", "ms", "lower", source="solver"),
)

#: per-unit KPIs, `<prefix>.<unit>`: the label gets the unit's name
CATALOGUE: dict[str, Kpi] = {k.name: k for k in _CATALOGUE}

_PATTERNS = (
    replace(CATALOGUE["idle_pct"], name="idle_pct.<unit>"),
    _k("staffed_beds.<unit>", "Staffed beds", "beds", None),
    replace(CATALOGUE["mean_census"], name="mean_census.<unit>"),
    replace(CATALOGUE["premium_bed_days"], name="premium_bed_days.<unit>"),
)
PATTERNS: dict[str, Kpi] = {k.name.split(".")[0]: k for k in _PATTERNS}

#: which KPIs each table, figure and rule shows, in order
ROLES: dict[str, tuple[str, ...]] = {
    # the CLI's and the report's KPI tables
    "headline": ("cost_total", "idle_pct", "occupancy_pct", "mean_census", "overflow",
                 "diversions", "time_to_bed_mean_h", "time_to_bed_p90_h", "icu_refusals",
                 "ventilator_shortfall_hours", "elective_cancellations"),
    # the report's sentences against the reference policy
    "findings": ("cost_total", "idle_pct", "overflow", "time_to_bed_mean_h"),
    # the report's forest plot of paired differences
    "forest": ("cost_total", "idle_pct", "overflow", "time_to_bed_mean_h", "icu_refusals",
               "elective_cancellations"),
    # the report's spread across replications
    "boxes": ("overflow", "time_to_bed_mean_h", "idle_pct"),
    # what better forecasting is worth downstream
    "forecast_value": ("forecast_mae", "cost_total", "idle_bed_days", "overflow",
                       "diversions"),
    # the forecast-error -> outcome curves (experiments/report/error_curve.py)
    "error_curve": ("cost_total", "idle_bed_days", "overflow", "icu_refusal_rate"),
    # the cost/service trade-off figure (cost against each)
    "trade_off": ("icu_refusal_rate", "overflow_rate"),
    # `--precision` (replications until these CIs are narrow enough)
    "precision": ("cost_total", "idle_pct", "overflow"),
}


def get(name: str) -> Kpi:
    """The KPI called `name`, per-unit ones (`idle_pct.icu`) included; KeyError if it is
    not catalogued."""
    if name in CATALOGUE:
        return CATALOGUE[name]
    prefix, dot, unit = name.partition(".")
    if dot and unit and prefix in PATTERNS:
        pattern = PATTERNS[prefix]
        return replace(pattern, name=name, label=f"{pattern.label}, {unit}")
    raise KeyError(f"KPI {name!r} is not in the catalogue (simulator/kpis.py)")


def is_catalogued(name: str) -> bool:
    try:
        get(name)
    except KeyError:
        return False
    return True


def role(name: str) -> tuple[Kpi, ...]:
    """The KPIs of a table, figure or rule (see `ROLES`), in order."""
    return tuple(CATALOGUE[k] for k in ROLES[name])


def names(role_name: str) -> tuple[str, ...]:
    return ROLES[role_name]


def labels(role_name: str) -> dict[str, str]:
    """{name: title} of a role's KPIs, in order."""
    return {k.name: k.title for k in role(role_name)}


def service_levels() -> tuple[Kpi, ...]:
    """The KPIs the scenario's `service_levels` bound, in catalogue order."""
    return tuple(k for k in _CATALOGUE if k.service_level)


def _check() -> None:
    for role_name, members in ROLES.items():
        missing = [k for k in members if k not in CATALOGUE]
        if missing:
            raise ValueError(f"ROLES[{role_name!r}] names uncatalogued KPIs: {missing}")
    titles = [k.label for k in _CATALOGUE]
    if len(set(titles)) != len(titles):
        raise ValueError("two catalogued KPIs share a label")


_check()
