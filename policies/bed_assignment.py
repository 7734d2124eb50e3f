"""The offline bed planner: given stays (admission day, predicted LOS, unit, sex), assign beds.

Why this shape: a MILP over x[patient, bed] does not scale (200 patients took 15-104 s, 500
never finished), but the same question on counts per bed type over time is totally unimodular
and solves in milliseconds. So the MILP only decides which type (unit x sex pool) serves each
patient, and how many beds each type gets; individual beds then come from interval
partitioning within each type, which needs exactly the peak census of the type (optimal).
With identical beds and a cap, "overflow the stay that ends latest" is optimal for the number
served and needs no solver; the MILP is kept for what that greedy cannot express (alternative
units, single-sex pools, preferred units, transfer costs).

Times are in days; a stay occupies [admit, admit + LOS), so a bed freed at t takes an arrival
at t.
"""

from __future__ import annotations

import heapq
import math
import multiprocessing
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pulp

from scenarios.schema import LosSpec
from simulator.los import ParametricLos

Method = Literal["milp", "greedy"]
Solver = Literal["highs", "cbc"]
OVERFLOW_COST = 1000.0  # per patient not placed: above any number of beds or transfers saved
BED_COST = 1.0  # per bed used over the horizon
GUARD_MARGIN_S = 5.0  # the wall-clock guard allows the solver's time limit plus this
COLUMNS = ("id", "admit", "predicted_los", "unit", "sex", "alternatives", "true_los")
REQUIRED = ("admit", "predicted_los")


class PatientsError(ValueError):
    """A bad patients file; the message names the row (header = row 1) and the column."""


@dataclass(frozen=True)
class BedPlan:
    """A plan: `assignment` has one row per patient (id, admit, end, pool, unit, bed, transfer;
    bed is empty for a patient overflowed). `gap` is the relative MIP gap (0 when proven
    optimal, NaN when unknown); `fallback` says why the MILP was replaced by greedy."""

    method: str
    assignment: pd.DataFrame
    beds_used: int
    idle_pct: float
    overflow: int
    transfers: int
    objective: float
    runtime_s: float
    gap: float
    status: str
    fallback: str | None = None


@dataclass(frozen=True)
class Replay:
    """The plan met with true LOS: `conflicts` = planned beds still occupied when the patient
    arrives; those patients take another free bed of their pool (`rehoused`) or overflow."""

    conflicts: int
    rehoused: int
    overflow: int
    idle_pct: float


# ---------------------------------------------------------------- input


def read_patients(path: str | Path) -> pd.DataFrame:
    """Read and check a patients CSV (columns: admit, predicted_los [, id, unit, sex,
    alternatives (';'-separated units), true_los]); days as numbers."""
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    raw.columns = [c.strip() for c in raw.columns]
    missing = [c for c in REQUIRED if c not in raw.columns]
    if missing:
        raise PatientsError(f"{path}: column(s) {missing} missing (found {list(raw.columns)})")
    unknown = [c for c in raw.columns if c not in COLUMNS]
    if unknown:
        raise PatientsError(f"{path}: unknown column(s) {unknown}; expected some of {COLUMNS}")
    return _normalise(raw, str(path))


def _numbers(raw: pd.DataFrame, column: str, where: str, positive: bool) -> np.ndarray:
    values = pd.to_numeric(raw[column].str.strip(), errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values) | ((values <= 0) if positive else np.zeros(len(values), bool))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        need = "a positive number of days" if positive else "a number of days"
        raise PatientsError(
            f"{where}: row {row + 2}, column '{column}': {raw[column].iloc[row]!r} is not {need}"
        )
    return values


def _normalise(raw: pd.DataFrame, where: str) -> pd.DataFrame:
    n = len(raw)
    out = pd.DataFrame({
        "id": raw["id"].str.strip() if "id" in raw else [str(i + 1) for i in range(n)],
        "admit": _numbers(raw, "admit", where, positive=False),
        "predicted_los": _numbers(raw, "predicted_los", where, positive=True),
        "unit": raw["unit"].str.strip() if "unit" in raw else "ward",
        "sex": raw["sex"].str.strip().str.upper() if "sex" in raw else "",
        "alternatives": raw.get("alternatives", ""),
    })
    empty = (out["unit"] == "").to_numpy()
    if empty.any():
        raise PatientsError(f"{where}: row {int(np.flatnonzero(empty)[0]) + 2}, column 'unit': "
                            "empty (leave the column out for a single unit)")
    bad_sex = ~out["sex"].isin(["", "M", "F"]).to_numpy()
    if bad_sex.any():
        row = int(np.flatnonzero(bad_sex)[0])
        raise PatientsError(f"{where}: row {row + 2}, column 'sex': "
                            f"{raw['sex'].iloc[row]!r} is not M, F or empty")
    duplicated = out["id"].duplicated().to_numpy()
    if duplicated.any():
        row = int(np.flatnonzero(duplicated)[0])
        raise PatientsError(f"{where}: row {row + 2}, column 'id': {out['id'].iloc[row]!r} "
                            "appears twice")
    out["alternatives"] = [
        tuple(u for u in (s.strip() for s in str(a).split(";")) if u and u != home)
        for a, home in zip(out["alternatives"], out["unit"], strict=True)
    ]
    if "true_los" in raw:
        out["true_los"] = _numbers(raw, "true_los", where, positive=True)
    return out


def generate_patients(n: int, seed: int = 0, days: float = 60.0, mix: bool = False
                      ) -> pd.DataFrame:
    """`n` stays admitted uniformly over `days`, predicted LOS by severity (the default LOS
    spec's means). `mix` adds units, sexes and allowed alternative units, for the MILP."""
    rng = np.random.default_rng(seed)
    severity = rng.choice(4, size=n, p=[0.5, 0.3, 0.15, 0.05]) + 1
    los = ParametricLos().predict(pd.DataFrame({"severity": severity}))
    frame = pd.DataFrame({
        "id": [f"p{i + 1}" for i in range(n)],
        "admit": np.round(np.sort(rng.uniform(0.0, days, n)), 3),
        "predicted_los": los,
    })
    if mix:
        units = np.array(["medicine", "surgery", "cardiology"])
        frame["unit"] = units[rng.choice(3, size=n, p=[0.5, 0.3, 0.2])]
        frame["sex"] = np.where(rng.random(n) < 0.5, "M", "F")
        alternative = {"medicine": ("cardiology",), "surgery": (), "cardiology": ("medicine",)}
        frame["alternatives"] = frame["unit"].map(alternative)
    return _with_defaults(frame)


def _with_defaults(patients: pd.DataFrame) -> pd.DataFrame:
    """The optional columns filled in: ids 1..n, one unit 'ward', mixed sex, no alternatives."""
    n = len(patients)
    defaults = {"id": [str(i + 1) for i in range(n)], "unit": "ward", "sex": "",
                "alternatives": [()] * n}
    missing = {k: v for k, v in defaults.items() if k not in patients}
    return patients.assign(**missing) if missing else patients


def write_patients(patients: pd.DataFrame, path: str | Path) -> None:
    """Write patients as `read_patients` reads them (alternatives ';'-separated)."""
    patients.assign(alternatives=[";".join(a) for a in _with_defaults(patients)["alternatives"]]
                    ).to_csv(path, index=False)


def draw_true_los(patients: pd.DataFrame, cv: float = 0.5, seed: int = 0) -> np.ndarray:
    """True LOS = predicted x a lognormal factor of mean 1 and coefficient of variation `cv`,
    drawn by the simulator's `ParametricLos`; the file's `true_los` column wins if present."""
    if "true_los" in patients:
        return patients["true_los"].to_numpy(dtype=float)
    spec = LosSpec(model="lognormal", mean_days=1.0, cv=cv)
    factor = ParametricLos(spec).sample(pd.DataFrame({"severity": np.ones(len(patients), int)}),
                                        np.random.default_rng(seed))
    return patients["predicted_los"].to_numpy(dtype=float) * factor


# ---------------------------------------------------------------- the two exact greedies


def partition(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Bed index (0..peak-1) per stay: reuse the bed freed earliest, else open one. Uses
    exactly max-overlap beds, the optimum (interval partitioning)."""
    starts, ends = start.tolist(), end.tolist()
    bed = [0] * len(starts)
    free: list[tuple[float, int]] = []
    for i in np.argsort(start, kind="stable").tolist():
        if free and free[0][0] <= starts[i]:
            bed[i] = heapq.heapreplace(free, (ends[i], free[0][1]))[1]
        else:
            bed[i] = len(free)
            heapq.heappush(free, (ends[i], bed[i]))
    return np.array(bed, dtype=int)


def serve_latest_out(start: np.ndarray, end: np.ndarray, beds: int) -> np.ndarray:
    """Which stays to serve on `beds` identical beds: when full, overflow whichever stay ends
    latest (arriving or planned). Serves the maximum number (Faigle & Nawijn 1995)."""
    starts, ends = start.tolist(), end.tolist()
    state = [0] * len(starts)  # 0 planned in a bed, 1 left, 2 overflowed
    active = 0
    leaving: list[tuple[float, int]] = []  # min-heap by end, to release beds
    latest: list[tuple[float, int]] = []  # max-heap by end, to choose whom to overflow
    for i in np.argsort(start, kind="stable").tolist():
        while leaving and leaving[0][0] <= starts[i]:
            j = heapq.heappop(leaving)[1]
            if state[j] == 0:
                state[j] = 1
                active -= 1
        heapq.heappush(leaving, (ends[i], i))
        heapq.heappush(latest, (-ends[i], i))
        active += 1
        if active > beds:
            j = heapq.heappop(latest)[1]
            while state[j] != 0:
                j = heapq.heappop(latest)[1]
            state[j] = 2
            active -= 1
    return np.array(state) != 2


# ---------------------------------------------------------------- pools and candidates


@dataclass(frozen=True)
class _Candidates:
    """Each (patient, pool) pair a patient may be placed in; alt = not the home unit."""

    patient: np.ndarray
    pool: np.ndarray
    alt: np.ndarray
    names: list[str]


def _pool(unit: str, sex: str) -> str:
    return f"{unit}/{sex}" if sex else unit


def _candidates(patients: pd.DataFrame, alternatives: bool) -> _Candidates:
    rows: list[tuple[int, str, bool]] = []
    for i, (unit, sex, alts) in enumerate(
        zip(patients["unit"], patients["sex"], patients["alternatives"], strict=True)
    ):
        rows.append((i, _pool(unit, sex), False))
        if alternatives:
            rows.extend((i, _pool(a, sex), True) for a in alts)
    names = sorted({r[1] for r in rows})
    index = {name: k for k, name in enumerate(names)}
    return _Candidates(np.array([r[0] for r in rows], dtype=int),
                       np.array([index[r[1]] for r in rows], dtype=int),
                       np.array([r[2] for r in rows], dtype=bool), names)


# ---------------------------------------------------------------- the MILP on counts


def _milp(cand: _Candidates, start: np.ndarray, end: np.ndarray, beds: int | None,
          transfer_cost: float, solver: Solver, time_limit: float
          ) -> tuple[int, float, float, np.ndarray]:
    """Choose a pool per patient (or overflow) and beds per pool. The census of each pool is
    tracked only at its arrival times (where maxima occur) by a running balance, so the model
    has O(candidates) non-zeros; no bed index. Returns sol_status, objective, gap, choice."""
    prob = pulp.LpProblem("bed_counts", pulp.LpMinimize)
    z = [pulp.LpVariable(f"z{c}", 0, 1, pulp.LpInteger) for c in range(len(cand.patient))]
    b = [pulp.LpVariable(f"b{k}", 0, None, pulp.LpInteger) for k in range(len(cand.names))]
    prob += pulp.LpAffineExpression(
        [(v, BED_COST) for v in b]
        + [(zc, (transfer_cost if alt else 0.0) - OVERFLOW_COST)
           for zc, alt in zip(z, cand.alt.tolist(), strict=True)],
        constant=OVERFLOW_COST * len(start),
    )
    for k in range(len(cand.names)):
        members = np.flatnonzero(cand.pool == k)
        s, e = start[cand.patient[members]], end[cand.patient[members]]
        arrivals = np.unique(s)
        arrive_at = np.searchsorted(arrivals, s)
        leave_at = np.searchsorted(arrivals, e)  # first arrival at or after the end
        terms: list[list[tuple[pulp.LpVariable, float]]] = [[] for _ in arrivals]
        for c, a, d in zip(members.tolist(), arrive_at.tolist(), leave_at.tolist(),
                           strict=True):
            terms[a].append((z[c], 1.0))
            if d < len(arrivals):
                terms[d].append((z[c], -1.0))
        census = [pulp.LpVariable(f"c{k}_{j}", 0) for j in range(len(arrivals))]
        for j, row in enumerate(terms):
            previous = [(census[j - 1], 1.0)] if j else []
            prob += pulp.LpAffineExpression([(census[j], -1.0), *previous, *row]) == 0
            prob += pulp.LpAffineExpression([(census[j], 1.0), (b[k], -1.0)]) <= 0
    by_patient: dict[int, list[pulp.LpVariable]] = {}
    for c, i in enumerate(cand.patient.tolist()):
        by_patient.setdefault(i, []).append(z[c])
    for choices in by_patient.values():
        if len(choices) > 1:
            prob += pulp.lpSum(choices) <= 1
    if beds is not None:
        prob += pulp.lpSum(b) <= beds
    if solver == "highs":
        engine = pulp.HiGHS(msg=False, timeLimit=time_limit, gapRel=0.0)
    else:
        engine = pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit, gapRel=0.0)
    prob.solve(engine)
    if prob.sol_status not in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible):
        return prob.sol_status, math.nan, math.nan, np.zeros(0, dtype=bool)
    gap = 0.0 if prob.sol_status == pulp.LpSolutionOptimal else math.nan
    if solver == "highs" and gap != 0.0:
        gap = float(prob.solverModel.getInfo().mip_gap)
    choice = np.array([(v.value() or 0.0) > 0.5 for v in z], dtype=bool)
    return prob.sol_status, float(pulp.value(prob.objective)), gap, choice


def _child(send, solve, args: tuple) -> None:
    os.setpgrp()  # its own process group, so the guard also ends CBC's subprocess
    quiet = os.open(os.devnull, os.O_WRONLY)
    os.dup2(quiet, 1)  # HiGHS prints its banner even with msg=False
    try:
        send.send(("ok", solve(*args)))
    except Exception as error:  # any solver failure becomes a fallback
        send.send(("error", f"{type(error).__name__}: {error}"))


def _guarded_milp(args: tuple, seconds: float) -> tuple[tuple | None, str | None]:
    """Run `_milp` in a child process and kill it past `seconds` of wall clock: solvers'
    own time limits are not kept (CBC overran 120 s limits by 3-218 s). The child comes
    from a forkserver: a plain fork of a process whose OpenMP threads have run (after
    XGBoost or scikit-learn) can hang in the child."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["policies.bed_assignment"])  # children start with it imported
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(send, _milp, args))
    process.start()
    send.close()
    try:
        if not receive.poll(seconds):
            return None, f"wall-clock guard: no answer within {seconds:g} s"
        kind, payload = receive.recv()
        return (payload, None) if kind == "ok" else (None, payload)
    except EOFError:
        return None, "solver process died"
    finally:
        if process.is_alive():
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:  # killed before it had made its own group
                process.kill()
        process.join()


# ---------------------------------------------------------------- plans


def _largest_remainder(total: int, weights: np.ndarray) -> np.ndarray:
    share = total * weights / weights.sum()
    whole = np.floor(share).astype(int)
    order = np.argsort(-(share - whole), kind="stable")
    whole[order[: total - whole.sum()]] += 1
    return whole


def _greedy_choice(cand: _Candidates, start: np.ndarray, end: np.ndarray,
                   beds: int | None) -> np.ndarray:
    """Home pool only. Unlimited beds: everyone (optimal). A cap: split it between pools in
    proportion to their peaks, then overflow latest-ending stays (optimal for one pool)."""
    choice = np.ones(len(cand.patient), dtype=bool)
    pools = [np.flatnonzero(cand.pool == k) for k in range(len(cand.names))]
    start, end = start[cand.patient], end[cand.patient]
    peaks = np.array([partition(start[m], end[m]).max(initial=-1) + 1 for m in pools])
    if beds is None or peaks.sum() <= beds:
        return choice
    for members, share in zip(pools, _largest_remainder(beds, peaks), strict=True):
        choice[members] = serve_latest_out(start[members], end[members], int(share))
    return choice


def _assemble(patients: pd.DataFrame, cand: _Candidates, choice: np.ndarray,
              transfer_cost: float) -> tuple[pd.DataFrame, int, float, int, int, float]:
    """Beds by interval partitioning within each pool, and the plan's measures."""
    start = patients["admit"].to_numpy(dtype=float)
    end = start + patients["predicted_los"].to_numpy(dtype=float)
    n = len(start)
    pool = np.full(n, "", dtype=object)
    bed = np.full(n, "", dtype=object)
    transfer = np.zeros(n, dtype=bool)
    chosen = np.flatnonzero(choice)
    who = cand.patient[chosen]
    pool[who] = [cand.names[k] for k in cand.pool[chosen]]
    transfer[who] = cand.alt[chosen]
    beds_used = 0
    for name in np.unique(pool[who]):
        members = who[pool[who] == name]
        index = partition(start[members], end[members])
        bed[members] = [f"{name}#{j + 1}" for j in index]
        beds_used += int(index.max()) + 1
    served = bed != ""
    overflow = int(n - served.sum())
    horizon = end[served].max() - start[served].min() if served.any() else 0.0
    occupied = float((end - start)[served].sum())
    idle = 100.0 * (1.0 - occupied / (beds_used * horizon)) if beds_used else 0.0
    assignment = pd.DataFrame({
        "id": patients["id"].to_numpy(), "admit": start, "end": end,
        "unit": [p.split("/")[0] for p in pool], "pool": pool, "bed": bed,
        "transfer": transfer,
    })
    transfers = int(transfer.sum())
    objective = OVERFLOW_COST * overflow + BED_COST * beds_used + transfer_cost * transfers
    return assignment, beds_used, idle, overflow, transfers, objective


def plan_beds(
    patients: pd.DataFrame,
    beds: int | None = None,
    method: Method = "milp",
    *,
    solver: Solver = "highs",
    time_limit: float = 10.0,
    transfer_cost: float = 0.1,
) -> BedPlan:
    """Assign beds, minimising overflow first, then beds used, then transfers (each
    transfer to an allowed alternative unit costs `transfer_cost` beds). `beds` caps the
    total over all pools (None: unlimited). The MILP runs under a wall-clock guard of
    `time_limit` + GUARD_MARGIN_S; if it fails, the plan is greedy's and `fallback` says why."""
    if method not in ("milp", "greedy"):
        raise ValueError(f"method {method!r}: use 'milp' or 'greedy'")
    if solver not in ("highs", "cbc"):
        raise ValueError(f"solver {solver!r}: use 'highs' or 'cbc'")
    began = time.perf_counter()
    patients = _with_defaults(patients)
    start = patients["admit"].to_numpy(dtype=float)
    end = start + patients["predicted_los"].to_numpy(dtype=float)
    status, gap, fallback = "optimal", 0.0, None
    if method == "milp":
        cand = _candidates(patients, alternatives=True)
        args = (cand, start, end, beds, transfer_cost, solver, time_limit)
        result, fallback = _guarded_milp(args, time_limit + GUARD_MARGIN_S)
        if result is not None and result[0] in (1, 2):
            sol_status, _, gap, choice = result
            status = "optimal" if sol_status == 1 else "feasible"
        else:
            fallback = fallback or f"solver found no solution (sol_status {result and result[0]})"
    if method == "greedy" or fallback is not None:
        cand = _candidates(patients, alternatives=False)
        choice = _greedy_choice(cand, start, end, beds)
        exact = beds is None or cand.pool.max(initial=0) == 0
        status, gap = ("optimal", 0.0) if exact else ("heuristic", math.nan)
    assignment, used, idle, overflow, transfers, objective = _assemble(
        patients, cand, choice, transfer_cost)
    return BedPlan(method, assignment, used, idle, overflow, transfers, objective,
                   time.perf_counter() - began, gap, status, fallback)


# ---------------------------------------------------------------- replay against true LOS


def replay(plan: BedPlan, true_los: np.ndarray) -> Replay:
    """Admit the planned patients in arrival order with their true LOS. A patient whose
    planned bed is still occupied is a conflict: they take the free bed of their pool with
    the lowest number, or overflow. Patients the plan overflowed stay overflowed."""
    a = plan.assignment
    admit = a["admit"].to_numpy(dtype=float)
    true_end = admit + np.asarray(true_los, dtype=float)
    free_at: dict[str, float] = dict.fromkeys(a["bed"][a["bed"] != ""], -math.inf)
    pool_beds: dict[str, list[str]] = {}
    for bed in sorted(free_at, key=lambda b: (b.rsplit("#", 1)[0], int(b.rsplit("#", 1)[1]))):
        pool_beds.setdefault(bed.rsplit("#", 1)[0], []).append(bed)
    conflicts = rehoused = 0
    overflow = plan.overflow
    occupied = 0.0
    beds, pools = a["bed"].tolist(), a["pool"].tolist()
    for i in np.argsort(admit, kind="stable").tolist():
        bed = beds[i]
        if not bed:
            continue
        if free_at[bed] > admit[i]:
            conflicts += 1
            bed = next((b for b in pool_beds[pools[i]] if free_at[b] <= admit[i]), "")
            if not bed:
                overflow += 1
                continue
            rehoused += 1
        free_at[bed] = true_end[i]
        occupied += true_end[i] - admit[i]
    placed = a["bed"].to_numpy() != ""
    horizon = (true_end[placed].max() - admit[placed].min()) if placed.any() else 0.0
    idle = 100.0 * (1.0 - occupied / (plan.beds_used * horizon)) if plan.beds_used else 0.0
    return Replay(conflicts, rehoused, overflow, idle)
