"""Lesson 4: a wide MLP on 60 digits overfits; what augmentation, L1, weight decay and early stopping change."""

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def res(lesson):
    return lesson("overfitting-small-data")


def test_the_baseline_memorises_and_its_validation_loss_climbs(res):
    base = res.baseline
    assert "overfitting" in base.findings
    assert base.train_loss < 0.01
    assert base.gap > 0.5
    assert base.val_loss > 1.15 * base.findings["overfitting"]["evidence"]["best_val_loss"]


def test_augmentation_lifts_accuracy(res):
    # "by about 3 to 5 points": 2.8 to 4.8 at seeds 0-2
    assert res["Augmentation"].final >= res.baseline.final + 0.025
    assert res["Augmentation"].best >= res.baseline.best + 0.02


def test_dropout_still_overfits(res):
    assert "overfitting" in res["Dropout 0.5"].findings


@pytest.mark.parametrize("label", ["Weight decay", "L1"])
def test_penalties_keep_validation_loss_down_and_shrink_the_gap(res, label):
    v, base = res[label], res.baseline
    assert v.val_loss < base.val_loss - 0.08
    assert v.gap < base.gap - 0.1


def test_l1_sends_most_weights_to_zero(res):
    assert res.baseline.last("weights_near_zero") < 0.05
    assert res["L1"].last("weights_near_zero") > 0.8


def test_early_stopping_stops_soon_after_the_best_point(res):
    v = res["Early stopping"]
    assert v.status == "early_stopped"
    assert v.steps <= 400 < res.baseline.steps
    assert "overfitting" not in v.findings
    assert v.val_loss < res.baseline.val_loss - 0.05
