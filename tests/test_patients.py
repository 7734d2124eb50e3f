"""The simulator builds each `Patient` positionally (a hot path): every field must hold the
column drawn for it."""

from __future__ import annotations

import scenarios
from policies import make_policy
from simulator.demand import RandomStreams, draw_patients
from simulator.hospital import Hospital
from simulator.los import ParametricLos

FIELDS = {  # Patient field -> drawn column
    "arrival": "time", "kind": "kind", "age_group": "age_group",
    "admission_type": "admission_type", "diagnosis_group": "diagnosis_group",
    "specialty": "specialty", "severity": "severity", "risk_of_mortality": "risk_of_mortality",
    "surgical": "surgical", "needs_icu": "needs_icu", "ventilated": "ventilated",
    "predicted_los": "los_predicted", "home": "home", "needs": "needs",
}


def test_every_patient_field_holds_its_drawn_column():
    scenario = scenarios.load("baseline", ["horizon_days=20", "warmup_days=0"])
    patients = draw_patients(scenario, 20, ParametricLos(scenario.los), RandomStreams.spawn(3))
    hospital = Hospital(scenario, make_policy("static"), patients, 20)
    truth = hospital.truth()
    assert truth["needs_icu"].any() and (truth["kind"] == "elective").any()
    for row in range(0, len(truth), 7):
        patient = hospital.make_stay(row).patient
        assert patient.pid == row
        for field, column in FIELDS.items():
            assert getattr(patient, field) == truth[column].iloc[row], (row, field)
