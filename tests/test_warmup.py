"""MSER-5 warm-up: finds an initial transient, leaves a stationary series alone."""

import numpy as np
import pytest

import scenarios
from experiments.study.warmup import mser, resolve_warmup


def test_mser_cuts_an_initial_transient():
    rng = np.random.default_rng(1)
    days = np.arange(400)
    series = 300 * (1 - np.exp(-days / 10)) + rng.normal(0, 5, days.size)
    cut = mser(series)
    assert cut % 5 == 0
    assert 25 <= cut <= 80  # the transient has decayed to < 1 SD by day ~40


def test_mser_keeps_a_stationary_series():
    series = np.random.default_rng(2).normal(300, 5, 400)
    assert mser(series) <= 40


def test_mser_needs_two_batches():
    assert mser(np.array([1.0, 2.0, 3.0])) == 0


def test_auto_warmup_is_resolved_before_simulating():
    sc = scenarios.load("baseline", ["warmup_days=auto", "horizon_days=120"])
    with pytest.raises(ValueError, match="resolve_warmup"):
        _ = sc.warmup
    resolved, choice = resolve_warmup(sc)
    assert resolved.warmup == choice.days
    assert 5 <= choice.days <= 60  # an empty 389-bed hospital fills within weeks
    again, _ = resolve_warmup(sc)
    assert again.warmup == resolved.warmup  # pilots are seeded: same choice every time
