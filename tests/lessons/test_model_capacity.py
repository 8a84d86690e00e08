"""Lesson 9: widths 2 to 384 on 300 noisy spiral points: a U-shaped validation loss."""

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
    assert base.train_loss > 0.4 and base.val_loss > 0.5  # it cannot fit even the training points


def test_validation_loss_is_u_shaped_in_width(res):
    losses = [res[w].val_loss for w in WIDTHS]
    assert min(range(len(losses)), key=losses.__getitem__) == 1, losses  # the bottom of the U: width 8
    assert losses[0] > 1.5 * losses[1] and losses[-1] > 1.5 * losses[1], losses  # 384: 1.7-2x


@pytest.mark.parametrize("label", ["Width 32", "Width 128", "Width 384"])
def test_wider_nets_fit_the_training_points_closer_than_width_8(res, label):
    assert res[label].train_loss < res["Width 8"].train_loss


@pytest.mark.parametrize("label", ["Width 32", "Width 128"])
def test_wider_nets_overfit(res, label):
    v = res[label]
    assert "overfitting" in v.findings
    assert v.val_loss > v.findings["overfitting"]["evidence"]["best_val_loss"]
