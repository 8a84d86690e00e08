"""Lesson 5: at a high peak rate, only the schedules that warm up (cyclic, one-cycle) survive."""

import math

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def res(lesson):
    return lesson("lr-schedules")


@pytest.mark.parametrize("label", ["baseline", "Step", "Exponential", "Cosine"])
def test_schedules_that_start_at_the_peak_diverge(res, label):
    v = res[label]
    assert v.status == "diverged"
    assert "non_finite" in v.findings


@pytest.mark.parametrize("label", ["Cyclic", "One-cycle"])
def test_schedules_that_warm_up_train(res, label):
    v = res[label]
    assert v.status == "completed"
    assert v.final is not None and math.isfinite(v.final) and v.final < 0.01
    assert v.steps_to(0.02) is not None and v.steps_to(0.02) <= 300


def test_one_cycle_starts_low_and_peaks_at_the_recipe_rate(res):
    lr = res["One-cycle"].series["lr"].dropna()
    peak = res.recipe.train.lr
    assert lr.iloc[0] < peak / 20 and abs(lr.max() - peak) < 1e-3 * peak
