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
