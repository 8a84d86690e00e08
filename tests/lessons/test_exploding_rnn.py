"""Lesson 2b: a vanilla RNN with large weights explodes at once; clipping tames it."""

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def res(lesson):
    return lesson("exploding-rnn")


def test_the_baseline_and_a_lower_lr_diverge(res):
    for label in ("baseline", "Lower learning rate"):
        v = res[label]
        assert v.status == "diverged", label
        assert {"exploding_gradients", "non_finite"} <= set(v.findings), label


@pytest.mark.parametrize("label, ceiling", [("Clip gradient norm", 0.15), ("Clip gradient values", 0.05)])
def test_clipping_trains_far_below_the_target_variance(res, label, ceiling):
    v = res[label]
    assert v.status == "completed"
    assert "non_finite" not in v.findings
    assert v.final < ceiling  # the target is standardised: variance ~1
