"""Across-replication statistics: means with t-based confidence intervals, paired
differences with p-values, Holm's correction for a family of them, and the replications a
difference would need to be told from zero."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from simulator import kpis as catalogue


def confidence_interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """(mean, half-width, sd) of the mean of independent replications; half-width is NaN
    with fewer than two finite values, since one replication says nothing about spread."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float("nan"), float("nan"), float("nan")
    mean = float(values.mean())
    if values.size < 2:
        return mean, float("nan"), float("nan")
    sd = float(values.std(ddof=1))
    half = float(stats.t.ppf(0.5 + level / 2, values.size - 1) * sd / np.sqrt(values.size))
    return mean, half, sd


def within_range(name: str, values: np.ndarray, low: float, high: float) -> tuple[float, float]:
    """The CI `(low, high)` cut at the KPI's range: a mean of values never negative is
    never negative, and a share's mean is at most 1. (The t-interval is symmetric; with few
    replications of a skewed rate it would reach below zero.)"""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if values.size and values.min() >= 0:
        low = max(low, 0.0)
        if catalogue.is_catalogued(name) and catalogue.get(name).unit == "share":
            high = min(high, 1.0)
    return low, high


def summarise(kpis: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """One row per (policy, KPI): n, mean, sd, CI bounds (cut at the KPI's range,
    `within_range`) and half-width (of the uncut t-interval)."""
    rows = []
    measures = [c for c in kpis.columns if c not in ("policy", "replication", "seed")]
    for policy, group in kpis.groupby("policy", sort=False):
        for kpi in measures:
            values = group[kpi].to_numpy()
            mean, half, sd = confidence_interval(values, level)
            low, high = within_range(kpi, values, mean - half, mean + half)
            rows.append({
                "policy": policy, "kpi": kpi, "n": int(group[kpi].notna().sum()),
                "mean": mean, "sd": sd, "ci_low": low, "ci_high": high,
                "half_width": half,
            })
    return pd.DataFrame(rows)


def paired_differences(
    kpis: pd.DataFrame, reference: str, level: float = 0.95
) -> pd.DataFrame:
    """Each policy minus the reference, replication by replication, per KPI.

    Under common random numbers replication r of every policy saw the same patients, so the
    paired difference cancels the patient-to-patient noise that two independent samples
    would carry; its t-interval is far narrower. `significant` is False where the interval
    spans zero: no significant difference at this level.
    """
    measures = [c for c in kpis.columns if c not in ("policy", "replication", "seed")]
    base = kpis[kpis["policy"] == reference].set_index("replication")[measures]
    rows = []
    for policy, group in kpis.groupby("policy", sort=False):
        if policy == reference:
            continue
        other = group.set_index("replication")[measures]
        common = other.index.intersection(base.index)
        for kpi in measures:
            diff = (other.loc[common, kpi] - base.loc[common, kpi]).to_numpy()
            mean, half, sd = confidence_interval(diff, level)
            low, high = mean - half, mean + half
            rows.append({
                "policy": policy, "reference": reference, "kpi": kpi, "n": len(common),
                "difference": mean, "sd": sd, "ci_low": low, "ci_high": high,
                "significant": bool(np.isfinite(half) and (low > 0 or high < 0)),
                "p_value": _p_value(mean, sd, int(np.isfinite(diff).sum())),
            })
    return pd.DataFrame(rows)


def _p_value(mean: float, sd: float, n: int) -> float:
    """Two-sided one-sample t-test of a mean paired difference against zero."""
    if n < 2 or not np.isfinite(sd):
        return float("nan")
    if sd == 0:
        return 1.0 if mean == 0 else 0.0
    return float(2 * stats.t.sf(abs(mean) / (sd / np.sqrt(n)), n - 1))


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm's step-down adjustment of a family of p-values (family-wise error rate, valid
    under any dependence, as paired comparisons against one reference have): the k-th
    smallest times (m - k + 1), kept monotone, capped at 1. NaN stays NaN, outside the
    family."""
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    order = finite[np.argsort(p[finite])]
    m = order.size
    running = 0.0
    for k, i in enumerate(order):
        running = max(running, min(1.0, (m - k) * p[i]))
        out[i] = running
    return out


def replications_needed(mean: float, sd: float, n: int, level: float = 0.95) -> float:
    """About how many replications would make a paired difference of this mean and sd
    significant at `level` (the CI half-width below |mean|); inf for a zero mean."""
    if not np.isfinite(sd) or n < 2:
        return float("nan")
    if mean == 0:
        return float("inf")
    t = stats.t.ppf(0.5 + level / 2, max(n - 1, 1))
    return float(max(n + 1, np.ceil((t * sd / abs(mean)) ** 2)))


def imprecise(summary: pd.DataFrame, kpis: list[str], target: float) -> list[str]:
    """KPIs (as 'policy/kpi') whose CI half-width exceeds `target` x |mean| (the
    confidence-interval method for the number of replications). A KPI whose mean is zero
    with zero spread counts as precise."""
    rows = summary[summary["kpi"].isin(kpis)]
    loose = rows[~(rows["half_width"] <= target * rows["mean"].abs())
                 & ~((rows["mean"] == 0) & (rows["sd"] == 0))]
    return [f"{r.policy}/{r.kpi}" for r in loose.itertuples()]
