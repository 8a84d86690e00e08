"""The layer health strip, histograms over time, colour scales and the one notation for powers of ten.

Each test reads as an example of what a chart promises a student: which colours
mean what, which steps are shown, how a number is written.
"""

from __future__ import annotations

import numpy as np
import orjson
import plotly.graph_objects as go
import pytest

from app.components import bars, health, heatmaps, theme
from app.logic import live
from engine.config import histograms

LAYERS = [f"layers.{i}" for i in range(6)]


def scale_of(name: str):
    """A named plotly colour scale as a Heatmap resolves it, to compare figures with."""
    return go.Heatmap(colorscale=name).colorscale


def matrix(steps: int = 120, layers: int = len(LAYERS), centre: float = -2.0, seed: int = 0) -> np.ndarray:
    return 10 ** np.random.default_rng(seed).normal(centre, 0.3, size=(steps, layers))


# --- notation -------------------------------------------------------------------------------


def test_powers_of_ten_are_written_one_way():
    values = [0, 1e-17, 3.2e-4, 0.25, 1234, 99999, -1e-8, np.inf, np.nan]
    assert list(theme.pow10_labels(values, 2)) == [
        "0",
        "10⁻¹⁷",
        "3.2×10⁻⁴",
        "0.25",
        "1234",
        "10⁵",  # 99,999 rounds to a whole power, not "10.0×10⁴"
        "-10⁻⁸",
        "inf",
        "nan",
    ]
    assert theme.pow10_label(3.2e-4) == "3.2×10⁻⁴" and theme.pow10_label(None) == "–"


def test_colour_bar_ticks_sit_on_whole_decades_and_thin_out_over_a_wide_range():
    assert theme.decade_ticks(-4.3, -1.2) == ([-4.0, -3.0, -2.0], ["10⁻⁴", "10⁻³", "10⁻²"])
    vals, texts = theme.decade_ticks(-17.0, 2.0)
    assert len(vals) <= 8 and texts[0] == "10⁻¹⁷" and all(v == int(v) for v in vals)
    assert theme.decade_ticks(-3.4, -3.1)[1] == ["10⁻³"], "a narrow range still gets its nearest decade"


def test_gradient_norm_bars_have_decade_ticks_and_no_minor_ones():
    fig = bars.layer_bar(LAYERS, [1e-2, 3e-3, 1e-4, 5e-6, 2e-2, 1e-1], step=9, title="Gradient norm", y_label="‖g‖")
    y = fig.layout.yaxis
    assert y.type == "log" and y.dtick == 1 and y.exponentformat == "power"
    assert y.minor.ticks == "" and y.minor.showgrid is False
    narrow = bars.layer_bar(LAYERS[:2], [4.1e-3, 4.3e-3], step=9, title="g", y_label="‖g‖").layout.yaxis
    assert narrow.range[0] <= np.floor(narrow.range[1]), "a whole decade inside, so the axis has a label"


# --- the strip ------------------------------------------------------------------------------


def test_every_strip_quantity_is_read_by_the_live_page():
    assert set(health.QUANTITIES) == set(live.HEALTH_STATS)
    assert set(live.LIVE_STATS) >= set(histograms.HIST_STATS)


def test_magnitudes_are_sequential_on_a_log_scale_with_power_of_ten_ticks():
    for stat in ("grad_norm", "weight_norm", "act_std"):
        fig = health.health_heatmap(stat, np.arange(120), LAYERS, matrix())
        heat = fig.data[0]
        assert heat.colorscale == scale_of(theme.SEQUENTIAL), stat
        assert all(t.startswith("10") for t in heat.colorbar.ticktext), stat
        assert -3 < heat.zmin < heat.zmax < -1, f"{stat}: the log10 range of the values"
    assert health.health_heatmap("grad_norm", [0], LAYERS, matrix(1)).layout.title.text.startswith("Gradient flow")


def test_diverging_scales_sit_on_a_meaningful_centre():
    ratio = health.health_heatmap("update_ratio", np.arange(120), LAYERS, matrix(centre=-5.0)).data[0]
    assert (ratio.zmin + ratio.zmax) / 2 == pytest.approx(-3.0), "white at the 10⁻³ rule of thumb"
    means = np.random.default_rng(1).normal(0.4, 0.2, size=(120, len(LAYERS)))
    mean = health.health_heatmap("act_mean", np.arange(120), LAYERS, means).data[0]
    assert mean.colorscale == scale_of(theme.DIVERGING)
    assert mean.zmin == pytest.approx(-mean.zmax), "white at a mean of 0"
    assert mean.zmax >= 0.8, "the run's values fit inside"


def test_dead_and_saturated_shares_are_percentages_on_a_fixed_0_to_100_scale():
    dead = np.full((50, 3), 0.25)
    dead[:, 2] = np.nan  # a layer whose family cannot die
    heat = health.health_heatmap("dead_fraction", np.arange(50), ["act.0", "act.1", "act.2"], dead).data[0]
    assert (heat.zmin, heat.zmax) == (0.0, 100.0), "25 % looks the same in every run"
    assert heat.colorscale == scale_of(theme.SHARES) and heat.colorbar.ticksuffix == " %"
    assert np.asarray(heat.z, dtype=float)[0, 0] == pytest.approx(25.0)
    assert "%{text} %" in heat.hovertemplate


def test_the_strip_offers_only_quantities_that_have_values():
    feed = live.RunFeed("r")
    feed.matrices["grad_norm"].extend(np.arange(3), LAYERS, matrix(3))
    feed.matrices["saturated_fraction"].extend(np.arange(3), ["act.0"], np.full((3, 1), np.nan))  # ReLU
    assert live.health_options(feed.matrices, health.QUANTITIES) == ["grad_norm"]


# --- histograms over time -------------------------------------------------------------------


def histogram_matrix(steps: int, layers: int) -> np.ndarray:
    """Stored histogram rows: layer i has half its entries in bin 10 + i and half exactly zero."""
    rows = np.zeros((steps, layers, histograms.N_BINS))
    for i in range(layers):
        rows[:, i, 10 + i] = 0.5
        rows[:, i, 0] = 0.5
    return rows.reshape(steps, -1)


def test_a_layers_histogram_is_read_from_the_stored_rows():
    m = live.Matrix()
    names = LAYERS[:3] + [f"layer{i}" for i in range(3, 3 * histograms.N_BINS)]  # the store pads the names
    m.extend(np.arange(0, 40, 2), names, histogram_matrix(20, 3))
    assert live.histogram_layers(m) == LAYERS[:3]
    steps, shares = live.layer_histogram(m, 2)
    assert steps.tolist() == list(range(0, 40, 2)) and shares.shape == (20, histograms.N_BINS)
    assert shares[0, 12] == 0.5 and shares[0, 0] == 0.5


def test_histogram_heatmap_draws_bins_by_steps_with_named_rows():
    shares = histograms.split(histogram_matrix(1500, 1))[:, 0]
    fig = health.histogram_heatmap(np.arange(1500), shares, layer="layers.0", stat="grad_hist", x_range=(0, 3000))
    heat = fig.data[0]
    z = np.asarray(heat.z, dtype=float)
    assert z.shape[0] == histograms.N_BINS and z.shape[1] <= 300, "one row per bin, steps binned"
    assert z[10, 0] == pytest.approx(np.log10(0.5)) and np.isnan(z[5, 0]), "an empty bin stays blank"
    names = health.bin_names()
    assert list(heat.y) == names and names[0] == "exactly 0" and names[1] == "≤ 10⁻²⁴"
    assert names[2] == "10⁻²⁴ – 3.2×10⁻²⁴", "a bin's range in words, for the hover"
    ticks = dict(zip(fig.layout.yaxis.tickvals, fig.layout.yaxis.ticktext))
    assert ticks[names[0]] == "0" and ticks[names[-1]] == "> 10²" and names[1] not in ticks, "no overprint"
    assert all(t.startswith(("10", "0", "≤", ">")) for t in ticks.values()) and 8 <= len(ticks) <= 20
    assert np.asarray(heat.customdata)[0, 0] == 0.5 and "customdata:.3~%" in heat.hovertemplate
    assert fig.layout.xaxis.range[1] >= 3000, "the steps its neighbours show"
    assert fig.layout.title.text == "Gradients of layers.0: share of entries per |grad| bin"
    orjson.loads(fig.to_json())
    assert health.histogram_heatmap([], np.zeros((0, histograms.N_BINS)), layer="x").layout.annotations


# --- side by side ---------------------------------------------------------------------------


def test_side_by_side_heatmaps_show_one_step_range_and_titles_that_fit():
    long_name = "vanishing sigmoid + He init + residual connections + batch norm"
    fig = heatmaps.side_by_side_heatmaps(
        [
            ("just started", np.arange(2, 7), LAYERS, matrix(5)),
            (long_name, np.arange(0, 800), LAYERS, matrix(800)),
            ("third", np.arange(0, 400), LAYERS, matrix(400)),
        ]
    )
    ranges = {tuple(fig.layout[a].range) for a in ("xaxis", "xaxis2", "xaxis3")}
    assert len(ranges) == 1 and ranges.pop()[1] >= 799, "2–6 is drawn on the same 0–800 axis"
    titles = [a.text for a in fig.layout.annotations][:3]
    assert titles[1].endswith("…") and len(titles[1]) <= 34 and long_name in fig.data[1].hovertemplate
    assert fig.layout.xaxis2.domain[1] - fig.layout.xaxis2.domain[0] > 0.4, "two panels a row, not three slivers"
    assert fig.layout.coloraxis.colorbar.ticktext, "decade ticks on the shared colour bar"


def test_the_live_charts_share_the_span_of_every_statistic():
    feed = live.RunFeed("r")
    feed.matrices["grad_norm"].extend(np.arange(0, 800, 5), LAYERS, matrix(160))
    feed.matrices["update_ratio"].extend(np.arange(2, 7), LAYERS, matrix(5))
    assert live.step_span(feed.matrices) == (0.0, 795.0)
    fig = health.health_heatmap("update_ratio", np.arange(2, 7), LAYERS, matrix(5), x_range=(0.0, 795.0))
    assert fig.layout.xaxis.range[0] < 0 < 795 < fig.layout.xaxis.range[1]
