"""The Explain page's charts (app/components/attribution.py, conductance.py) on results shaped as the engine's.

Each test reads as what a figure promises: signed attributions on the diverging scale, white
at 0 (a symmetric range), and clear at 0 where drawn over an image, one cell a sample; inputs
named on the axes, marked steps ringed, a log axis where the layers span decades, and the
larger type of presentation mode.
"""

from __future__ import annotations

import numpy as np
import plotly.colors
import plotly.graph_objects as go
import pytest

from app.components import attribution as charts
from app.components import attribution_images as charts_images
from app.components import conductance, theme
from tests.app.test_explain_logic import conductance_result, image_result, sequence_result, tabular_result

DIVERGING = go.Heatmap(colorscale=theme.DIVERGING).colorscale  # RdBu_r as plotly spells it out
OVERLAY = go.Heatmap(colorscale=charts_images.OVERLAY).colorscale  # its colours, clear at 0, over an image
GREY = go.Heatmap(colorscale=charts_images.GREY).colorscale


def symmetric(trace) -> bool:
    return trace.zmid == 0 and trace.zmin == -trace.zmax and trace.zmax > 0


def signed(fig: go.Figure) -> list:
    return [t for t in fig.data if t.type == "heatmap" and t.colorscale == DIVERGING]


def test_one_colour_range_is_shared_robust_and_keeps_zeros_white():
    hot = image_result()
    hot["per_sample"][0][0][0] = 1e6  # one hot pixel
    assert charts.shared_zmax([hot]) < 10  # the 99th percentile: it does not wash the rest out
    cold = image_result(scale=1e-18)
    assert charts.shared_zmax([cold]) == charts.FLOOR  # nothing to see: white, not noise painted red and blue
    assert charts.shared_zmax([cold, image_result()]) == charts.shared_zmax([image_result()])


def cells(fig: go.Figure) -> list[tuple]:
    """Each cell's (image, map) traces: drawn on one pair of axes, the image first (underneath)."""
    by_axes: dict[tuple, list] = {}
    for t in fig.data:
        by_axes.setdefault((t.xaxis or "x", t.yaxis or "y"), []).append(t)
    return [tuple(traces) for traces in by_axes.values()]


def test_the_overlay_scale_is_the_diverging_one_clear_at_zero():
    stops = [(t, plotly.colors.unlabel_rgb(c)) for t, c in DIVERGING]
    assert [t for t, _ in charts_images.OVERLAY] == pytest.approx([t for t, _ in stops])
    for (_, rgba), (_, rgb) in zip(charts_images.OVERLAY, stops):
        *colour, _ = rgba.removeprefix("rgba(").removesuffix(")").split(",")
        assert tuple(float(c) for c in colour) == pytest.approx(rgb, abs=0.5)  # RdBu_r's colours
    alpha = [float(c.rsplit(",", 1)[1].rstrip(")")) for _, c in charts_images.OVERLAY]
    assert alpha[len(alpha) // 2] == 0 and alpha[0] == alpha[-1] >= 0.8  # clear at 0, strong at the ends
    assert alpha[4] < 0.25 and alpha[6] < 0.25  # small attributions barely cover the strokes


def test_the_image_grid_draws_each_sample_map_over_its_image_labelled_with_label_and_prediction():
    r = image_result()
    fig = charts.image_grid(r, zmax=2.5)
    drawn = cells(fig)
    assert len(drawn) == 16 and all(len(c) == 2 for c in drawn)  # one cell a sample: image, map over it
    for k, (image, attribution) in enumerate(drawn):
        assert image.colorscale == GREY and image.showscale is False and image.hoverinfo == "skip"
        assert attribution.colorscale == OVERLAY and symmetric(attribution) and attribution.zmax == 2.5
        assert np.allclose(image.z, r["inputs"][k]) and np.allclose(attribution.z, r["per_sample"][k])
        assert attribution.showscale is (k == 0)  # one colour bar for the grid, the attribution's
        x, y = fig.layout[image.xaxis.replace("x", "xaxis")], fig.layout[image.yaxis.replace("y", "yaxis")]
        assert y.scaleanchor == image.xaxis and y.scaleratio == 1  # square pixels, square cells
        assert list(y.range) == [7.5, -0.5] and x.showticklabels is False  # row 0 on top, no ticks
    assert drawn[0][1].colorbar.title.text == "attribution"
    assert len({(c[0].xaxis, c[0].yaxis) for c in drawn}) == 16  # every cell its own axes
    notes = [a.text for a in fig.layout.annotations]
    assert notes[:2] == ["0 → 0", "1 → 1"] and notes[-1] == "5 → 1"
    assert fig.layout.annotations[-1].font.color == charts.MISS  # the wrong answer stands out
    assert all(a.xanchor == "center" for a in fig.layout.annotations)
    assert fig.layout.title.text == "16 samples (label → predicted)"
    few = charts.image_grid(r, most=8, per_row=2, width=480, name="baseline")
    assert len(few.layout.annotations) == 8 and few.layout.title.text.startswith("baseline · 8 samples")
    assert len(cells(few)) == 8


def test_the_cells_sit_in_rows_square_and_large_enough_to_read():
    fig = charts.image_grid(image_result(), width=charts.WIDTH)
    xs = sorted({tuple(fig.layout[k].domain) for k in fig.layout if k.startswith("xaxis") and fig.layout[k].domain})
    ys = sorted({tuple(fig.layout[k].domain) for k in fig.layout if k.startswith("yaxis") and fig.layout[k].domain})
    assert len(xs) == charts.PER_ROW and len(ys) == -(-16 // charts.PER_ROW)
    plot_w = charts.WIDTH - 16 - 90  # less the margins and the colour bar
    side = (xs[0][1] - xs[0][0]) * plot_w
    assert side >= 120  # px: a digit's pixel is 15 px or more on the page
    plot_h = fig.layout.height - fig.layout.margin.t - fig.layout.margin.b
    assert abs((ys[0][1] - ys[0][0]) * plot_h - side) < 2  # as tall as wide: nothing left for plotly to squeeze
    assert all(b[0] > a[1] for a, b in zip(xs, xs[1:]))  # a gap between cells


def test_a_run_that_looks_at_nothing_shows_only_its_images():
    starved = image_result(scale=1e-18)
    fig = charts.image_grid(starved, zmax=charts.shared_zmax([starved]))
    for _, attribution in cells(fig):
        z = np.asarray(attribution.z, dtype=float) / attribution.zmax
        assert np.abs(z).max() < 1e-9  # every value at the scale's clear middle: no colour over the image
    # Beside a run that learned, on their shared scale, it stays clear too.
    scale = charts.shared_zmax([starved, image_result()])
    assert all(np.abs(np.asarray(a.z)).max() / scale < 1e-9 for _, a in cells(charts.image_grid(starved, zmax=scale)))


def test_the_class_grid_averages_each_explained_class_map_over_image():
    r = image_result()
    fig = charts.class_grid(r)
    assert [a.text for a in fig.layout.annotations][:2] == ["0 (n=2)", "1 (n=2)"]
    drawn = cells(fig)
    assert len(drawn) == len(r["per_class"]) and all(len(c) == 2 for c in drawn)
    assert all(i.colorscale == GREY and a.colorscale == OVERLAY and symmetric(a) for i, a in drawn)
    assert np.allclose(drawn[1][1].z, r["per_class"][1]["map"]) and np.allclose(
        drawn[1][0].z, r["per_class"][1]["image"]
    )
    assert [a.showscale for _, a in drawn].count(True) == 1
    assert "no samples" in charts.class_grid({**image_result(), "per_class": []}).layout.annotations[0].text


def test_presentation_mode_draws_larger_type_and_taller_grids():
    small, big = charts.image_grid(image_result()), charts.image_grid(image_result(), presentation=True)
    assert small.layout.font.size == theme.font_size(False) and big.layout.font.size == theme.font_size(True)
    assert big.layout.height > small.layout.height  # room above each row for the larger labels
    assert all(a.font.size == theme.font_size(True) for a in big.layout.annotations)


def test_the_feature_bars_name_each_column_largest_on_top_with_its_share():
    r = tabular_result(features=["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"], top=0)
    fig = charts.feature_bars(r, colour=1)
    (bar,) = fig.data
    assert bar.orientation == "h" and bar.y[0] == "bill_length_mm" and set(bar.y) == set(r["features"])
    assert list(fig.layout.yaxis.categoryarray) == list(bar.y)[::-1]  # the largest drawn on top
    assert bar.marker.color == theme.run_colour(1) and bar.text[0].endswith("%")
    assert "mean |attribution|" in fig.layout.xaxis.title.text
    shared = charts.feature_bars(r, x_max=20.0)
    assert shared.layout.xaxis.range[1] > 20  # two runs' bars on one axis
    assert charts.feature_bars(r, presentation=True).layout.font.size == theme.font_size(True)


def test_the_sample_heatmap_of_a_table_is_signed_and_ordered_by_importance():
    r = tabular_result()
    fig = charts.sample_heatmap(r, zmax=8.0)
    (heat,) = signed(fig)
    assert symmetric(heat) and heat.zmax == 8.0
    assert heat.x[0] == "f4" and set(heat.x) == set(r["features"])
    assert heat.y[0] == "#1: f4 ≤ 0 → f4 ≤ 0" and len(heat.y) == 16
    assert np.allclose(np.asarray(heat.z)[:, 0], np.asarray(r["per_sample"])[:, 3])  # f4's column came first


def test_a_sequence_rings_its_marked_steps_over_time():
    r = sequence_result()
    marks = [[1, 48], [2, 47]]
    fig = charts.sample_heatmap(r, marks=marks)
    (heat,), ring = signed(fig), fig.data[-1]
    assert symmetric(heat) and fig.layout.xaxis.title.text == "time step"
    assert ring.name == "marked step" and list(ring.x) == [1, 48, 2, 47]
    assert list(ring.y) == [heat.y[0], heat.y[0], heat.y[1], heat.y[1]]
    assert fig.layout.title.text == "Each sample over time (○ marked)"

    lines = charts.time_chart(r, marks=marks)
    assert lines.data[0].type == "bar" and len(lines.data[0].y) == 50  # mean |attribution| per step
    named = [t.name for t in lines.data]
    assert named == ["mean |attr.| (all)", "#1", "marked", "#2", "marked", "#3"]
    stars = lines.data[2]
    assert stars.marker.symbol == "star" and list(stars.x) == [1, 48] and np.allclose(stars.y, [0.5, 0.5])

    when = charts.feature_time_heatmap(r)
    assert (
        list(when.data[0].y) == ["value", "marker"]
        and when.data[0].colorscale == go.Heatmap(colorscale=theme.SEQUENTIAL).colorscale
    )


def test_layer_conductance_goes_logarithmic_only_when_the_layers_span_decades():
    healthy = conductance_result(values=(0.4, 0.3))
    assert conductance.conductance_range([healthy]) == (False, None)
    vanishing = conductance_result(values=(3e-19, 2e-14, 0.0))
    log_y, span = conductance.conductance_range([vanishing, healthy])
    assert log_y and span[0] < -18 and span[1] > np.log10(0.4)  # one axis for both runs
    fig = conductance.conductance_bars(vanishing, log_y=log_y, y_range=span, name="baseline")
    assert fig.layout.yaxis.type == "log" and tuple(fig.layout.yaxis.range) == span
    assert list(fig.data[0].x) == ["layers.0", "layers.1", "layers.2"]  # input → output
    assert "exactly 0: layers.2" in fig.layout.annotations[0].text  # named, not silently missing
    assert fig.layout.title.text == "baseline · Conductance per layer"
    assert conductance.conductance_bars(healthy).layout.yaxis.type != "log"


def test_the_units_of_a_layer_are_ranked_and_coloured_by_sign():
    fig = conductance.unit_bars(conductance_result(units=8))
    (bar,) = fig.data
    assert list(bar.y) == sorted(bar.y, reverse=True) and bar.x[0] == "#0"
    assert bar.marker.color[0] == conductance.RED and bar.marker.color[-1] == conductance.BLUE
    assert fig.layout.title.text == "Units of layers.0"
