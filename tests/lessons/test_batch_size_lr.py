"""Lesson 8: at the same number of samples seen, a big batch needs its lr scaled by the batch factor."""

import pytest

pytestmark = pytest.mark.slow

SAME_LR = "Batch 128, same lr, same epochs"
SCALED = "Batch 128, lr x8, same epochs"
SAME_STEPS = "Batch 128, same lr, same steps"


@pytest.fixture(scope="module")
def res(lesson):
    return lesson("batch-size-lr")


def test_variants_see_what_the_lesson_says(res):
    def samples(v):
        return v.steps * v.recipe.train.batch_size

    assert samples(res.baseline) == samples(res[SAME_LR]) == samples(res[SCALED])
    assert samples(res[SAME_STEPS]) == 8 * samples(res.baseline)
    assert res[SCALED].recipe.train.lr == pytest.approx(8 * res.baseline.recipe.train.lr)


def test_a_big_batch_at_the_same_lr_falls_behind_per_epoch(res):
    assert res[SAME_LR].final < res.baseline.final - 0.1


def test_linear_scaling_recovers_the_small_batch_result(res):
    assert res[SCALED].final >= res.baseline.final - 0.02
    assert res[SCALED].final > res[SAME_LR].final + 0.1


def test_same_steps_also_recovers_it_at_eight_times_the_data(res):
    assert res[SAME_STEPS].final >= res.baseline.final - 0.02
