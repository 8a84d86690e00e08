"""Lesson 7: six optimizers on two spirals; SGD stalls, momentum and Nesterov climb late, adaptive methods solve it."""

import pytest

pytestmark = pytest.mark.slow

ADAPTIVE = ["RMSprop", "Adam", "AdamW"]


@pytest.fixture(scope="module")
def res(lesson):
    return lesson("optimizers")


def test_plain_sgd_stalls_on_a_plateau(res):
    assert "loss_plateau" in res.baseline.findings
    assert res.baseline.final < 0.75  # 62-70% at seeds 0-2


@pytest.mark.parametrize("label", ["Momentum", "Nesterov"])
def test_momentum_and_nesterov_leave_the_plateau_but_end_behind_the_adaptive_methods(res, label):
    v = res[label]
    assert v.final > res.baseline.final + 0.05
    assert v.final < min(res[a].final for a in ADAPTIVE)


@pytest.mark.parametrize("label", ADAPTIVE)
def test_adaptive_methods_solve_it(res, label):
    v = res[label]
    assert v.final > 0.94 and v.final > res.baseline.final + 0.2  # 95-100% at seeds 0-2
    assert v.steps_to(0.9) is not None  # the baseline never gets there
    assert "loss_plateau" not in v.findings
