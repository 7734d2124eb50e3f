"""The SimPy hospital: units, a ventilator pool, and patients flowing through them.

Patients are not SimPy processes. Every arrival and end of a phase of care is a SimPy
timeout whose callback moves the patient on; the day itself is one process (plan, capacity
shocks, the day's arrivals). That keeps the event loop to two events per patient and a few
per day, which is where the speed comes from, while SimPy still owns the clock and calendar.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np
import pandas as pd
import simpy
from simpy.events import URGENT

from scenarios.schema import Scenario, Unit, home_unit
from simulator.calendar import HOURS_PER_DAY
from simulator.monitor import Counts, DailyRow, DemandLevel, Level
from simulator.pathway import first_unit, phase_plan
from simulator.protocols import DIVERT, HOLD, ChoosesNext, Patient, Plan, Policy
from simulator.view import HospitalView

PATIENT_COLUMNS = (
    "kind", "age_group", "admission_type", "diagnosis_group", "specialty", "severity",
    "risk_of_mortality", "surgical", "needs_icu", "ventilated", "los_predicted",
)


class Tick(simpy.Event):
    """A timeout that fires before every other event of its instant, so a day's books close
    (and the census is read) at the stroke of midnight, before that instant's discharges
    and arrivals. Built as SimPy builds `Timeout`, with URGENT priority instead of NORMAL."""

    def __init__(self, env: simpy.Environment, delay: float) -> None:
        super().__init__(env)
        self._ok = True
        self._value = None
        env.schedule(self, URGENT, delay)


class Ward:
    """Run-time state of one unit (ward, ICU or step-down)."""

    __slots__ = (
        "beds", "blocked", "census", "demand", "feeders", "kind", "name", "nurse_ratio",
        "nurses", "occupants", "offservice", "options", "premium", "queue", "regular",
        "sources", "spec", "staffed", "target", "waiting", "wanted",
    )

    def __init__(self, spec: Unit) -> None:
        self.spec = spec
        self.name, self.kind, self.beds = spec.name, spec.kind, spec.beds
        self.nurse_ratio, self.nurses = spec.nurse_ratio, spec.nurses
        self.wanted = self.target = spec.default_staffed  # policy's wish; what can be had
        self.regular = self.beds  # beds the rostered nurses on duty can cover; set daily
        self.staffed = Level(self.target)
        self.premium = Level()
        self.census = Level()
        self.offservice = Level()
        self.blocked = Level()
        self.demand = DemandLevel(self.blocked)
        self.waiting = Level()
        self.queue: deque[Stay] = deque()
        self.feeders: list[Ward] = []
        self.options: tuple[str, ...] = (spec.name, *spec.overflow_to)
        self.occupants: set[Patient] = set()

    @property
    def free(self) -> int:
        return self.staffed.value - self.census.value

    def levels(self) -> dict[str, Level]:
        return {
            "census": self.census, "staffed": self.staffed, "premium": self.premium,
            "demand": self.demand, "offservice": self.offservice, "blocked": self.blocked,
            "waiting": self.waiting,
        }


class Stay:
    """The simulator's private side of a patient: true phases of care and where they are."""

    __slots__ = (
        "deferrals", "elective", "off", "patient", "phase", "phases", "started", "unit",
        "vent", "vent_waiting", "waiting_for",
    )

    def __init__(self, patient: Patient, phases: list, elective: bool) -> None:
        self.patient = patient
        self.phases = phases  # [(Ward, hours), ...]
        self.phase = 0
        self.elective = elective
        self.unit: Ward | None = None
        self.waiting_for: Ward | None = None
        self.started = 0.0
        self.off = False  # lies off-service for the current phase
        self.vent = False
        self.vent_waiting = False
        self.deferrals = 0


class Hospital:
    """One replication: build it, `run()` it, read its monitors."""

    def __init__(
        self,
        scenario: Scenario,
        policy: Policy,
        patients: pd.DataFrame,
        days: int,
        event_log: bool = False,
        hourly: bool = False,
    ) -> None:
        self.scenario, self.policy, self.days = scenario, policy, days
        self._admit_next = policy.admit_next if isinstance(policy, ChoosesNext) else None
        self.env = simpy.Environment()
        self.wards = [Ward(u) for u in scenario.units]
        self.by_name = {w.name: w for w in self.wards}
        for ward in self.wards:
            for target in ward.spec.overflow_to:
                self.by_name[target].feeders.append(ward)
        for ward in self.wards:
            ward.sources = (ward, *ward.feeders)  # whose queues a free bed here may serve
        self.icu = next((w for w in self.wards if w.kind == "icu"), None)
        self.ventilators = scenario.ventilators
        self.vent_available = Level(scenario.ventilators)
        self.vent_used = Level()
        self.vent_wait = Level()
        self.vent_queue: deque[Stay] = deque()
        self.boarding = scenario.boarding
        self.counts = Counts()
        self.waits: list[float] = []
        self.day = 0
        self.warmup_end = scenario.warmup * HOURS_PER_DAY
        self.log: list[tuple] | None = [] if event_log else None
        self.capacity_log: list[tuple] | None = [] if event_log else None
        self.hourly: list[tuple] | None = [] if hourly else None
        self.view = HospitalView(self)
        self._electives_today: list[Stay] = []
        self._deferred: list[Stay] = []
        self._homes: dict[tuple[str, str], int] = {}
        self._patients = patients
        self._columns = {
            c: patients[c].tolist() for c in (*PATIENT_COLUMNS, "time", "los_true", "stream")
        }
        self._discharge_hour = patients["discharge_hour"].tolist()
        self._day_start = np.searchsorted(
            patients["time"].to_numpy(), np.arange(days + 1) * HOURS_PER_DAY
        ).tolist()
        self.daily: list[DailyRow] = []
        self._daily_marks: dict[tuple[str, str], float] = {}
        # per unit, today: [admissions, discharges, arrivals needing it, of them electives]
        self._day_counts: dict[str, list[int]] = {w.name: [0, 0, 0, 0] for w in self.wards}
        self.arrival_history: dict[str, list[int]] = {w.name: [] for w in self.wards}
        self.elective_history: dict[str, list[int]] = {w.name: [] for w in self.wards}
        self.demand_history: dict[str, list[float]] = {w.name: [] for w in self.wards}
        self.need_peaks: dict[str, list[float]] = {w.name: [] for w in self.wards}
        self._levels = list(self.all_levels().items())
        self._shocks: list = []
        self._on_arrival = self._arrive
        self._on_phase_end = self._end_phase
        self._on_boarding_limit = self._boarding_limit
        self._on_unserved_end = self._unserved_end

    # ---------------------------------------------------------------- building patients
    def _home(self, specialty: str, age_group: str) -> int:
        key = (specialty, age_group)
        index = self._homes.get(key)
        if index is None:
            index = self._homes[key] = home_unit(self.scenario.units, specialty, age_group)
        return index

    def make_stay(self, i: int) -> Stay:
        c = self._columns
        home_index = self._home(c["specialty"][i], c["age_group"][i])
        home = self.wards[home_index]
        needs_icu = c["needs_icu"][i]
        if needs_icu:
            plan = phase_plan(self.scenario, home_index, True, c["los_true"][i])
            phases = [(self.wards[u], hours) for u, hours in plan]
        else:
            phases = [(home, c["los_true"][i] * HOURS_PER_DAY)]
        kind = c["kind"][i]
        # Patient's fields in their order (positional: keywords cost 0.5 µs a patient, 4%
        # of a run); tests/test_patients.py checks every field against the drawn columns
        patient = Patient(
            i, c["time"][i], kind, c["age_group"][i], c["admission_type"][i],
            c["diagnosis_group"][i], c["specialty"][i], c["severity"][i],
            c["risk_of_mortality"][i], c["surgical"][i], needs_icu, c["ventilated"][i],
            c["los_predicted"][i], home.name, phases[0][0].name,
        )
        return Stay(patient, phases, kind == "elective")

    def truth(self) -> pd.DataFrame:
        """Every patient of the run as drawn, true LOS included, with the unit each first
        needs and their home ward: what an oracle policy is allowed to see."""
        c = self._columns
        homes = [self._home(s, a) for s, a in zip(c["specialty"], c["age_group"], strict=True)]
        firsts = [self.wards[first_unit(self.scenario, h, icu)].name
                  for icu, h in zip(c["needs_icu"], homes, strict=True)]
        return self._patients.assign(home=[self.wards[h].name for h in homes], needs=firsts)

    # ---------------------------------------------------------------- running
    def run(self, initial: list[tuple[int, int, float]] = ()) -> None:
        """Simulate; `initial` lists (patient row, phase, hours left) already in bed."""
        self.env.process(self._days(initial))
        if self.hourly is not None:
            self.env.process(self._hours())
        self.env.run(until=self.days * HOURS_PER_DAY)
        self._record_day(self.days - 1)

    def _days(self, initial: list[tuple[int, int, float]]):
        env = self.env
        for day in range(self.days):
            self.day = day
            if day > 0:
                self._record_day(day - 1)
            if day * HOURS_PER_DAY == self.warmup_end:
                self._reset_monitors()
            self._apply_shocks(day)
            if day == 0:
                for row, phase, remaining in initial:
                    self._place_initial(self.make_stay(row), phase, remaining)
            # Each arrival is a timeout whose value is the stay and whose callback admits it.
            now, arrive = env.now, self._on_arrival
            self._electives_today = self._deferred
            self._deferred = []
            for i in range(self._day_start[day], self._day_start[day + 1]):
                stay = self.make_stay(i)
                if stay.elective:
                    self.counts.electives += 1
                    self._electives_today.append(stay)
                else:
                    env.timeout(stay.patient.arrival - now, stay).callbacks.append(arrive)
            plan = self.policy.plan(day, self.view)
            if plan is not None:
                self._apply_plan(plan)
            for stay in self._electives_today:
                env.timeout(stay.patient.arrival - now, stay).callbacks.append(arrive)
            self._electives_today = []
            yield Tick(env, HOURS_PER_DAY)

    def _apply_plan(self, plan: Plan) -> None:
        for name, beds in plan.staffed.items():
            ward = self.by_name.get(name)
            if ward is None:
                raise ValueError(f"policy planned staffing for unknown unit {name!r}")
            self._set_target(ward, int(beds))
        if plan.defer:
            kept = []
            for stay in self._electives_today:
                if stay.patient.pid in plan.defer:
                    self._defer(stay)
                else:
                    kept.append(stay)
            self._electives_today = kept

    def _defer(self, stay: Stay) -> None:
        stream = self.scenario.arrivals[self._columns["stream"][stay.patient.pid]]
        stay.deferrals += 1
        self.counts.elective_deferrals += 1
        self._log(stay, "defer", None)
        if stay.deferrals > stream.max_deferral_days:
            self.counts.elective_cancellations += 1
            self._log(stay, "cancel", None)
            return
        stay.patient.arrival += HOURS_PER_DAY
        self._deferred.append(stay)

    # ---------------------------------------------------------------- capacity
    def _capacity(self, ward: Ward) -> int:
        return min(ward.beds, ward.regular + ward.spec.agency_beds)

    def _set_target(self, ward: Ward, beds: int) -> None:
        ward.wanted = beds
        ward.target = max(0, min(beds, self._capacity(ward)))
        self._sync_staffed(ward)

    def _sync_staffed(self, ward: Ward) -> None:
        """Open beds at once; close them only as they empty."""
        now = self.env.now
        staffed = max(ward.target, ward.census.value)
        if staffed != ward.staffed.value:
            ward.staffed.set(now, staffed)
            if self.capacity_log is not None:
                self.capacity_log.append((now, ward.name, staffed))
        ward.premium.set(now, max(0, staffed - ward.regular))
        if ward.free > 0:
            self._fill(ward)

    def _apply_shocks(self, day: int) -> None:
        """Nurses and ventilators in service today; work only on days that change them."""
        offset = day - self.scenario.warmup
        active = [
            surge for surge in self.scenario.surges
            if surge.start_day <= offset < surge.start_day + surge.duration_days
            and (surge.staff_availability or surge.ventilators_out)
        ]
        if day > 0 and active == self._shocks:
            return
        self._shocks = active
        availability = {w.name: 1.0 for w in self.wards}
        vents_out = 0
        for surge in active:
            for name, share in surge.staff_availability.items():
                for ward in self.wards if name == "*" else [self.by_name[name]]:
                    availability[ward.name] *= share
            vents_out += surge.ventilators_out
        # Ventilators first: re-staffing below admits boarders, who may need one.
        self.vent_available.set(self.env.now, max(0, self.ventilators - vents_out))
        self._serve_ventilators()
        for ward in self.wards:
            nurses = math.floor(ward.nurses * availability[ward.name] + 1e-9)
            ward.regular = min(ward.beds, math.floor(nurses * ward.nurse_ratio + 1e-9))
            self._set_target(ward, ward.wanted)

    # ---------------------------------------------------------------- patient flow
    def _arrive(self, event) -> None:
        stay = event.value
        patient = stay.patient
        now = self.env.now
        self.counts.arrivals += 1
        need = stay.phases[0][0]
        need.demand.add(now, 1)
        counts = self._day_counts[need.name]
        counts[2] += 1
        counts[3] += stay.elective
        if need is self.icu:
            self.counts.icu_requests += 1
        if self.log is not None:
            self._log(stay, "arrive", None)
        self._request(stay, need, patient)

    def _request(self, stay: Stay, need: Ward, patient: Patient) -> None:
        now = self.env.now
        patient.requested_at = now
        choice = self.policy.place(patient, self.view)
        if choice in (HOLD, DIVERT):
            target = None
        else:
            target = self.by_name.get(choice)
            if target is None or target.free <= 0:
                self.counts.invalid_placements += 1
                target = None
        first = stay.phase == 0
        if first and need is self.icu and target is not need:
            self.counts.icu_refusals += 1
        if target is not None:
            self._move(stay, target)
        elif first and stay.elective:
            self.counts.elective_cancellations += 1
            self._log(stay, "cancel", None)
            self._unserved(stay)
        elif first and choice == DIVERT:
            self._divert(stay, need)
        else:
            self._hold(stay, need)

    def _hold(self, stay: Stay, need: Ward) -> None:
        now = self.env.now
        limit = self.boarding.limit_hours
        if stay.unit is None and limit is not None and limit <= 0:
            self._after_limit(stay, need)
            return
        stay.waiting_for = need
        need.queue.append(stay)
        if stay.unit is not None:  # ready to move on, kept in the bed it has
            stay.unit.blocked.add(now, 1)
            stay.unit.demand.blocked_here()
            return
        need.waiting.add(now, 1)
        self.counts.boarded += 1
        self._log(stay, "board", need.name)
        if limit is not None:
            self.env.timeout(limit, stay).callbacks.append(self._on_boarding_limit)

    def _boarding_limit(self, event) -> None:
        stay = event.value
        need = stay.waiting_for
        if need is None or stay.unit is not None:
            return  # found a bed in time
        stay.waiting_for = None
        need.waiting.add(self.env.now, -1)
        self._after_limit(stay, need)

    def _hours(self):
        """Census of every unit on the hour (for hour-of-week patterns), after the warm-up."""
        env = self.env
        start = self.warmup_end
        yield env.timeout(start)
        for hour in range(int(start), int(self.days * HOURS_PER_DAY)):
            day, hour_of_day = divmod(hour, HOURS_PER_DAY)
            self.hourly.append((day, hour_of_day, *(w.census.value for w in self.wards)))
            yield Tick(env, 1)

    def _after_limit(self, stay: Stay, need: Ward) -> None:
        """Boarded as long as allowed: off-service in any unit of the same kind, or away."""
        if self.boarding.on_limit == "off_service":
            for ward in self.wards:
                if ward.kind == need.kind and ward is not need and ward.free > 0:
                    self._admit(stay, ward, self.env.now)
                    return
        self._divert(stay, need)

    def _divert(self, stay: Stay, need: Ward) -> None:
        self.counts.diversions += 1
        self._log(stay, "divert", need.name)
        self._unserved(stay)

    def _unserved(self, stay: Stay) -> None:
        """A patient sent away still needed care: each remaining phase stays demand on its
        unit for as long as it would have lasted from the bed request, so no unit learns
        from refusing patients that it needs fewer beds (demand is never censored)."""
        now = self.env.now
        end = stay.patient.requested_at + stay.phases[stay.phase][1]
        self.env.timeout(max(0.0, end - now), stay).callbacks.append(self._on_unserved_end)

    def _unserved_end(self, event) -> None:
        stay = event.value
        now = self.env.now
        stay.phases[stay.phase][0].demand.add(now, -1)
        stay.phase += 1
        if stay.phase < len(stay.phases):
            ward, hours = stay.phases[stay.phase]
            ward.demand.add(now, 1)
            self.env.timeout(hours, stay).callbacks.append(self._on_unserved_end)

    def _admit(self, stay: Stay, ward: Ward, now: float) -> None:
        patient = stay.patient
        need = stay.phases[stay.phase][0]
        if stay.waiting_for is not None:
            stay.waiting_for = None
            (need.waiting if stay.unit is None else stay.unit.blocked).add(now, -1)
        if stay.phase == 0:
            self.counts.admissions += 1
            stay.started = patient.admitted = now
            if not stay.elective:
                self.waits.append(now - patient.requested_at)
            self._day_counts[ward.name][0] += 1
        ward.census.add(now, 1)
        ward.occupants.add(patient)
        if ward is not need:
            stay.off = True
            ward.offservice.add(now, 1)
            self.counts.offservice_placements += 1
        stay.unit = ward
        patient.unit = ward.name
        if self.log is not None:
            self._log(stay, "admit", ward.name)
        if patient.ventilated and ward.kind == "icu" and need is self.icu:
            self._take_ventilator(stay)
        self._start_phase(stay, now)

    def _leave(self, stay: Stay) -> None:
        """Take the patient out of their bed (the caller decides what the free bed does)."""
        now = self.env.now
        ward, patient = stay.unit, stay.patient
        ward.census.add(now, -1)
        ward.occupants.discard(patient)
        if stay.off:
            stay.off = False
            ward.offservice.add(now, -1)
        if stay.vent or stay.vent_waiting:
            self._release_ventilator(stay)

    def _end_phase(self, event) -> None:
        stay = event.value
        now = self.env.now
        need, _ = stay.phases[stay.phase]
        need.demand.add(now, -1)
        if stay.vent or stay.vent_waiting:
            self._release_ventilator(stay)
        if stay.phase == len(stay.phases) - 1:
            ward = stay.unit
            self._leave(stay)
            self.counts.discharges += 1
            self.counts.stay_days += (now - stay.started) / HOURS_PER_DAY
            self._day_counts[ward.name][1] += 1
            if self.log is not None:
                self._log(stay, "discharge", ward.name)
            self._bed_freed(ward)
            return
        if stay.off:  # until moved on, the patient counts as a delayed transfer instead
            stay.off = False
            stay.unit.offservice.add(now, -1)
        stay.phase += 1
        nxt = stay.phases[stay.phase][0]
        nxt.demand.add(now, 1)
        stay.patient.needs = nxt.name
        if stay.unit is nxt:
            self._start_phase(stay, now)
        else:
            self._request(stay, nxt, stay.patient)

    def _start_phase(self, stay: Stay, now: float) -> None:
        """Set the clock for the current phase; the last one ends at a discharge hour."""
        phases = stay.phases
        hours = phases[stay.phase][1]
        if stay.phase == len(phases) - 1:
            hour = self._discharge_hour[stay.patient.pid]
            if hour == hour:  # not NaN: discharges follow the hour-of-day profile
                end = math.floor((now + hours) / HOURS_PER_DAY) * HOURS_PER_DAY + hour
                hours = end - now if end > now else end - now + HOURS_PER_DAY
        self.env.timeout(hours, stay).callbacks.append(self._on_phase_end)

    def _bed_freed(self, ward: Ward) -> None:
        if ward.staffed.value > ward.target:
            self._sync_staffed(ward)
        elif ward.queue or ward.feeders:
            self._fill(ward)

    def _fill(self, ward: Ward) -> None:
        """Give free beds to waiting patients: the unit's own queue first, then those of
        units allowed to overflow here, oldest request first."""
        while ward.free > 0:
            stay = self._next_waiting(ward)
            if stay is None:
                return
            self._move(stay, ward)

    def _next_waiting(self, ward: Ward) -> Stay | None:
        """Who a free bed here goes to: the policy's choice among the first in line of
        each queue it serves (`ChoosesNext`), else its own queue first, then the oldest."""
        heads = []
        for owner in ward.sources:
            queue = owner.queue
            while queue and queue[0].waiting_for is not owner:
                queue.popleft()  # left the queue some other way
            if not queue:
                continue
            if owner is ward and self._admit_next is None:
                return queue.popleft()
            heads.append(queue)
        if len(heads) <= 1 or self._admit_next is None:
            return min(heads, key=lambda q: q[0].patient.requested_at).popleft() if heads else None
        chosen = self._admit_next(ward.name, [q[0].patient for q in heads], self.view)
        for queue in heads:
            if queue[0].patient is chosen:
                return queue.popleft()
        raise ValueError(f"policy chose a patient not offered for a bed in {ward.name!r}")

    def _move(self, stay: Stay, ward: Ward) -> None:
        """Into `ward`, from boarding or from the bed of the previous phase."""
        old = stay.unit
        if old is not None:
            self._leave(stay)
        self._admit(stay, ward, self.env.now)
        if old is not None:
            self._bed_freed(old)

    # ---------------------------------------------------------------- ventilators
    def _take_ventilator(self, stay: Stay) -> None:
        now = self.env.now
        if self.vent_used.value < self.vent_available.value:
            self.vent_used.add(now, 1)
            stay.vent = True
            self._log(stay, "vent_on", None)
        else:
            stay.vent_waiting = True
            self.vent_wait.add(now, 1)
            self.vent_queue.append(stay)
            self.counts.ventilator_shortfall_patients += 1
            self._log(stay, "vent_short", None)

    def _release_ventilator(self, stay: Stay) -> None:
        now = self.env.now
        if stay.vent:
            stay.vent = False
            self.vent_used.add(now, -1)
            self._log(stay, "vent_off", None)
            self._serve_ventilators()
        else:
            stay.vent_waiting = False
            self.vent_wait.add(now, -1)

    def _serve_ventilators(self) -> None:
        now = self.env.now
        while self.vent_queue and self.vent_used.value < self.vent_available.value:
            stay = self.vent_queue.popleft()
            if stay.vent_waiting:
                stay.vent_waiting = False
                self.vent_wait.add(now, -1)
                self.vent_used.add(now, 1)
                stay.vent = True
                self._log(stay, "vent_on", None)

    # ---------------------------------------------------------------- initial census
    def _place_initial(self, stay: Stay, phase: int, remaining: float) -> None:
        """A patient already in bed at time 0, `remaining` hours into phase `phase`."""
        stay.phase = phase
        ward = stay.phases[phase][0]
        stay.patient.needs = ward.name
        stay.patient.requested_at = 0.0
        ward.demand.add(0.0, 1)
        ward.census.add(0.0, 1)
        if ward.census.value > ward.staffed.value:  # a bed in use stays open (staff or not)
            self._sync_staffed(ward)
        ward.occupants.add(stay.patient)
        stay.unit = ward
        stay.patient.unit = ward.name
        self._log(stay, "admit", ward.name)
        if stay.patient.ventilated and ward is self.icu:
            self._take_ventilator(stay)
        stay.phases = [*stay.phases[:phase], (ward, remaining), *stay.phases[phase + 1:]]
        self._start_phase(stay, 0.0)

    # ---------------------------------------------------------------- monitoring
    def all_levels(self) -> dict[tuple[str, str], Level]:
        levels = {(w.name, k): v for w in self.wards for k, v in w.levels().items()}
        levels[("ventilators", "census")] = self.vent_used
        levels[("ventilators", "staffed")] = self.vent_available
        levels[("ventilators", "waiting")] = self.vent_wait
        return levels

    def _reset_monitors(self) -> None:
        now = self.env.now
        for level in self.all_levels().values():
            level.reset(now)
        self._daily_marks = {}
        self.counts.reset()
        self.waits.clear()

    def _record_day(self, day: int) -> None:
        """Daily means of every level, and admissions/discharges per unit."""
        now = self.env.now
        means = {}
        for key, level in self._levels:
            area = level.area_at(now)
            means[key] = (area - self._daily_marks.get(key, 0.0)) / HOURS_PER_DAY
            self._daily_marks[key] = area
        for ward in self.wards:
            name = ward.name
            admitted, discharged, arrived, electives = self._day_counts[name]
            self._day_counts[name] = [0, 0, 0, 0]
            self.elective_history[name].append(electives)
            demand, peak = means[(name, "demand")], ward.demand.restart_peak()
            self.demand_history[name].append(demand)
            self.need_peaks[name].append(peak)
            self.arrival_history[name].append(arrived)
            self.daily.append(DailyRow(
                day, name, means[(name, "census")], ward.census.value, means[(name, "staffed")],
                demand, peak, means[(name, "waiting")] + means[(name, "blocked")],
                means[(name, "offservice")], admitted, discharged, arrived,
            ))
        vents = means[("ventilators", "census")]
        short = means[("ventilators", "waiting")]
        self.daily.append(DailyRow(
            day, "ventilators", vents, self.vent_used.value, means[("ventilators", "staffed")],
            vents + short, float("nan"), short, 0.0, 0, 0, 0,
        ))

    def _log(self, stay: Stay, event: str, unit: str | None) -> None:
        if self.log is not None:
            self.log.append((self.env.now, stay.patient.pid, event, unit))
