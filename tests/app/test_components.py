"""The chart builders in app/components, on small known data.

Each test reads as an example of how a view calls a builder and what the
figure then promises (order of layers, colour range, hover text, sizes).
"""

from __future__ import annotations

import time

import numpy as np
import orjson
import pandas as pd
import plotly.graph_objects as go
import pytest

from app.components import bars, curves, downsample, heatmaps, overlays, samples, theme

LAYERS = [f"layers.{i}" for i in range(20)] + ["head"]


def healthy_grads(steps: int = 200, layers: int = len(LAYERS), seed: int = 0) -> np.ndarray:
    """Gradient norms around 1e-2 with some noise, shape [steps, layers]."""
    rng = np.random.default_rng(seed)
    return 10 ** rng.normal(-2.0, 0.2, size=(steps, layers))


# --- downsampling ---------------------------------------------------------------------------


@pytest.mark.parametrize("reduce", [downsample.minmax, downsample.lttb])
def test_a_million_points_shrink_to_2000_keeping_ends_and_extremes(reduce):
    x = np.arange(1_000_000)
    y = np.sin(x / 5000.0)
    y[123_456] = 50.0  # a loss spike that must survive
    y[654_321] = -50.0

    start = time.perf_counter()
    xs, ys = reduce(x, y, max_points=2000)
    elapsed = time.perf_counter() - start

    assert len(xs) == len(ys) <= 2000
    assert elapsed < 1.0
    assert (xs[0], xs[-1]) == (0, 999_999)
    assert 123_456 in xs and 654_321 in xs
    assert ys.max() == 50.0 and ys.min() == -50.0
    assert np.all(np.diff(xs) > 0), "points stay in step order"


def test_minmax_keeps_each_buckets_min_and_max():
    x = np.arange(100)
    y = np.tile([0.0, 5.0, -5.0, 1.0], 25)
    xs, ys = downsample.minmax(x, y, max_points=12)
    assert len(xs) <= 12
    assert set(ys) >= {5.0, -5.0}
    assert np.array_equal(ys, y[xs]), "each kept y belongs to its own x"


def test_downsampling_drops_nan_and_leaves_small_inputs_alone():
    x = np.arange(6)
    y = np.array([1.0, np.nan, 3.0, np.inf, 5.0, 6.0])
    for reduce in (downsample.minmax, downsample.lttb):
        xs, ys = reduce(x, y)
        assert xs.tolist() == [0, 2, 4, 5]
        assert ys.tolist() == [1.0, 3.0, 5.0, 6.0]


def test_lttb_follows_the_shape_of_a_line():
    x = np.arange(10_000)
    y = np.where(x < 5000, x, 10_000 - x).astype(float)  # a tent
    xs, ys = downsample.lttb(x, y, max_points=50)
    assert len(xs) == 50
    assert ys.max() == 5000.0, "the apex is the largest triangle in its bucket"


def test_bin_columns_averages_consecutive_steps_and_labels_bins_by_last_step():
    steps = np.arange(0, 1000, 10)  # 100 logged steps
    matrix = np.column_stack([np.arange(100.0), np.full(100, np.nan), np.arange(100.0)])
    matrix[0:10, 2] = np.nan
    matrix[10, 2] = np.nan

    bs, bm = downsample.bin_columns(steps, matrix, max_cols=10)

    assert bs.shape == (10,) and bm.shape == (10, 3)
    assert bs[0] == 90 and bs[-1] == 990, "a bin is labelled by its last step"
    assert bm[0, 0] == pytest.approx(np.mean(np.arange(10.0)))
    assert np.isnan(bm[:, 1]).all(), "an all-NaN layer stays NaN, not 0"
    assert np.isnan(bm[0, 2]), "a bin with no value stays NaN"
    assert bm[1, 2] == pytest.approx(np.mean(np.arange(11.0, 20.0))), "NaNs are skipped in a mean"


def test_bin_columns_handles_no_steps_and_small_inputs():
    bs, bm = downsample.bin_columns(np.zeros(0, dtype=int), np.zeros((0, 4)), max_cols=600)
    assert bs.shape == (0,) and bm.shape == (0, 4)
    steps, m = np.arange(5), np.ones((5, 2))
    bs, bm = downsample.bin_columns(steps, m, max_cols=600)
    assert np.array_equal(bs, steps) and np.array_equal(bm, m)


# --- theme ----------------------------------------------------------------------------------


def test_run_colours_are_distinct_and_wrap_around():
    assert len(set(theme.RUN_COLOURS)) >= 8
    assert theme.run_colour(0) != theme.run_colour(1)
    assert theme.run_colour(len(theme.RUN_COLOURS)) == theme.run_colour(0)


def test_each_run_gets_a_colour_and_line_style_pair_and_near_colours_differ_in_style():
    pairs = [(theme.run_colour(i), theme.run_dash(i)) for i in range(16)]
    assert len(set(pairs)) == 16  # a ninth run wraps to the first colour, but not to its dashes
    index = {c: i for i, c in enumerate(theme.RUN_COLOURS)}
    for a, b in (("#0072B2", "#56B4E9"), ("#E69F00", "#F0E442"), ("#D55E00", "#E69F00")):  # the near pairs
        assert theme.run_dash(index[a]) != theme.run_dash(index[b]), (a, b)


def test_presentation_mode_enlarges_fonts_and_charts():
    normal = heatmaps.gradient_flow_heatmap(np.arange(200), LAYERS, healthy_grads())
    big = heatmaps.gradient_flow_heatmap(np.arange(200), LAYERS, healthy_grads(), presentation=True)
    assert big.layout.font.size >= normal.layout.font.size + 6
    assert big.layout.title.font.size > normal.layout.title.font.size
    assert big.layout.height > normal.layout.height
    assert theme.chart_height(True) > theme.chart_height(False)


# --- heatmaps -------------------------------------------------------------------------------


def test_first_layer_is_drawn_at_the_bottom():
    fig = heatmaps.gradient_flow_heatmap(np.arange(200), LAYERS, healthy_grads())
    heat = fig.data[0]
    assert list(heat.y) == LAYERS
    assert list(fig.layout.yaxis.categoryarray)[0] == "layers.0"
    # Plotly puts the first category at the bottom unless the axis is reversed.
    assert fig.layout.yaxis.autorange != "reversed"
    assert fig.layout.yaxis.title.text == "layer (input → output)"
    assert np.shape(heat.z) == (len(LAYERS), 200), "rows are layers, columns are steps"


def test_zero_nan_and_inf_gradients_draw_and_hover_shows_the_real_value():
    steps = np.arange(4)
    values = np.array(
        [
            [1e-17, 0.0, 1e-2],
            [np.nan, 0.0, 2e-2],
            [np.inf, 3e-5, 1e-2],
            [1.5, 0.0, 1e-2],
        ]
    )
    fig = heatmaps.gradient_flow_heatmap(steps, ["a", "b", "c"], values)
    heat = fig.data[0]
    z, text = np.asarray(heat.z, dtype=float), np.asarray(heat.text)

    assert text[0, 0] == "10⁻¹⁷", "raw value, not its log, in the house notation"
    assert text[1, 0] == "0" and text[0, 2] == "inf" and text[0, 1] == "no value"
    assert text[0, 3] == "1.5"
    assert z[0, 0] == pytest.approx(-17.0)
    assert z[1, 0] <= heat.zmin, "an exact 0 takes the 'vanished' end of the scale"
    assert z[0, 2] >= heat.zmax, "inf takes the 'exploded' end of the scale"
    assert np.isnan(z[0, 1]), "not measured stays blank"
    assert "%{text}" in heat.hovertemplate and "%{y}" in heat.hovertemplate
    orjson.loads(fig.to_json())  # strict JSON: no NaN/Infinity tokens reach the browser


def test_long_runs_are_binned_to_600_columns_with_mean_hover():
    values = healthy_grads(steps=6000, layers=3)
    values[:, 1] = 0.0
    fig = heatmaps.layer_heatmap(np.arange(6000), ["a", "b", "c"], values, title="t", colorbar_title="c")
    heat = fig.data[0]
    assert np.shape(heat.z)[1] <= 600
    assert "mean of 10 per cell" in heat.hovertemplate
    assert set(np.asarray(heat.text)[1]) == {"0"}


def test_colour_range_spans_the_whole_run_and_one_odd_cell_does_not_stretch_it():
    values = healthy_grads()
    values[:100] *= 100  # large gradients early on, as at initialisation: part of the story, not an outlier
    values[150, 3] = 1e6  # one odd cell
    lo, hi = heatmaps.robust_range([values])
    assert -3.0 < lo < -2.0 and -0.5 < hi < 1.0, "early and late steps both inside the scale"

    fig = heatmaps.gradient_flow_heatmap(np.arange(200), LAYERS, values)
    assert fig.data[0].zmax < 1.0, "the 1e6 cell (log10 = 6) does not set the top colour"


def test_robust_range_ignores_non_finite_and_returns_none_without_data():
    assert heatmaps.robust_range([np.zeros((10, 3))]) is None, "log10 of 0 is not a value"
    assert heatmaps.robust_range([]) is None
    m = np.full((10, 2), np.nan)
    m[-1] = [1e-4, 1e-2]
    m[0] = [np.inf, -np.inf]
    lo, hi = heatmaps.robust_range([m], q=(0, 100))
    assert (lo, hi) == pytest.approx((-4.0, -2.0))


def test_an_explicit_centre_makes_the_range_symmetric():
    values = healthy_grads()
    fig = heatmaps.layer_heatmap(np.arange(200), LAYERS, values, title="t", colorbar_title="c", center=0.0)
    heat = fig.data[0]
    assert heat.zmin == pytest.approx(-heat.zmax)
    assert heat.zmax > 1.5, "wide enough to reach the recent values near -2"


def test_update_ratio_is_centred_on_the_1e_minus_3_rule_of_thumb():
    ratios = 10 ** np.random.default_rng(1).normal(-4.5, 0.3, size=(300, 5))
    fig = heatmaps.update_ratio_heatmap(np.arange(300), LAYERS[:5], ratios)
    heat = fig.data[0]
    assert (heat.zmin + heat.zmax) / 2 == pytest.approx(-3.0)
    assert heat.zmin <= -4.5, "the recent values fit inside the symmetric range"
    ticks = dict(zip(heat.colorbar.tickvals, heat.colorbar.ticktext))
    assert ticks[-3.0] == "10⁻³ rule" and ticks[-5.0] == "10⁻⁵", "decades in the house notation"
    assert heat.colorscale == go.Heatmap(colorscale=theme.DIVERGING).colorscale, "diverging about the rule"
    assert fig.layout.title.text == "Update / weight ratio per layer"


def test_side_by_side_heatmaps_share_one_colour_scale():
    small = healthy_grads(seed=1) * 1e-3  # around 1e-5
    large = healthy_grads(seed=2)  # around 1e-2
    fig = heatmaps.side_by_side_heatmaps(
        [
            ("sigmoid", np.arange(200), LAYERS, small),
            ("He + ReLU", np.arange(200), LAYERS, large),
        ]
    )
    assert [t.coloraxis for t in fig.data] == ["coloraxis", "coloraxis"]
    axis = fig.layout.coloraxis
    assert axis.cmin < -4.5 and axis.cmax > -2.5, "one range spans both runs"
    assert [a.text for a in fig.layout.annotations][:2] == ["sigmoid", "He + ReLU"]
    assert axis.colorbar.title.text == "‖grad‖" and "10⁻⁵" in axis.colorbar.ticktext
    assert fig.layout.xaxis.title.text == fig.layout.xaxis2.title.text == "step"


# --- line charts ----------------------------------------------------------------------------


def wide_run(steps: int = 3000) -> pd.DataFrame:
    """A run as ``store.scalars_wide`` gives it: evals every 100 steps, lr on change only."""
    idx = np.arange(steps)
    rng = np.random.default_rng(0)
    wide = pd.DataFrame(index=idx, dtype=float)
    wide["train_loss"] = 2.3 * np.exp(-idx / 800) + 0.1 + 0.05 * rng.random(steps)
    wide.loc[1234, "train_loss"] = 40.0  # one spike
    wide["lr"] = np.nan
    wide.loc[0, "lr"] = 0.1
    wide.loc[1500, "lr"] = 0.01
    evals = idx[::100]
    wide.loc[evals, "val_loss"] = 2.3 * np.exp(-evals / 800) + 0.2
    wide.loc[evals, "val_accuracy"] = np.linspace(0.1, 0.9, len(evals))
    wide["samples_per_s"] = 1000.0
    return wide


def test_training_curves_draw_loss_accuracy_and_lr():
    figs = curves.training_curves(wide_run())
    assert set(figs) == {"loss", "metric", "lr", "other"}
    assert figs["other"] is None, "samples_per_s is not an 'other' metric"

    loss = {t.name: t for t in figs["loss"].data}
    assert set(loss) == {"train (raw)", "train (smoothed)", "val"}
    raw = loss["train (raw)"]
    assert isinstance(raw, go.Scattergl) and len(raw.x) <= 2000
    assert max(raw.y) == 40.0, "MinMax keeps the loss spike"
    assert figs["loss"].layout.yaxis.title.text == "loss (cross-entropy)"

    acc = figs["metric"].data[0]
    assert max(acc.y) == pytest.approx(90.0), "accuracy is shown in %"
    assert figs["metric"].layout.yaxis.title.text == "accuracy (%)"

    lr = figs["lr"]
    assert lr.layout.yaxis.type == "log"
    assert lr.data[0].x[-1] == 2999, "lr is carried forward to the last step"
    assert set(lr.data[0].y) == {0.1, 0.01}


def test_training_curves_put_unknown_scalars_in_other_and_missing_ones_to_none():
    idx = np.arange(50)
    gan = pd.DataFrame(
        {"gen_loss": np.ones(50), "disc_loss": np.full(50, 0.7), "probe_overhead": np.full(50, 0.01)}, index=idx
    )
    figs = curves.training_curves(gan)
    assert figs["loss"] is None and figs["metric"] is None and figs["lr"] is None
    assert {t.name for t in figs["other"].data} == {"gen_loss", "disc_loss"}


def test_a_lone_extra_scalar_is_named_by_its_title_and_axis():
    """One line has no legend, so "Other metrics" over a "value" axis would not say what it is."""
    wide = pd.DataFrame({"train_loss": np.linspace(1, 0.1, 20), "weights_near_zero": np.linspace(0, 0.6, 20)})
    other = curves.training_curves(wide)["other"]
    assert "Share of weights near zero" in other.layout.title.text
    assert other.layout.yaxis.title.text == "share of weights near zero"


def test_regression_runs_show_val_mse():
    wide = pd.DataFrame({"train_loss": np.linspace(1, 0.1, 20), "val_mse": np.linspace(1, 0.2, 20)})
    figs = curves.training_curves(wide)
    assert figs["metric"].layout.yaxis.title.text == "mean squared error"
    assert figs["loss"].layout.yaxis.title.text == "loss (mean squared error)"


def test_an_empty_table_gives_no_figures_and_no_error():
    assert curves.training_curves(pd.DataFrame()) == {"loss": None, "metric": None, "lr": None, "other": None}


def test_a_diverged_loss_is_marked_where_it_became_infinite():
    wide = pd.DataFrame({"train_loss": [1.0, 2.0, 50.0, np.inf, np.nan]})
    fig = curves.training_curves(wide)["loss"]
    assert max(fig.data[0].y) == 50.0
    assert [s.x0 for s in fig.layout.shapes] == [3]


def test_metric_figure_downsamples_long_series_and_uses_given_colours():
    s = pd.Series(np.random.default_rng(0).random(50_000))
    fig = curves.metric_figure(
        {"a": s, "b": s * 2}, title="T", y_label="u", colours={"b": "#123456"}, dash={"b": "dot"}
    )
    assert all(len(t.x) <= 2000 and isinstance(t, go.Scattergl) for t in fig.data)
    assert fig.data[1].line.color == "#123456" and fig.data[1].line.dash == "dot"
    assert fig.data[0].line.color == theme.run_colour(0)
    assert fig.layout.showlegend is True and fig.layout.hovermode == "x unified"


def test_compare_curves_skip_runs_without_the_column_and_keep_colours():
    a, b = wide_run(300), wide_run(300).drop(columns=["val_loss"])
    colours = {"A": "#0072B2", "B": "#D55E00", "C": "#009E73"}
    c = wide_run(300)
    c["val_loss"] *= 1.5  # its own curve (a copy of A's would be named "C (same as A)")
    fig = overlays.compare_curves(
        {"A": a, "B": b, "C": c}, "val_loss", title="Validation loss", y_label="loss (cross-entropy)", colours=colours
    )
    assert [t.name for t in fig.data] == ["A", "C"]
    assert [t.line.color for t in fig.data] == ["#0072B2", "#009E73"]
    acc = overlays.compare_curves({"A": a}, "val_accuracy", title="Accuracy", y_label="accuracy (%)")
    assert max(acc.data[0].y) == pytest.approx(90.0)


def test_eight_overlaid_runs_at_the_same_level_stay_apart_by_colour_and_dash():
    flat = pd.DataFrame({"val_accuracy": [0.1] * 5}, index=[0, 50, 100, 150, 200])  # runs that never learn
    fig = overlays.compare_curves(
        {f"run {i}": flat for i in range(9)}, "val_accuracy", title="Validation accuracy", y_label="val accuracy (%)"
    )
    styles = [(t.line.color, t.line.dash) for t in fig.data]
    assert len(set(styles)) == 9
    assert styles[0] == (theme.run_colour(0), "solid") and styles[8][0] == theme.run_colour(0)
    # Lines drawn exactly on top of an earlier one say so, since the eye cannot.
    assert [t.name for t in fig.data] == ["run 0"] + [f"run {i} (same as run 0)" for i in range(1, 9)]


def test_only_lines_that_really_coincide_are_named_as_shared():
    steps = [0, 50, 100]
    wides = {
        "baseline": pd.DataFrame({"val_accuracy": [0.1, 0.1, 0.1]}, index=steps),
        "He init": pd.DataFrame({"val_accuracy": [0.1, 0.5, 0.9]}, index=steps),
        "Residual": pd.DataFrame({"val_accuracy": [0.1, 0.5, 0.9]}, index=steps),
        "ReLU": pd.DataFrame({"val_accuracy": [0.1, 0.12, 0.1]}, index=steps),  # 2 points off: visibly apart
    }
    fig = overlays.compare_curves(wides, "val_accuracy", title="t", y_label="val accuracy (%)")
    assert [t.name for t in fig.data] == ["baseline", "He init", "Residual (same as He init)", "ReLU"]
    assert fig.data[2].line.color == theme.run_colour(2)  # its own colour and dash still


def test_a_blown_up_validation_loss_gets_a_log_axis_that_the_title_names():
    steps = [50, 100, 150]
    wides = {
        "baseline": pd.DataFrame({"val_loss": [2.0, 1.0, 0.8]}, index=steps),
        "lr 1.0": pd.DataFrame({"val_loss": [5.0, 900.0, np.inf]}, index=steps),
    }
    fig = overlays.compare_curves(wides, "val_loss", title="Validation loss", y_label="val loss", log_y=None)
    assert fig.layout.yaxis.type == "log" and fig.layout.title.text == "Validation loss (log scale)"
    calm = overlays.compare_curves(
        {"baseline": wides["baseline"]}, "val_loss", title="Validation loss", y_label="v", log_y=None
    )
    assert calm.layout.yaxis.type == "linear" and calm.layout.title.text == "Validation loss"


def test_seed_bands_on_a_log_axis_stop_above_zero():
    steps = pd.Index([50, 100], name="step")
    groups = {"lr 1.0": [pd.DataFrame({"val_loss": v}, index=steps) for v in ([0.5, 1000.0], [0.1, 10.0])]}
    fig = overlays.seed_band_curves(groups, "val_loss", title="Validation loss", y_label="val loss", log_y=None)
    assert fig.layout.yaxis.type == "log"
    low = next(t for t in fig.data if t.fill == "tonexty")
    assert all(y > 0 for y in low.y)  # mean - sd is below zero at step 100, but the band stays drawable


# --- bars and samples -----------------------------------------------------------------------


def test_layer_bar_names_zero_and_nan_layers_instead_of_crashing():
    values = [1e-3, 0.0, np.nan, 1e-17]
    fig = bars.layer_bar(["l0", "l1", "l2", "head"], values, step=40, title="Gradient norm", y_label="‖grad‖")
    bar = fig.data[0]
    assert list(bar.x) == ["l0", "l1", "l2", "head"], "input on the left"
    assert np.isnan(bar.y[1]) and np.isnan(bar.y[2]) and bar.y[3] == 1e-17
    note = fig.layout.annotations[0].text
    assert "exactly 0: l1" in note and "NaN: l2" in note
    assert list(bar.text) == ["10⁻³", "0", "no value", "10⁻¹⁷"]
    assert fig.layout.title.text == "Gradient norm · step 40"
    assert fig.layout.yaxis.type == "log"


def test_activation_fractions_are_grouped_percentages():
    fig = bars.activation_fractions(["act.0", "act.1"], [0.5, 0.0], [np.nan, 1.0], step=7)
    dead, sat = fig.data
    assert list(dead.y) == [50.0, 0.0] and sat.y[1] == 100.0 and np.isnan(sat.y[0])
    assert fig.layout.barmode == "group"
    assert tuple(fig.layout.yaxis.range) == (0, 100)


def test_samples_scatter_shows_real_and_generated_points_on_equal_axes():
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(5000, 2)), rng.normal(size=(300, 2))
    fig = samples.samples_scatter(real, fake, step=100)
    assert [t.name for t in fig.data] == ["real data", "generator samples"]
    assert len(fig.data[0].x) <= 2000 and isinstance(fig.data[0], go.Scattergl)
    assert fig.layout.yaxis.scaleanchor == "x"


# --- every builder --------------------------------------------------------------------------


def _all_figures(empty: bool) -> dict[str, go.Figure]:
    n = 0 if empty else 200
    steps, grads = np.arange(n), healthy_grads(steps=n) if n else np.zeros((0, len(LAYERS)))
    wide = wide_run(n) if n else pd.DataFrame()
    series = {"train": wide["train_loss"]} if n else {}
    layer_names = [] if empty else LAYERS
    values = [] if empty else list(grads[-1])
    xy = np.zeros((0, 2)) if empty else np.ones((10, 2))
    return {
        "metric": curves.metric_figure(series, title="Loss", y_label="loss (cross-entropy)"),
        "compare": overlays.compare_curves(
            {"A": wide}, "train_loss", title="Train loss", y_label="loss (cross-entropy)"
        ),
        "heatmap": heatmaps.layer_heatmap(steps, LAYERS, grads, title="Weights", colorbar_title="log10 ‖w‖"),
        "gradient_flow": heatmaps.gradient_flow_heatmap(steps, LAYERS, grads),
        "update_ratio": heatmaps.update_ratio_heatmap(steps, LAYERS, grads),
        "side_by_side": heatmaps.side_by_side_heatmaps([("A", steps, LAYERS, grads)] if n else []),
        "bar": bars.layer_bar(layer_names, values, step=n, title="Gradient norm", y_label="‖grad‖"),
        "fractions": bars.activation_fractions(layer_names, values, values, step=n),
        "samples": samples.samples_scatter(xy, xy),
    }


@pytest.mark.parametrize("empty", [False, True], ids=["with data", "empty"])
def test_every_figure_has_a_title_and_axis_titles(empty):
    for name, fig in _all_figures(empty).items():
        assert isinstance(fig, go.Figure), name
        assert fig.layout.title.text, f"{name} has no title"
        assert fig.layout.xaxis.title.text, f"{name} has no x-axis title"
        assert fig.layout.yaxis.title.text, f"{name} has no y-axis title"
        if empty:
            notes = " ".join(a.text for a in fig.layout.annotations)
            assert "waiting for data" in notes or "no runs" in notes, name
        orjson.loads(fig.to_json())


def test_seed_bands_draw_each_variants_mean_inside_its_spread_over_seeds():
    steps = pd.Index([50, 100, 150], name="step")
    groups = {
        "baseline": [pd.DataFrame({"val_accuracy": v}, index=steps) for v in ([0.5, 0.6, 0.7], [0.4, 0.6, 0.8])],
        "He init": [pd.DataFrame({"val_accuracy": v}, index=steps) for v in ([0.8, 0.9, 0.95], [0.8, 0.9, 0.97])],
        "one seed": [pd.DataFrame({"val_accuracy": [0.2, 0.3, 0.4]}, index=steps)],
    }
    fig = overlays.seed_band_curves(groups, "val_accuracy", title="t", y_label="val accuracy (%)")
    bands = [t for t in fig.data if t.fill == "tonexty"]
    assert len(bands) == 2  # one per variant with several seeds
    lines = {t.name: t for t in fig.data if t.name in groups}
    assert list(lines["baseline"].y) == pytest.approx([45.0, 60.0, 75.0])  # the mean, in %
    low = next(t for t in bands if t.legendgroup == "baseline")
    assert list(low.y) == pytest.approx([45 - 7.0711, 60.0, 75 - 7.0711], abs=1e-3)  # mean - 1 sd
