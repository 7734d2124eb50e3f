"""The SimPy hospital: `simulate(scenario, policy, seed)` runs one replication."""

from __future__ import annotations

import numpy as np
import pandas as pd

from scenarios.schema import TRAINED_LOS, Scenario
from simulator.demand import POLICY_NOISE, RandomStreams, child_seed, draw_patients
from simulator.hospital import Hospital
from simulator.initial import initial_patients
from simulator.los import ParametricLos
from simulator.protocols import (
    DIVERT,
    HOLD,
    DrawsNoise,
    LosModel,
    Oracle,
    Patient,
    Plan,
    Policy,
    ReportsKpis,
    ReportsSolves,
    StartsRun,
)
from simulator.result import SimulationResult
from simulator.view import HospitalView

__all__ = [
    "DIVERT", "HOLD", "HospitalView", "LosModel", "ParametricLos", "Patient", "Plan",
    "Policy", "SimulationResult", "simulate",
]


def simulate(
    scenario: Scenario,
    policy: Policy,
    seed: int | np.random.SeedSequence | None = None,
    *,
    los_model: LosModel | None = None,
    event_log: bool = False,
    hourly: bool = False,
    policy_name: str | None = None,
) -> SimulationResult:
    """One replication of `scenario` run by `policy`.

    Every random draw comes from streams spawned from `seed` (default: the scenario's), one
    per purpose, all made before the first event: two policies given the same seed meet the
    same patients with the same true LOS (common random numbers). `event_log` keeps every
    patient event and staffing change; `hourly` the census of each unit on the hour,
    summarised by hour of the week (for peak-period heat maps).
    """
    seed = scenario.seed if seed is None else seed
    streams = RandomStreams.spawn(seed)
    if los_model is None and scenario.los.model in TRAINED_LOS:
        raise ValueError(
            f"los.model {scenario.los.model!r} is a trained model: pass it as los_model= "
            "(experiments.trained.los.los_model_for(scenario) trains or loads it)"
        )
    los_model = los_model or ParametricLos(scenario.los)
    days = scenario.warmup + scenario.horizon_days
    present, placements = initial_patients(scenario, los_model, streams)
    arrivals = draw_patients(scenario, days, los_model, streams)
    patients = pd.concat([present, arrivals], ignore_index=True) if len(present) else arrivals
    hospital = Hospital(scenario, policy, patients, days, event_log=event_log, hourly=hourly)
    if isinstance(policy, StartsRun):
        policy.start(hospital.view)
    if isinstance(policy, DrawsNoise):
        policy.seed_noise(child_seed(seed, POLICY_NOISE))
    if isinstance(policy, Oracle):  # the future, for the perfect-information bound
        policy.reveal(hospital.truth())
    hospital.run(placements)
    name = policy_name or type(policy).__name__
    entropy = seed.entropy if isinstance(seed, np.random.SeedSequence) else seed
    result = SimulationResult.from_hospital(hospital, name, int(entropy))
    if isinstance(policy, ReportsKpis):  # what it measured itself (forecast error, solves)
        result.kpis.update(policy.kpis(hospital.view))
    if isinstance(policy, ReportsSolves):
        result.solves = policy.solve_log()
    return result
