"""Lesson 7: six optimizers on two spirals; SGD stalls, momentum helps, adaptive methods cross the plateau."""

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def res(lesson):
    return lesson("optimizers")


def test_plain_sgd_stalls_on_a_plateau(res):
    assert "loss_plateau" in res.baseline.findings
    assert res.baseline.final < 0.7


def test_momentum_then_nesterov_get_further(res):
    assert res["Momentum"].final > res.baseline.final + 0.03
    assert res["Nesterov"].final > res["Momentum"].final + 0.05


@pytest.mark.parametrize("label", ["RMSprop", "Adam", "AdamW"])
def test_adaptive_methods_solve_it(res, label):
    v = res[label]
    assert v.final > 0.9 and v.final > res.baseline.final + 0.25
    assert v.steps_to(0.9) is not None  # the baseline never gets there
    assert "loss_plateau" not in v.findings
