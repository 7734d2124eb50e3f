"""Service-level verdicts: does each policy keep each KPI the scenario bounds within its
target? Service levels bind and costs rank, so only a policy that meets them all can be
named best."""

from __future__ import annotations

import numpy as np
import pandas as pd

from experiments.study.stats import confidence_interval, paired_differences, replications_needed
from simulator import kpis as catalogue

MEETS, BREACHES, UNDECIDED = "meets", "breaches", "undecided"


def verdict(values, target: float, level: float = 0.95) -> tuple[str, float, float, float]:
    """(verdict, mean, CI low, CI high) of one KPI's replications against the most it may
    be. The t-based CI of the mean entirely at or below the target: meets; entirely above:
    breaches; else undecided (more replications may decide). For a KPI never negative,
    the interval is cut at 0. A target of 0 (a count never
    below 0) is met only if every replication is 0, and breached by any that is not: a
    quantity that is never negative and was once positive has a mean above 0."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    mean, half, _ = confidence_interval(values, level)
    if values.size == 0:
        return UNDECIDED, mean, np.nan, np.nan
    if values.size > 1 and np.all(values == values[0]):
        mean, half = float(values[0]), 0.0  # no spread (the float sum may round off it)
    low, high = mean - half, mean + half
    if values.min() >= 0:
        low = max(low, 0.0)  # a rate or count is never negative; nor is its mean
    if target == 0 and values.min() >= 0:
        return (MEETS if values.max() == 0 else BREACHES), mean, low, high
    if high <= target:
        return MEETS, mean, low, high
    if low > target:
        return BREACHES, mean, low, high
    return UNDECIDED, mean, low, high


def service_verdicts(kpis: pd.DataFrame, targets: dict[str, float],
                     policies: list[str] | None = None, level: float = 0.95) -> pd.DataFrame:
    """One row per (policy, service level): target, mean, CI and verdict. `targets` maps a
    KPI name to the most it may be (`Scenario.service_levels.targets()`); a KPI the results
    do not hold (an older run) is left out."""
    policies = policies or list(dict.fromkeys(kpis["policy"]))
    rows = []
    for policy in policies:
        group = kpis[kpis["policy"] == policy]
        for name, target in targets.items():
            if name not in kpis.columns:
                continue
            result, mean, low, high = verdict(group[name].to_numpy(), target, level)
            rows.append({"policy": policy, "kpi": name, "target": float(target), "mean": mean,
                         "ci_low": low, "ci_high": high, "verdict": result})
    return pd.DataFrame(rows, columns=["policy", "kpi", "target", "mean", "ci_low", "ci_high",
                                       "verdict"])


def target_text(name: str, target: float) -> str:
    """`≤ 5%` for a share, `≤ 0` for a count."""
    kpi = catalogue.get(name)
    return f"≤ {target * kpi.scale:g}{'%' if kpi.shown_unit == '%' else ''}"


def failing(verdicts: pd.DataFrame) -> dict[str, dict[str, list[str]]]:
    """Per policy, the service levels it breaches and those still undecided (KPI names);
    a policy meeting every level maps to empty lists."""
    out: dict[str, dict[str, list[str]]] = {}
    for policy, group in verdicts.groupby("policy", sort=False):
        out[policy] = {v: list(group.loc[group["verdict"] == v, "kpi"])
                       for v in (BREACHES, UNDECIDED)}
    return out


def best_meeting(verdicts: pd.DataFrame, costs: dict[str, float],
                 candidates: list[str]) -> str | None:
    """The lowest-cost candidate that meets every service level, else None."""
    fails = failing(verdicts)
    meeting = [p for p in candidates
               if not any(fails.get(p, {}).get(v) for v in (BREACHES, UNDECIDED))]
    return min(meeting, key=lambda p: costs[p]) if meeting else None


def cost_ties(kpis: pd.DataFrame, leader: str, rivals: list[str],
              level: float = 0.95) -> list[dict]:
    """The rivals `leader` cannot be told from on total cost: the paired difference (rival
    minus leader) whose simultaneous CI spans zero. Simultaneous over the family by
    Bonferroni (each at 1 - (1 - level) / m), so "the leader is cheaper than every rival"
    holds at `level` as a whole. Each tie: policy, difference, CI, replications needed."""
    rivals = [r for r in rivals if r != leader]
    if not rivals:
        return []
    each = 1 - (1 - level) / len(rivals)
    subset = kpis.loc[kpis["policy"].isin([leader, *rivals]),
                      ["policy", "replication", "cost_total"]]
    diffs = paired_differences(subset, leader, each)
    ties = []
    for row in diffs.itertuples():
        if not (row.ci_low > 0 or row.ci_high < 0):
            ties.append({"policy": row.policy, "difference": row.difference,
                         "ci_low": row.ci_low, "ci_high": row.ci_high,
                         "needed": replications_needed(row.difference, row.sd, row.n, each)})
    return ties


def shortfalls(policy: str, fails: dict[str, list[str]]) -> str:
    """`static breaches ICU refusal rate; undecided on waits beyond target`."""
    parts = []
    if fails.get(BREACHES):
        parts.append("breaches " + _and(fails[BREACHES]))
    if fails.get(UNDECIDED):
        parts.append("is undecided on " + _and(fails[UNDECIDED]))
    return f"{policy} " + " and ".join(parts)


def _and(names: list[str]) -> str:
    labels = [catalogue.get(n).phrase for n in names]
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]

