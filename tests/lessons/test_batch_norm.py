"""Lesson 6: the same six-layer net with and without batch norm: steps to a target accuracy."""

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def res(lesson):
    return lesson("batch-norm")


def test_without_batch_norm_the_net_crawls(res):
    base = res.baseline
    assert "loss_plateau" in base.findings
    assert base.final < 0.6
    assert base.steps_to(0.9) is None  # never within the run


def test_batch_norm_reaches_90_percent_within_100_steps(res):
    bn = res["Batch norm"]
    assert bn.steps_to(0.9) is not None and bn.steps_to(0.9) <= 100
    assert bn.final > 0.95
    # and it reaches the baseline's best accuracy at least 5x sooner
    assert bn.steps_to(res.baseline.best) * 5 <= res.baseline.best_step
    assert not {"loss_plateau", "underfitting"} & set(bn.findings)
