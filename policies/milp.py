"""Rolling-horizon MILP: each morning, staffed beds per unit and day and which of today's
electives to admit, minimising the scenario's costs over the projected peak bed need, with
every bed short of the service level's staffing priced so dear that service levels bind.

Counts per unit and day only (no bed identity: a MILP over patients x beds does not scale,
see policies/bed_assignment.py). The peak need of a unit-day is random (normal: the
projection's mean and variance, `policies.base`), so its
expected excess over the staffed beds is a convex function of the beds: the model is a
newsvendor per unit-day, coupled by the electives, whose deferral moves their load one day
later. Unit-days no elective moves are priced on their own, exactly; the coupled ones carry
chords of that function between the integers where their optimum can lie, so the MILP is
exact too, and only the electives are integer variables.
"""

from __future__ import annotations

import functools
import os
import sys
import time
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
import pulp
from scipy.special import ndtr

from policies.greedy import Greedy, Outlook
from simulator import HospitalView, Plan

SQRT_2PI = float(np.sqrt(2 * np.pi))
SOLVE_COLUMNS = ["day", "status", "objective", "gap", "seconds", "milp"]


@dataclass(frozen=True)
class Prices:
    """One unit's prices: per bed-day staffed, extra per premium bed-day, per expected
    excess patient-day."""

    bed: float
    premium: float
    excess: float


@dataclass(frozen=True)
class UnitDay:
    """One unit-day: peak bed need ~ normal(mean, sd²), the beds that may be staffed, and the
    service level's beds (`floor`: cover the peak on its share of days), each bed short of
    it priced at `breach`, so service levels bind before costs rank."""

    mean: float
    sd: float
    cap: int
    regular: int
    prices: Prices
    floor: int = 0
    breach: float = 0.0

    def excess(self, y: np.ndarray) -> np.ndarray:
        """E[(N - y)+], the expected patients beyond `y` beds."""
        if self.sd < 1e-6:
            return np.maximum(0.0, self.mean - y)
        z = (y - self.mean) / self.sd
        return self.sd * (np.exp(-z * z / 2) / SQRT_2PI - z * ndtr(-z))

    def shortfall(self, y: np.ndarray) -> np.ndarray:
        """What `y` beds left for the non-electives cost beyond their own price: expected
        excess patients, and beds short of the service level (convex in y)."""
        return (self.prices.excess * self.excess(y)
                + self.breach * np.maximum(0.0, self.floor - y))

    def cost(self, shift: float = 0.0) -> np.ndarray:
        """Cost of staffing 0..cap beds when `shift` of them go to admitted electives."""
        s, prices = np.arange(self.cap + 1, dtype=float), self.prices
        return (prices.bed * s + prices.premium * np.maximum(0.0, s - self.regular)
                + self.shortfall(s - shift))

    def cuts(self, low: float, high: float) -> list[tuple[float, float, float]]:
        """Chords (point, value, slope) of `shortfall` between consecutive integers, over
        every integer the optimum's y = s - shift can take for shifts in [low, high]
        (convexity: the optimal y falls as the shift grows) and one beyond each end. Their
        upper envelope is `shortfall` at every integer and bends only at integers, so with
        whole electives the best staffing is whole without being declared integer."""
        y_high = int(np.argmin(self.cost(low))) - low
        y_low = int(np.argmin(self.cost(high))) - high
        points = np.arange(np.floor(y_low) - 1, np.ceil(y_high) + 2)
        values = self.shortfall(points)
        slopes = np.diff(values)
        bends = np.concatenate([[True], np.abs(np.diff(slopes)) > 1e-12])  # skip collinear
        chords = zip(points[:-1][bends], values[:-1][bends], slopes[bends], strict=True)
        return [(float(p), float(v), float(s)) for p, v, s in chords]


@dataclass
class Model:
    """One morning's MILP, the handles to fix or read its decisions, and what prices any
    plan exactly: unit-days no elective moves are separable, their cost per staffing level
    in `curves`; the solver sees only the coupled ones."""

    prob: pulp.LpProblem
    staffed: dict[tuple[str, int], pulp.LpVariable]
    admit: list[pulp.LpVariable]  # per group: how many of its electives to admit
    groups: list[list[int]]  # electives with the same effect, in the order they get beds
    curves: dict[tuple[str, int], np.ndarray]
    days: dict[tuple[str, int], UnitDay]
    delta: np.ndarray  # electives x units x days: beds each admission takes (vs deferral)
    units: dict[str, int]
    deferral: float  # per elective deferred a day

    def beds(self, unit: str, day: int) -> int:
        """Staffed beds chosen for a unit-day (by the solver or, if separable, the curve)."""
        if (unit, day) in self.staffed:
            return round(self.staffed[unit, day].value())
        return int(np.argmin(self.curves[unit, day]))

    def admitted(self, counts: list[int] | None = None) -> np.ndarray:
        """Per elective, admitted today? The first `counts[g]` of each group (default: the
        solver's counts)."""
        if counts is None:
            counts = [round(x.value()) for x in self.admit]
        out = np.zeros(self.delta.shape[0], dtype=bool)
        for members, n in zip(self.groups, counts, strict=True):
            out[members[:n]] = True
        return out

    def price(self, staffing: dict[tuple[str, int], int], admitted: np.ndarray) -> float:
        """The exact cost of a plan: `staffing` per unit-day, `admitted` per elective."""
        shift = np.tensordot(admitted.astype(float), self.delta, axes=1)
        total = self.deferral * float((~admitted).sum())
        for (u, d), day in self.days.items():
            total += float(day.cost(shift[self.units[u], d])[staffing[u, d]])
        return total


class Milp(Greedy):
    """Solve the morning MILP (HiGHS by default, CBC selectable) within `time_limit`
    seconds and a wall-clock guard; on failure use greedy's plan and record why.

    `excess_cost` (per patient-day beyond the staffed beds; default: a staffed bed
    elsewhere plus the off-service penalty), `icu_excess_cost` (the same in the ICU;
    default: a bed elsewhere plus an ICU refusal, as a patient the ICU cannot take is one)
    and `deferral_cost` (per elective pushed a day; default a tenth of a cancellation)
    price what the scenario's cost table leaves implicit.
    Service levels bind: each unit-day must leave the non-electives the beds that cover
    their peak on the service level's share of days (or `quantile`'s, as greedy), every
    bed short of that priced at `breach_cost` (default: ten times the unit's dearest
    bed-day plus its excess patient-day), so the solver gives them up only where nurses
    and beds run out. `threads` per solve: one by
    default, as parallel replications already fill the cores (and HiGHS's MIP on problems
    this small runs about twice as fast on one thread).
    """

    relative_cost: ClassVar[float] = 20.0  # see `Static.relative_cost`

    def __init__(
        self, forecast: str = "historical", horizon: int = 7, solver: str = "highs",
        time_limit: float = 2.0, wall_limit: float = 10.0, excess_cost: float | None = None,
        deferral_cost: float | None = None, quantile: float | None = None,
        threads: int = 1, icu_excess_cost: float | None = None,
        breach_cost: float | None = None, window: int = 28, los_forecast: str = "predicted",
    ) -> None:
        super().__init__(forecast, horizon, quantile, window, los_forecast)
        if solver not in ("highs", "cbc"):
            raise ValueError(f"unknown solver {solver!r}; available: cbc, highs")
        if not time_limit > 0 or not wall_limit >= 0:
            raise ValueError("need time_limit > 0 and wall_limit >= 0 (seconds)")
        if threads < 1:
            raise ValueError("threads must be >= 1")
        self.solver, self.time_limit, self.wall_limit = solver, time_limit, wall_limit
        self.threads = threads
        if solver == "highs":
            _silence_highs_banner()
        self.excess_cost, self.deferral_cost = excess_cost, deferral_cost
        self.icu_excess_cost, self.breach_cost = icu_excess_cost, breach_cost

    def start(self, view: HospitalView) -> None:
        super().start(view)
        self.solves: list[dict] = []
        self.fallbacks: list[tuple[int, str]] = []

    def kpis(self, view: HospitalView) -> dict[str, float]:
        """Forecast error (see `ForecastPolicy.kpis`), and how often the solver fell back."""
        solved = [s["seconds"] for s in self.solves if s["milp"]]
        return {**super().kpis(view), "solver_fallbacks": float(len(self.fallbacks)),
                "solve_ms_median": float(np.median(solved)) * 1000 if solved else 0.0}

    def solve_log(self) -> pd.DataFrame:
        """One row per morning: status, objective, gap, seconds, whether the MILP ran (else
        nothing coupled the unit-days) and, where greedy's plan was used, why."""
        log = pd.DataFrame(self.solves, columns=SOLVE_COLUMNS)
        reasons = dict(self.fallbacks)
        unsolved = sorted(set(reasons) - set(log["day"]))  # the solver raised: no record
        if unsolved:
            log = pd.concat([log, pd.DataFrame({"day": unsolved, "status": "Error"})])
        log["fallback"] = [reasons.get(day, "") for day in log["day"]]
        return log.sort_values("day", ignore_index=True)

    def plan(self, day: int, view: HospitalView) -> Plan | None:
        outlook = self.outlook(view)
        if outlook is None:
            return None
        try:
            plan = self.optimise(outlook, view)
        except Exception as error:  # any solver failure: greedy for today, recorded
            self.fallbacks.append((day, f"{type(error).__name__}: {error}"))
            plan = self.decide(outlook, view)
        return self.commit(view, outlook, plan)

    def optimise(self, outlook: Outlook, view: HospitalView) -> Plan:
        model = self.build(outlook, view)
        record = self.solve(model, view.day)
        if record["sol_status"] != pulp.LpSolutionOptimal:
            raise SolverFailed(f"status {record['status']}, solution {record['sol_status']}")
        if record["seconds"] > self.wall_limit:
            raise SolverFailed(f"wall-clock guard: {record['seconds']:.2f} s")
        staffed = {u: model.beds(u, 0) for u in outlook.units}
        admitted = model.admitted()
        defer = frozenset(p.pid for p, a in zip(outlook.electives, admitted, strict=True) if not a)
        return Plan(staffed=staffed, defer=defer)

    def prices(self, view: HospitalView) -> dict[str, Prices]:
        """Per unit, from the scenario's cost table (`Costs.bed_day_cost`,
        `premium_bed_day_cost`: the unit's kind and nurse ratio): a patient-day beyond the
        staffed beds costs `Costs.excess_day_cost`, a bed where the unit overflows plus the
        off-service penalty (`excess_cost` if set) or, in the ICU, plus an ICU refusal
        (`icu_excess_cost` if set)."""
        costs, units = view.scenario.costs, list(view.units)
        prices = {}
        for u in units:
            bed = costs.bed_day_cost(u)
            excess = self.icu_excess_cost if u.kind == "icu" else self.excess_cost
            if excess is None:
                excess = costs.excess_day_cost(u, units)
            prices[u.name] = Prices(bed, costs.premium_bed_day_cost(u) - bed, excess)
        return prices

    def breach_price(self, prices: Prices) -> float:
        """Per bed short of the service level: `breach_cost`, else ten times a bed-day at
        premium plus an excess patient-day (dearer than anything staffing could save)."""
        if self.breach_cost is not None:
            return self.breach_cost
        return 10 * (prices.bed + prices.premium + prices.excess)

    def deferral_price(self, view: HospitalView) -> float:
        """Per elective pushed a day: `deferral_cost`, else a tenth of a cancellation."""
        if self.deferral_cost is not None:
            return self.deferral_cost
        return view.scenario.costs.elective_cancellation / 10

    def build(self, outlook: Outlook, view: HospitalView) -> Model:
        """Variables s[u,d] (staffed beds, 0..capacity), p[u,d] >= s - regular
        (premium beds), o[u,d] >= the priced shortfall (expected excess patients and beds
        short of the service level), n[g] (integer: how many of group g's electives to
        admit today; the rest come tomorrow). Minimise staffing + premium + shortfall +
        deferrals.

        Only unit-days whose census an elective decision moves are rows of the MILP (none
        when no elective waits: no solver call); the rest are separable and priced exactly."""
        prices, deferral = self.prices(view), self.deferral_price(view)
        horizon = outlook.mean.shape[1]
        prob = pulp.LpProblem("morning", pulp.LpMinimize)
        loads = outlook.elective_load
        shifted = np.zeros_like(loads)
        shifted[:, :, 1:] = loads[:, :, :-1]
        base = outlook.mean + shifted.sum(axis=0)  # every elective deferred
        delta = loads - shifted  # what admitting each adds, unit by day
        groups = self.groups(outlook, view, delta)
        admit = []
        effect = np.array([delta[m[0]] for m, _ in groups]).reshape(-1, *base.shape)
        low, high = np.zeros_like(base), np.zeros_like(base)
        for k, (members, must) in enumerate(groups):
            admit.append(prob.add_variable(f"n{k}", must, len(members), cat=pulp.LpInteger))
            # the range of the shift per unit-day: from `must` to all admitted
            low += np.minimum(must * effect[k], len(members) * effect[k])
            high += np.maximum(must * effect[k], len(members) * effect[k])
        # Expressions are built as coefficient lists rather than with PuLP's operators
        # (several times faster); the rows and coefficients are the same.
        ge, add = pulp.LpConstraintGE, prob.addConstraint
        expression, constraint = pulp.LpAffineExpression, pulp.LpConstraint
        objective = expression()
        staffed, curves, days = {}, {}, {}
        floors = self.need(outlook.mean, outlook.var)  # the non-electives' service beds
        for u, j in outlook.units.items():
            cap, regular = view.capacity(u), view.regular_capacity(u)
            breach = self.breach_price(prices[u])
            for d in range(horizon):
                day = UnitDay(float(base[j, d]), float(np.sqrt(max(outlook.var[j, d], 0.0))),
                              cap, regular, prices[u], int(floors[j, d]), breach)
                days[u, d] = day
                taken = [(n, effect[k, j, d]) for k, n in enumerate(admit)
                         if effect[k, j, d] != 0]
                if not taken:
                    curves[u, d] = day.cost()
                    continue
                s = prob.add_variable(f"s_{u}_{d}", 0, cap)  # whole at the optimum: see cuts
                p = prob.add_variable(f"p_{u}_{d}", 0)
                o = prob.add_variable(f"o_{u}_{d}", 0)
                staffed[u, d] = s
                add(constraint(expression([(p, 1), (s, -1)], constant=regular), ge))
                # o >= value + slope * (y - point), y = s - sum(c x): beds left for the rest
                for point, value, slope in day.cuts(low[j, d], high[j, d]):
                    terms = [(o, 1), (s, -slope), *((x, c * slope) for x, c in taken)]
                    add(constraint(expression(terms, constant=slope * point - value), ge))
                objective[s] = day.prices.bed
                objective[p] = day.prices.premium
                objective[o] = 1.0
        for n in admit:
            objective[n] = -deferral
        objective.constant = deferral * len(outlook.electives)
        prob.setObjective(objective)
        return Model(prob, staffed, admit, [members for members, _ in groups], curves, days,
                     delta, outlook.units, deferral)

    def groups(self, outlook: Outlook, view: HospitalView,
               delta: np.ndarray) -> list[tuple[list[int], int]]:
        """Electives whose admission moves the same beds are interchangeable: one integer
        count per group (no symmetric binaries). Each group: its members, ordered as they get
        beds (those who may not be deferred again, then the most often deferred), and how
        many must be admitted."""
        waited = [self.deferrals.get(p.pid, 0) for p in outlook.electives]
        must = [not self.may_defer(p, view) for p in outlook.electives]
        order = sorted(range(len(waited)), key=lambda i: (not must[i], -waited[i]))
        members: dict[bytes, list[int]] = {}
        for i in order:
            members.setdefault(delta[i].tobytes(), []).append(i)
        return [(m, sum(must[i] for i in m)) for m in members.values()]

    def solve(self, model: Model, day: int) -> dict:
        """Solve and keep status, objective (separable unit-days included), gap and time in
        `self.solves`; `milp` is False on mornings nothing coupled (no solver call)."""
        separable = float(sum(curve.min() for curve in model.curves.values()))
        record = {"day": day, "status": "Optimal", "sol_status": pulp.LpSolutionOptimal,
                  "objective": separable, "gap": 0.0, "seconds": 0.0, "milp": False}
        if model.prob.variables():
            if self.solver == "highs":
                # presolve off: on models this small it costs more than it saves (2x)
                solver = pulp.HiGHS(msg=False, timeLimit=self.time_limit, threads=self.threads,
                                    presolve="off")
            else:
                solver = pulp.PULP_CBC_CMD(msg=False, timeLimit=self.time_limit,
                                           threads=self.threads)
            start = time.perf_counter()
            status = model.prob.solve(solver)
            record.update(
                status=pulp.LpStatus[status], sol_status=model.prob.sol_status,
                objective=(pulp.value(model.prob.objective) or 0.0) + separable,
                gap=_gap(model.prob), seconds=time.perf_counter() - start, milp=True,
            )
        self.solves.append(record)
        return record

    def evaluate(self, outlook: Outlook, view: HospitalView, plan: Plan,
                 later: dict[str, list[int]]) -> float:
        """The exact cost, in the MILP's terms, of a plan (today's staffing and deferrals,
        `later` days' staffing): how any plan, greedy's or the MILP's, is compared."""
        model = self.build(outlook, view)
        staffing = {(u, d): plan.staffed[u] if d == 0 else later[u][d - 1]
                    for u, d in model.days}
        admitted = np.array([p.pid not in plan.defer for p in outlook.electives], dtype=bool)
        return model.price(staffing, admitted)


class SolverFailed(RuntimeError):
    """The solver returned no proven optimum in time."""


@functools.cache
def _silence_highs_banner() -> None:
    """HiGHS prints a banner when a process makes its first instance, before any option can
    silence it (and every worker would print it over the progress bar): make that first
    instance with standard output pointed at /dev/null."""
    import highspy

    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def _gap(prob: pulp.LpProblem) -> float | None:
    """HiGHS's relative MIP gap (CBC through PuLP does not report one)."""
    model = getattr(prob, "solverModel", None)
    if model is None:
        return None
    try:
        return float(model.getInfo().mip_gap)
    except AttributeError:
        return None
