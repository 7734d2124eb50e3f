"""A parametric LOS model: the textbook distributions, with means by severity.

It lets the simulator run before any model is trained, and lets a scenario state the
exponential or fixed service times that queueing theory has closed forms for.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from scenarios.schema import SEVERITIES, LosSpec


class ParametricLos:
    """LOS in days: lognormal, exponential, gamma, fixed or empirical, mean by severity.

    `predict` gives the mean for the patient's severity; `sample` draws from the
    distribution with that mean (and the spec's coefficient of variation), capped at
    `max_days`. The empirical model resamples the observed stays, scaled to each severity's
    mean when means are given per severity.
    """

    def __init__(self, spec: LosSpec | None = None):
        self.spec = spec or LosSpec()
        if self.spec.model == "empirical" and not isinstance(self.spec.mean_days, dict):
            self._means = np.full(len(SEVERITIES), np.mean(self.spec.values))
        else:
            self._means = np.array([self.spec.mean_for(s) for s in SEVERITIES])

    def predict(self, patients: pd.DataFrame) -> np.ndarray:
        return self._means[patients["severity"].to_numpy(dtype=int) - 1]

    def sample(self, patients: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
        mean = self.predict(patients)
        n, spec = mean.size, self.spec
        if spec.model == "fixed":
            draws = mean.copy()
        elif spec.model == "exponential":
            draws = rng.exponential(mean, size=n)
        elif spec.model == "gamma":
            shape = 1.0 / spec.cv**2
            draws = rng.gamma(shape, mean / shape, size=n)
        elif spec.model in ("lognormal", "parametric"):
            sigma2 = np.log1p(spec.cv**2)
            draws = rng.lognormal(np.log(mean) - sigma2 / 2, np.sqrt(sigma2), size=n)
        else:
            values = np.asarray(spec.values, dtype=float)
            draws = rng.choice(values, size=n) * (mean / values.mean())
        return np.minimum(draws, spec.max_days)

    def mean(self, severity: int) -> float:
        """Expected LOS (days) for a severity code 1-4, exactly, cap included."""
        from scipy import stats  # only offered-load calculations need it; keep imports light

        spec, m, cap = self.spec, self._means[severity - 1], self.spec.max_days
        if spec.model == "fixed":
            return float(min(m, cap))
        if spec.model == "exponential":
            return float(m * -np.expm1(-cap / m))
        if spec.model == "gamma":
            k = 1.0 / spec.cv**2
            theta = m / k
            return float(m * stats.gamma.cdf(cap, k + 1, scale=theta)
                         + cap * stats.gamma.sf(cap, k, scale=theta))
        if spec.model in ("lognormal", "parametric"):
            sigma = np.sqrt(np.log1p(spec.cv**2))
            mu = np.log(m) - sigma**2 / 2
            z = (np.log(cap) - mu) / sigma
            return float(m * stats.norm.cdf(z - sigma) + cap * stats.norm.sf(z))
        values = np.asarray(spec.values, dtype=float)
        return float(np.minimum(values * (m / values.mean()), cap).mean())
