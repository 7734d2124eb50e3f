"""The results of one replication: KPIs (catalogued in simulator/kpis.py), daily census,
and, when asked for, the per-patient event log."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from simulator.calendar import HOURS_PER_DAY, day_dates
from simulator.hospital import Hospital
from simulator.monitor import DailyRow

DAYS_PER_MONTH = 365.25 / 12


@dataclass
class SimulationResult:
    scenario: str
    policy: str
    seed: int
    kpis: dict[str, float]
    daily: pd.DataFrame
    events: pd.DataFrame | None = None
    capacity: pd.DataFrame | None = None
    hour_of_week: pd.DataFrame | None = None
    solves: pd.DataFrame | None = None
    replication: int = 0

    @classmethod
    def from_hospital(cls, hospital: Hospital, policy: str, seed: int) -> SimulationResult:
        scenario = hospital.scenario
        daily = pd.DataFrame(hospital.daily, columns=list(DailyRow._fields))
        dates = day_dates(scenario, hospital.days)
        daily.insert(1, "date", pd.to_datetime([dates[d] for d in daily["day"]]))
        daily.insert(2, "warmup", daily["day"] < scenario.warmup)
        events = capacity = None
        if hospital.log is not None:
            events = pd.DataFrame(hospital.log, columns=["time", "patient", "event", "unit"])
            capacity = pd.DataFrame(hospital.capacity_log, columns=["time", "unit", "staffed"])
        hours = None if hospital.hourly is None else hour_of_week(hospital, dates)
        return cls(scenario.name, policy, seed, compute_kpis(hospital), daily, events, capacity,
                   hours)


def hour_of_week(hospital: Hospital, dates: list) -> pd.DataFrame:
    """Mean census by weekday (0 = Monday), hour of day and unit, over the measured days."""
    units = [w.name for w in hospital.wards]
    wide = pd.DataFrame(hospital.hourly, columns=["day", "hour", *units])
    wide.insert(0, "weekday", [dates[d].weekday() for d in wide["day"]])
    long = wide.drop(columns="day").melt(["weekday", "hour"], var_name="unit",
                                         value_name="census")
    return long.groupby(["weekday", "hour", "unit"], as_index=False)["census"].mean()


def compute_kpis(h: Hospital) -> dict[str, float]:
    """Every KPI over the measured period (after the warm-up)."""
    now = h.env.now
    hours = now - h.warmup_end
    days = hours / HOURS_PER_DAY
    costs, counts = h.scenario.costs, h.counts
    k: dict[str, float] = {}
    occupied = staffed = premium = offservice = boarding = blocked = 0.0
    for ward in h.wards:
        o = ward.census.area_at(now) / HOURS_PER_DAY
        s = ward.staffed.area_at(now) / HOURS_PER_DAY
        k[f"mean_census.{ward.name}"] = o / days
        k[f"staffed_beds.{ward.name}"] = s / days
        k[f"idle_pct.{ward.name}"] = 100 * (1 - _occupied_share(o, s))
        occupied += o
        staffed += s
        premium += ward.premium.area_at(now) / HOURS_PER_DAY
        offservice += ward.offservice.area_at(now)
        boarding += ward.waiting.area_at(now)
        blocked += ward.blocked.area_at(now)
    arrivals = counts.arrivals
    overflow = counts.offservice_placements + counts.diversions
    waits = np.asarray(h.waits)
    target = h.scenario.boarding.target_hours
    shortfall_hours = h.vent_wait.area_at(now)
    k.update({
        "idle_pct": 100 * (1 - _occupied_share(occupied, staffed)),
        "occupancy_pct": 100 * _occupied_share(occupied, staffed),
        "mean_census": occupied / days,
        "occupied_bed_days": occupied,
        "staffed_bed_days": staffed,
        "premium_bed_days": premium,
        "arrivals": arrivals,
        "admissions": counts.admissions,
        "discharges": counts.discharges,
        "mean_los_days": counts.stay_days / counts.discharges if counts.discharges else np.nan,
        "overflow": overflow,
        "overflow_rate": overflow / arrivals if arrivals else 0.0,
        "offservice_placements": counts.offservice_placements,
        "offservice_patient_hours": offservice,
        "diversions": counts.diversions,
        "boarded_patients": counts.boarded,
        "boarded_share": counts.boarded / arrivals if arrivals else 0.0,
        "boarding_patient_hours": boarding,
        "time_to_bed_mean_h": waits.mean() if waits.size else 0.0,
        "time_to_bed_p90_h": float(np.quantile(waits, 0.9)) if waits.size else 0.0,
        "time_to_bed_within_target": float((waits <= target).mean()) if waits.size else 1.0,
        # a diverted patient waited too (up to the boarding limit) and never got a bed
        "long_wait_share": _share(int((waits > target).sum()) + counts.diversions,
                                  waits.size + counts.diversions),
        "transfer_delay_hours": blocked,
        "icu_requests": counts.icu_requests,
        "icu_refusals": counts.icu_refusals,
        "icu_refusal_rate": counts.icu_refusals / counts.icu_requests
        if counts.icu_requests else 0.0,
        "ventilators_in_use_mean": h.vent_used.area_at(now) / hours,
        "ventilator_shortfall_patients": counts.ventilator_shortfall_patients,
        "ventilator_shortfall_hours": shortfall_hours,
        "ventilator_shortfall_days_per_month": shortfall_hours / HOURS_PER_DAY
        / (days / DAYS_PER_MONTH),
        "elective_deferrals": counts.elective_deferrals,
        "elective_cancellations": counts.elective_cancellations,
        "electives": counts.electives,
        "elective_cancellation_rate": _share(counts.elective_cancellations, counts.electives),
        "invalid_placements": counts.invalid_placements,
    })
    # cost: each unit's bed-days at its own price (kind, nurse ratio); the premium bed-days
    # per unit are kept so the costs can be recomputed at other prices without re-running
    bed_days = {w.name: w.staffed.area_at(now) / HOURS_PER_DAY for w in h.wards}
    premium_days = {w.name: w.premium.area_at(now) / HOURS_PER_DAY for w in h.wards}
    k.update({f"premium_bed_days.{name}": days for name, days in premium_days.items()})
    cost = costs.components(
        [w.spec for w in h.wards], bed_days, premium_days,
        offservice_days=offservice / HOURS_PER_DAY, diversions=counts.diversions,
        icu_refusals=counts.icu_refusals, cancellations=counts.elective_cancellations,
        ventilator_shortfall_days=shortfall_hours / HOURS_PER_DAY,
    )
    k.update(cost)
    k["cost_total"] = sum(cost.values())
    return {name: float(value) for name, value in k.items()}


def _share(part: float, whole: float) -> float:
    return part / whole if whole else 0.0


def _occupied_share(occupied: float, staffed: float) -> float:
    """Occupied / staffed bed-hours. The census never exceeds staffed beds, but the two
    integrals are summed in different orders: a ratio a rounding error above 1 is 1."""
    if staffed <= 0:
        return float("nan")
    share = occupied / staffed
    return 1.0 if 1.0 < share < 1.0 + 1e-9 else share
