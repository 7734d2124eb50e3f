"""Across-replication statistics: means with t-based confidence intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats


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


def summarise(kpis: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """One row per (policy, KPI): n, mean, sd, CI bounds and half-width."""
    rows = []
    measures = [c for c in kpis.columns if c not in ("policy", "replication", "seed")]
    for policy, group in kpis.groupby("policy", sort=False):
        for kpi in measures:
            mean, half, sd = confidence_interval(group[kpi].to_numpy(), level)
            rows.append({
                "policy": policy, "kpi": kpi, "n": int(group[kpi].notna().sum()),
                "mean": mean, "sd": sd, "ci_low": mean - half, "ci_high": mean + half,
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
            })
    return pd.DataFrame(rows)


def imprecise(summary: pd.DataFrame, kpis: list[str], target: float) -> list[str]:
    """KPIs (as 'policy/kpi') whose CI half-width exceeds `target` x |mean| (the
    confidence-interval method for the number of replications). A KPI whose mean is zero
    with zero spread counts as precise."""
    rows = summary[summary["kpi"].isin(kpis)]
    loose = rows[~(rows["half_width"] <= target * rows["mean"].abs())
                 & ~((rows["mean"] == 0) & (rows["sd"] == 0))]
    return [f"{r.policy}/{r.kpi}" for r in loose.itertuples()]
