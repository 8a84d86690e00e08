"""The curve controls' effects on the charts: smoothing, loss axis, x-axis, highlight, hover."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from app.components import curves, overlays, theme


def noisy_run(steps: int = 500, level: float = 1.0, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    idx = np.arange(1, steps + 1)
    wide = pd.DataFrame({"train_loss": level * (2.3 * np.exp(-idx / 150) + 0.2) * rng.uniform(0.7, 1.3, steps)}, idx)
    evals = idx[::50]
    wide.loc[evals, "val_loss"] = level * (2.3 * np.exp(-evals / 150) + 0.3)
    wide.loc[evals, "val_accuracy"] = np.linspace(0.1, 0.9, len(evals))
    return wide


def test_ema_is_tensorboards_debiased_average():
    s = pd.Series([1.0, 0.0, 0.0], index=[10, 20, 30])
    assert curves.ema(s, 0.0).tolist() == [1.0, 0.0, 0.0]  # 0 = raw
    # Debiased: the first point is itself, then (0.5*1 + 0) / (0.5 + 1) = 1/3, ...
    assert curves.ema(s, 0.5).tolist() == pytest.approx([1.0, 1 / 3, 1 / 7])
    assert curves.ema(pd.Series([1.0, np.nan, np.inf, 3.0]), 0.5).tolist() == pytest.approx([1.0, 7 / 3])


def test_live_loss_without_smoothing_is_the_raw_loss_alone():
    figs = curves.training_curves(noisy_run(), smoothing=0.0, log_y=False)
    assert [t.name for t in figs["loss"].data] == ["train", "val"]
    assert figs["loss"].data[0].opacity == 1.0 and figs["loss"].layout.yaxis.type == "linear"
    smoothed = curves.training_curves(noisy_run(), smoothing=0.9, log_y=True)["loss"]
    raw = next(t for t in smoothed.data if t.name == "train (raw)")
    assert raw.opacity == curves.RAW_OPACITY and smoothed.layout.yaxis.type == "log"


def test_compare_smoothing_keeps_each_runs_raw_loss_faint_behind_it():
    wides = {"baseline": noisy_run(), "He init": noisy_run(level=0.5, seed=1)}
    fig = overlays.compare_curves(wides, "train_loss", title="Training loss", y_label="loss", smoothing=0.9)
    names = [t.name for t in fig.data]
    assert names == ["baseline (raw)", "He init (raw)", "baseline", "He init"]  # raw drawn first, underneath
    raw, line = fig.data[0], fig.data[2]
    assert raw.opacity == curves.RAW_OPACITY and raw.showlegend is False and raw.line.color == line.line.color
    assert raw.legendgroup == line.legendgroup == "baseline"  # a legend click hides both
    assert np.std(np.diff(line.y)) < np.std(np.diff(raw.y)) / 3


def test_hovering_names_the_run_under_the_cursor_on_its_own_axis():
    fig = overlays.compare_curves(
        {"baseline": noisy_run()}, "val_loss", title="Validation loss", y_label="val loss", x_label="epoch"
    )
    assert fig.layout.hovermode == "closest"
    assert "%{fullData.name}" in fig.data[0].hovertemplate and "epoch" in fig.data[0].hovertemplate
    assert fig.layout.legend.itemdoubleclick == "toggleothers"


def test_a_highlighted_run_is_drawn_bold_on_top_and_the_others_fade():
    wides = {f"run {i}": noisy_run(level=1 + i / 4, seed=i) for i in range(8)}
    fig = overlays.compare_curves(wides, "val_loss", title="t", y_label="v", highlight="run 2", smoothing=0.5)
    top = fig.data[-1]
    assert top.name == "run 2" and top.line.width == 4 and top.opacity == 1.0
    assert fig.data[-2].name == "run 2 (raw)"
    assert {t.opacity for t in fig.data if t.legendgroup != "run 2"} <= {overlays.FADED, overlays.FADED * 0.3}
    ranks = {t.name: t.legendrank for t in fig.data if t.showlegend is not False}
    assert ranks["run 2"] == 2, "the legend keeps the runs' order"


def test_a_highlighted_variant_lights_up_its_seed_band():
    groups = {
        "baseline": [noisy_run(seed=0), noisy_run(seed=1, level=1.2)],
        "He init": [noisy_run(seed=2, level=0.5), noisy_run(seed=3, level=0.6)],
    }
    fig = overlays.seed_band_curves(groups, "val_loss", title="t", y_label="v", highlight="He init")
    mine = [t for t in fig.data if t.legendgroup == "He init"]
    assert fig.data[-len(mine) :] == tuple(mine), "its band and line come last, on top"
    band = next(t for t in fig.data if t.legendgroup == "baseline" and t.fill == "tonexty")
    assert band.opacity == overlays.FADED


def test_a_diverging_loss_labels_a_few_decades_in_one_notation():
    steps = np.arange(1, 101)
    blown = pd.DataFrame({"train_loss": 10.0 ** np.linspace(-4, 13, 100)}, index=steps)
    fig = overlays.compare_curves({"lr 10": blown}, "train_loss", title="Training loss", y_label="loss", log_y=None)
    y = fig.layout.yaxis
    assert y.type == "log" and y.exponentformat == "power" and y.dtick == 3  # 17 decades: every third
    assert fig.layout.title.text == "Training loss (log scale)"
    assert fig.data[0].text[-1] == theme.pow10_label(1e13, 3) == "10¹³"  # hover in the axis's notation
    assert "%{text}" in fig.data[0].hovertemplate


def test_a_linear_axis_writes_large_values_as_powers_of_ten_too():
    big = pd.DataFrame({"train_loss": [1.0, 5e6, 2e7]}, index=[1, 2, 3])
    fig = overlays.compare_curves({"a": big}, "train_loss", title="t", y_label="loss", log_y=False)
    assert fig.layout.yaxis.type == "linear" and fig.layout.yaxis.exponentformat == "power"


def test_beside_a_blown_up_run_the_runs_that_trained_are_not_called_the_same():
    steps = np.arange(1, 101)
    wides = {
        "baseline": pd.DataFrame({"val_loss": np.linspace(2.0, 0.5, 100)}, index=steps),
        "He init": pd.DataFrame({"val_loss": np.linspace(2.0, 0.05, 100)}, index=steps),
        "lr 10": pd.DataFrame({"val_loss": 10.0 ** np.linspace(0, 13, 100)}, index=steps),
    }
    fig = overlays.compare_curves(wides, "val_loss", title="Validation loss", y_label="val loss", log_y=None)
    assert [t.name for t in fig.data] == ["baseline", "He init", "lr 10"]  # a decade apart on a log axis
