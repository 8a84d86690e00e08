"""Lesson 1: deep sigmoid MLP, vanishing gradients; which remedies restore the flow."""

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def res(lesson):
    return lesson("vanishing-sigmoid")


def test_the_baseline_starves_its_first_layers(res):
    base = res.baseline
    assert {"vanishing_gradients", "underfitting"} <= set(base.findings)
    assert base.first_to_last < 1e-12
    assert base.final < 0.15  # chance is 0.10


@pytest.mark.parametrize("label", ["He init + ReLU", "Residual", "Batch norm"])
def test_these_remedies_restore_gradient_flow_and_learning(res, label):
    v = res[label]
    assert v.first_to_last > 1e-2, v.first_to_last  # from ~1e-17 to within two orders of the head
    assert v.final > 0.9 and v.final > res.baseline.final + 0.7
    assert "vanishing_gradients" not in v.findings and "underfitting" not in v.findings


@pytest.mark.parametrize("label", ["Xavier init", "Adam", "RMSprop"])
def test_these_do_not_fix_it_within_the_run_as_the_lesson_says(res, label):
    v = res[label]
    assert v.first_to_last < 1e-6
    assert v.final < 0.2
    assert "vanishing_gradients" in v.findings


def test_xavier_lifts_the_ratio_but_not_enough(res):
    assert res["Xavier init"].first_to_last > 100 * res.baseline.first_to_last
