"""Lesson 2a: a deep residual ReLU net with momentum diverges; clipping and batch norm fix it."""

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def res(lesson):
    return lesson("exploding-residual")


def test_the_baseline_diverges_with_exploding_gradients(res):
    base = res.baseline
    assert base.status == "diverged"
    assert {"exploding_gradients", "non_finite"} <= set(base.findings)


@pytest.mark.parametrize("label", ["Clip gradient norm", "Clip gradient values", "Batch norm"])
def test_clipping_and_batch_norm_keep_it_finite_and_accurate(res, label):
    v = res[label]
    assert v.status == "completed"
    assert "non_finite" not in v.findings
    assert v.final > 0.9


def test_a_ten_times_lower_learning_rate_is_not_enough(res):
    assert res["Lower learning rate"].status == "diverged"
