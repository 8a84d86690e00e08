"""Lesson 3: the adding problem over 50 steps; a plain RNN stays at the variance bar, LSTM and GRU solve it."""

import pytest

pytestmark = pytest.mark.slow

BAR = 1 / 6  # MSE of always predicting the mean sum 1.0 (two uniforms: variance 2 * 1/12)


@pytest.fixture(scope="module")
def res(lesson):
    return lesson("long-range-memory")


def test_the_plain_rnn_is_no_better_than_guessing_the_mean(res):
    base = res.baseline
    assert base.final > 0.9 * BAR
    assert "underfitting" in base.findings


@pytest.mark.parametrize("label", ["LSTM", "GRU"])
def test_gated_cells_solve_it(res, label):
    v = res[label]
    assert v.final < 0.1 * BAR  # ten times below the bar; LSTM ~0.002, GRU ~0.0003
    assert "underfitting" not in v.findings


def test_the_gru_gets_there_first(res):
    gru, lstm = res["GRU"].steps_to(0.05), res["LSTM"].steps_to(0.05)
    assert gru is not None and lstm is not None and gru < lstm
