"""The normalised inpatient record: the one table every loader produces and every model reads.

SPARCS extracts (any release 2015-2024), the synthetic history and a user's generic CSV are
all turned into this frame, so the LOS models and the admission series never see a raw
header. Column names that the simulator's patients share (age_group, admission_type,
diagnosis_group, severity, risk_of_mortality, surgical) mean the same thing in both, which is
what lets a LOS model trained here draw the stays of simulated patients.
"""

from __future__ import annotations

from scenarios.schema import ADMISSION_TYPES, AGE_GROUPS

ADMISSION_TYPES_SEEN = (*ADMISSION_TYPES, "Not Available")
SEXES = ("F", "M", "U")

# column -> pandas dtype of the normalised frame (categories are set where they are closed)
RECORD_DTYPES: dict[str, str] = {
    "facility_id": "string",
    "age_group": "category",  # categories AGE_GROUPS
    "sex": "category",  # F / M / U
    "race": "category",
    "ethnicity": "category",
    "length_of_stay": "float64",  # days; "120 +" becomes 120.0 with los_top_coded True
    "los_top_coded": "bool",
    "admission_type": "category",  # categories ADMISSION_TYPES_SEEN
    "ed_indicator": "bool",
    "patient_disposition": "category",
    "diagnosis_code": "string",  # CCS or CCSR diagnosis code, as given
    "apr_mdc": "Int8",  # APR Major Diagnostic Category code
    "diagnosis_group": "category",  # hospsim's group, from apr_mdc via MDC_GROUPS
    "severity": "Int8",  # APR Severity of Illness Code 1-4
    "risk_of_mortality": "Int8",  # APR Risk of Mortality Minor..Extreme -> 1-4
    "surgical": "bool",  # APR Medical Surgical Description == "Surgical"
    "payer": "category",  # Payment Typology 1
    "birth_weight": "float64",  # grams; NaN when blank or zero
    "total_charges": "float64",
    "total_costs": "float64",
    "discharge_year": "Int16",
    "admission_date": "datetime64[ns]",  # extension (synthetic history); NaT when absent
    "unit": "category",  # extension: the hospsim unit that took the patient
}

LEAKAGE_COLUMNS = ("total_charges", "total_costs", "patient_disposition")
"""Known only at discharge: excluded from LOS features unless a model is told otherwise."""

SIMULATOR_FEATURES = (
    "age_group", "admission_type", "diagnosis_group", "severity", "risk_of_mortality",
    "surgical",
)
"""Admission-time attributes the simulator gives every patient: a LOS model used inside a
simulation may use these only."""

LOS_FEATURES = (*SIMULATOR_FEATURES, "sex", "race", "ethnicity", "ed_indicator", "apr_mdc",
                "payer")
"""Every admission-time attribute a SPARCS record has."""

MDC_GROUPS: dict[int, str] = {
    1: "nervous",
    4: "respiratory",
    5: "circulatory",
    6: "digestive",
    7: "hepatobiliary",
    8: "musculoskeletal",
    10: "endocrine",
    11: "renal_urinary",
    18: "infectious",
    19: "mental_health",
    20: "mental_health",  # alcohol/drug use
    21: "injury",
    25: "injury",  # multiple significant trauma
}
"""APR MDC code -> hospsim diagnosis group (the groups the built-in scenarios use); every
other MDC is 'other'."""

RISK_OF_MORTALITY = {"Minor": 1, "Moderate": 2, "Major": 3, "Extreme": 4}


def diagnosis_group(mdc: int | None) -> str:
    return MDC_GROUPS.get(mdc, "other") if mdc is not None else "other"


__all__ = [
    "ADMISSION_TYPES_SEEN", "AGE_GROUPS", "LEAKAGE_COLUMNS", "LOS_FEATURES", "MDC_GROUPS",
    "RECORD_DTYPES", "RISK_OF_MORTALITY", "SEXES", "SIMULATOR_FEATURES", "diagnosis_group",
]
