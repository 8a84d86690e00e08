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


@pytest.mark.parametrize("label", ["LSTM", "GRU"])
@pytest.mark.parametrize("method", ["ig", "deeplift"])
def test_attribution_points_at_the_two_marked_numbers(res, label, method):
    """What a solved adding problem looks at: the marked steps carry the most attribution.

    A marked number near 0 adds almost nothing to the sum, and integrated gradients rightly gives
    it almost nothing (0.02 x its gradient): so both marks must be the top two only where both
    marked numbers count (0.2 or more); everywhere, the top step must be a marked one.
    """
    import numpy as np

    from engine.training.explain import explain

    r = explain(res.store, res[label].run_id, method, samples=60, steps=50)
    attr = np.asarray(r["per_sample_abs"])  # (samples, steps): |attribution| per time step
    inputs = np.asarray(r["inputs"])
    marked = inputs[:, :, 1] == 1.0  # channel 1 is the marker, channel 0 the number
    ranked = np.argsort(-attr, axis=1)
    assert np.take_along_axis(marked, ranked[:, :1], axis=1).mean() >= 0.95
    counts = (np.where(marked, inputs[:, :, 0], 1.0) >= 0.2).all(axis=1)  # both marked numbers >= 0.2
    both = np.take_along_axis(marked, ranked[:, :2], axis=1).all(axis=1)[counts]
    assert counts.sum() >= 20 and both.mean() >= 0.95, (counts.sum(), both.mean())
    share = (attr * marked).sum(1) / attr.sum(1)
    assert np.median(share) > 0.4, np.median(share)  # 2 steps of 50 carry ten times their 4% share
