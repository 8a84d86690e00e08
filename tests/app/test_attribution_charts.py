"""The Explain page's charts (app/components/attribution.py, conductance.py) on results shaped as the engine's.

Each test reads as what a figure promises: signed attributions on the diverging scale, white
at 0 (a symmetric range), inputs named on the axes, marked steps ringed, a log axis where the
layers span decades, and the larger type of presentation mode.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from app.components import attribution as charts
from app.components import conductance, theme
from tests.app.test_explain_logic import conductance_result, image_result, sequence_result, tabular_result

DIVERGING = go.Heatmap(colorscale=theme.DIVERGING).colorscale  # RdBu_r as plotly spells it out


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


def test_the_image_grid_sets_each_sample_beside_its_map_labelled_with_label_and_prediction():
    r = image_result()
    fig = charts.image_grid(r, zmax=2.5)
    grey, (maps,) = fig.data[0], signed(fig)
    assert grey.colorscale == go.Heatmap(colorscale="Greys").colorscale and grey.showscale is False
    assert symmetric(maps) and maps.zmax == 2.5 and maps.colorbar.title.text == "attribution"
    cells = np.asarray(maps.z, dtype=float)
    assert np.isfinite(cells).sum() == 16 * 64  # every map, whole; blank (NaN) between them
    assert np.isfinite(np.asarray(grey.z, dtype=float)).sum() == 16 * 64
    notes = [a.text for a in fig.layout.annotations]
    assert notes[:2] == ["0 → 0", "1 → 1"] and notes[-1] == "5 → 1"
    assert fig.layout.annotations[-1].font.color == charts.MISS  # the wrong answer stands out
    assert fig.layout.title.text == "16 samples: image, map (label → predicted)"
    assert fig.layout.yaxis.scaleanchor == "x"  # square pixels
    few = charts.image_grid(r, most=8, per_row=2, width=480, name="baseline")
    assert len(few.layout.annotations) == 8 and few.layout.title.text.startswith("baseline · 8 samples")


def test_the_class_grid_averages_each_explained_class():
    fig = charts.class_grid(image_result())
    assert [a.text for a in fig.layout.annotations][:2] == ["0 (n=2)", "1 (n=2)"]
    assert len(signed(fig)) == 1 and symmetric(signed(fig)[0])
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
