"""Lesson 9: widths 2 to 384 on 100 noisy spiral points: a U-shaped validation loss."""

import pytest

pytestmark = pytest.mark.slow

WIDTHS = ["baseline", "Width 8", "Width 32", "Width 128", "Width 384"]


@pytest.fixture(scope="module")
def res(lesson):
    return lesson("model-capacity")


def test_the_tiny_net_underfits(res):
    base = res.baseline
    assert base.recipe.model.width == 2
    assert base.final < 0.65
    assert base.train_loss > 0.4  # it cannot fit even the training points


def test_validation_loss_is_u_shaped_in_width(res):
    losses = [res[w].val_loss for w in WIDTHS]
    best = min(range(len(losses)), key=losses.__getitem__)
    assert 0 < best < len(losses) - 1, losses  # the minimum is in the middle
    assert losses[0] > 3 * losses[best] and losses[-1] > 3 * losses[best], losses
    assert res["Width 32"].final > 0.95


def test_the_widest_net_memorises(res):
    wide = res["Width 384"]
    assert wide.train_loss < 0.01 < wide.val_loss
    assert "overfitting" in wide.findings
    assert wide.final < res["Width 32"].final
