"""Rolling-horizon MILP: each morning, staffed beds per unit and day and which of today's
electives to admit, minimising the scenario's costs over the projected census.

Counts per unit and day only (no bed identity: DESIGN's solver facts). The census of a
unit-day is random (normal: projected mean, Poisson variance of the arrivals), so its
expected excess over the staffed beds is a convex function of the beds, written exactly at
integer points by tangent cuts: the model is a newsvendor per unit-day, coupled by the
electives, whose deferral moves their load one day later.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import pulp

from policies.greedy import Greedy, Outlook
from simulator import HospitalView, Plan

NORMAL = NormalDist()
CUT_SPREAD = 3.0  # tangent points cover the mean +/- this many standard deviations
MAX_CUTS = 12


@dataclass
class Model:
    """One morning's MILP and the handles to fix or read its decisions."""

    prob: pulp.LpProblem
    staffed: dict[tuple[str, int], pulp.LpVariable]
    admit: list[pulp.LpVariable]


class Milp(Greedy):
    """Solve the morning MILP (HiGHS by default, CBC selectable) within `time_limit`
    seconds and a wall-clock guard; on failure use greedy's plan and record why.

    `excess_cost` (per patient-day beyond the staffed beds; default: a staffed bed
    elsewhere plus the off-service penalty) and `deferral_cost` (per elective pushed a day;
    default a tenth of a cancellation) price what the scenario's cost table leaves implicit.
    `quantile` and `headroom` configure the greedy fallback.
    """

    def __init__(
        self, forecast: str = "historical", horizon: int = 7, solver: str = "highs",
        time_limit: float = 2.0, wall_limit: float = 10.0, excess_cost: float | None = None,
        deferral_cost: float | None = None, quantile: float = 0.9, headroom: float = 0.0,
    ) -> None:
        super().__init__(forecast, horizon, quantile, headroom)
        if solver not in ("highs", "cbc"):
            raise ValueError(f"unknown solver {solver!r}; available: cbc, highs")
        self.solver, self.time_limit, self.wall_limit = solver, time_limit, wall_limit
        self.excess_cost, self.deferral_cost = excess_cost, deferral_cost
        self.solves: list[dict] = []
        self.fallbacks: list[tuple[int, str]] = []

    def plan(self, day: int, view: HospitalView) -> Plan | None:
        outlook = self.outlook(view)
        if outlook is None:
            return None
        try:
            plan = self.optimise(outlook, view)
        except Exception as error:  # any solver failure: greedy for today, recorded
            self.fallbacks.append((day, f"{type(error).__name__}: {error}"))
            plan = self.decide(outlook, view)
        self.note_deferred(plan)
        return plan

    def optimise(self, outlook: Outlook, view: HospitalView) -> Plan:
        model = self.build(outlook, view)
        record = self.solve(model, view.day)
        if record["sol_status"] != pulp.LpSolutionOptimal:
            raise SolverFailed(f"status {record['status']}, solution {record['sol_status']}")
        if record["seconds"] > self.wall_limit:
            raise SolverFailed(f"wall-clock guard: {record['seconds']:.2f} s")
        staffed = {u: round(model.staffed[u, 0].value()) for u in outlook.units}
        self.set_headroom(outlook, staffed)
        defer = frozenset(
            p.pid for p, x in zip(outlook.electives, model.admit, strict=True) if x.value() < 0.5
        )
        return Plan(staffed=staffed, defer=defer)

    def build(self, outlook: Outlook, view: HospitalView) -> Model:
        """Variables s[u,d] (integer staffed beds, 0..capacity), p[u,d] >= s - regular
        (premium beds), o[u,d] >= expected excess patients, x[e] (binary: admit elective e
        today, else tomorrow). Minimise staffing + premium + excess + deferrals."""
        costs = view.scenario.costs
        excess = self.excess_cost
        if excess is None:
            excess = costs.staffed_bed_day + costs.overflow_patient_day
        deferral = self.deferral_cost
        if deferral is None:
            deferral = costs.elective_cancellation / 10
        horizon = outlook.mean.shape[1]
        prob = pulp.LpProblem("morning", pulp.LpMinimize)
        loads = outlook.elective_load
        shifted = np.zeros_like(loads)
        shifted[:, :, 1:] = loads[:, :, :-1]
        admit = []
        for i, patient in enumerate(outlook.electives):
            low = 0 if self.may_defer(patient, view) else 1
            admit.append(prob.add_variable(f"x{i}", low, 1, cat=pulp.LpBinary))
        base = outlook.mean + shifted.sum(axis=0)  # every elective deferred
        delta = loads - shifted  # what admitting each adds, unit by day
        # Expressions are built as coefficient lists rather than with PuLP's operators
        # (several times faster); the rows and coefficients are the same.
        ge, add = pulp.LpConstraintGE, prob.addConstraint
        expression, constraint = pulp.LpAffineExpression, pulp.LpConstraint
        objective = expression()
        premium = costs.premium_bed_day - costs.staffed_bed_day
        staffed = {}
        for u, j in outlook.units.items():
            cap, regular = view.capacity(u), view.regular_capacity(u)
            for d in range(horizon):
                s = prob.add_variable(f"s_{u}_{d}", 0, cap, cat=pulp.LpInteger)
                p = prob.add_variable(f"p_{u}_{d}", 0)
                o = prob.add_variable(f"o_{u}_{d}", 0)
                staffed[u, d] = s
                add(constraint(expression([(p, 1), (s, -1)], constant=regular), ge))
                taken = [(admit[i], delta[i, j, d]) for i in range(len(admit))
                         if delta[i, j, d] != 0]
                # o >= value + slope * (y - point), y = s - sum(c x): beds left for the rest
                for point, value, slope in tangents(base[j, d], outlook.var[j, d], cap):
                    terms = [(o, 1), (s, -slope), *((x, c * slope) for x, c in taken)]
                    rhs = value + slope * -point
                    add(constraint(expression(terms, constant=-rhs), ge))
                objective[s] = costs.staffed_bed_day
                objective[p] = premium
                objective[o] = excess
        constant = 0.0
        for x in admit:
            objective[x] = -deferral
            constant += deferral
        objective.constant = constant
        prob.setObjective(objective)
        return Model(prob, staffed, admit)

    def solve(self, model: Model, day: int) -> dict:
        """Solve and keep status, objective, gap and time in `self.solves`."""
        if self.solver == "highs":
            solver = pulp.HiGHS(msg=False, timeLimit=self.time_limit)
        else:
            solver = pulp.PULP_CBC_CMD(msg=False, timeLimit=self.time_limit)
        start = time.perf_counter()
        status = model.prob.solve(solver)
        seconds = time.perf_counter() - start
        record = {
            "day": day, "status": pulp.LpStatus[status], "sol_status": model.prob.sol_status,
            "objective": pulp.value(model.prob.objective), "gap": _gap(model.prob),
            "seconds": seconds,
        }
        self.solves.append(record)
        return record

    def evaluate(self, outlook: Outlook, view: HospitalView, plan: Plan,
                 later: dict[str, list[int]]) -> float:
        """The MILP's cost of a given plan (today's staffing and deferrals, `later` days'
        staffing): how greedy's plan is compared with the MILP's on the same terms."""
        model = self.build(outlook, view)
        for (u, d), s in model.staffed.items():
            value = plan.staffed[u] if d == 0 else later[u][d - 1]
            s.lowBound = s.upBound = value
        for x, patient in zip(model.admit, outlook.electives, strict=True):
            x.lowBound = x.upBound = 0 if patient.pid in plan.defer else 1
        self.solve(model, view.day)
        return pulp.value(model.prob.objective)


class SolverFailed(RuntimeError):
    """The solver returned no proven optimum in time."""


def tangents(mean: float, var: float, cap: int) -> list[tuple[float, float, float]]:
    """(point, expected excess, slope) of E[(N - t)+], N ~ normal(mean, var), at integer
    points t spanning the distribution (and the asymptote o >= mean - t beyond it)."""
    cuts = [(mean, 0.0, -1.0)]  # o >= mean - t: the line E[(N - t)+] approaches
    sd = math.sqrt(max(var, 0.0))
    if sd < 1e-6:
        return cuts
    low = max(0, math.floor(mean - CUT_SPREAD * sd))
    high = min(cap, math.ceil(mean + CUT_SPREAD * sd))
    step = max(1, math.ceil((high - low + 1) / MAX_CUTS))
    for t in range(low, high + 1, step):
        z = (t - mean) / sd
        tail = 1.0 - NORMAL.cdf(z)
        cuts.append((float(t), sd * (NORMAL.pdf(z) - z * tail), -tail))
    return cuts


def _gap(prob: pulp.LpProblem) -> float | None:
    """HiGHS's relative MIP gap (CBC through PuLP does not report one)."""
    model = getattr(prob, "solverModel", None)
    if model is None:
        return None
    try:
        return float(model.getInfo().mip_gap)
    except AttributeError:
        return None
