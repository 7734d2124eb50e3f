"""A hospital that starts full: patients already in bed, with their time so far.

For a unit in steady state, the stays in progress are length-biased (long stays are more
likely to be caught in progress) and the time already spent is uniform over each of them.
Sampling candidates in proportion to the time they would spend in the unit, then splitting
that time uniformly, draws each LOS conditional on the time already spent, with no warm-up.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from scenarios.schema import Scenario, home_unit
from simulator.demand import RandomStreams, add_stay, draw_attributes
from simulator.pathway import phase_plan
from simulator.protocols import LosModel

CANDIDATES_PER_BED = 40


def initial_patients(
    scenario: Scenario, los_model: LosModel, streams: RandomStreams
) -> tuple[pd.DataFrame, list[tuple[int, int, float]]]:
    """Records of the patients in bed at time 0 (negative arrival times) and, for each,
    (row, phase, hours left in that phase)."""
    if scenario.initial is None or not sum(scenario.initial.census.values()):
        return pd.DataFrame(), []
    rng = streams.initial
    wanted = scenario.initial.census
    rates = np.array([s.daily_rate for s in scenario.arrivals], dtype=float)
    n = CANDIDATES_PER_BED * sum(wanted.values()) + 1000
    per_stream = rng.multinomial(n, rates / rates.sum())
    pool = pd.concat(
        [draw_attributes(scenario, s, -1, int(k), rng) for s, k in enumerate(per_stream)],
        ignore_index=True,
    )
    pool = add_stay(scenario, pool, los_model, rng, rng)
    plans = [
        phase_plan(scenario, home_unit(scenario.units, sp, str(age)), icu, los)
        for sp, age, icu, los in zip(
            pool["specialty"], pool["age_group"], pool["needs_icu"], pool["los_true"],
            strict=True,
        )
    ]
    index = {u.name: i for i, u in enumerate(scenario.units)}
    rows, placements = [], []
    for name, count in wanted.items():
        if count == 0:
            continue
        unit = index[name]
        time_here = np.array([sum(h for u, h in plan if u == unit) for plan in plans])
        if not time_here.any():
            raise ValueError(f"initial.census.{name}: none of this scenario's patients "
                             f"ever stays in unit {name!r}")
        # With replacement: a candidate drawn twice gets two independent times so far.
        chosen = rng.choice(len(plans), size=count, p=time_here / time_here.sum())
        for row in chosen:
            phase = next(k for k, (u, _) in enumerate(plans[row]) if u == unit)
            before = sum(h for _, h in plans[row][:phase])
            spent = rng.random() * plans[row][phase][1]
            rows.append(row)
            placements.append((phase, plans[row][phase][1] - spent, -(before + spent)))
    order = np.argsort([arrived for _, _, arrived in placements], kind="stable")
    patients = pool.iloc[np.asarray(rows)[order]].reset_index(drop=True)
    patients["time"] = [placements[k][2] for k in order]
    return patients, [(i, *placements[k][:2]) for i, k in enumerate(order)]
