"""The decision-boundary chart and its feed: payloads shaped as engine/training/boundary.py writes them."""

from __future__ import annotations

import numpy as np
import orjson
import plotly.graph_objects as go

from app.components import boundary, theme
from app.logic import live
from engine.config.recipe import load_recipe
from engine.store import Store
from tests.app.conftest import fill
from tests.app.test_views import open_page


def classes_payload(n_classes: int = 2, grid: int = 50, tilt: float = 1.0) -> dict:
    """A plane split along x₁ = x₂ (``tilt`` sharpens it), with points on both sides labelled by that split."""
    axis = np.linspace(-2, 2, grid)
    xx, yy = np.meshgrid(axis, axis)
    rng = np.random.default_rng(0)
    pts = rng.uniform(-1.8, 1.8, size=(200, 2))
    out = {
        "kind": "classes",
        "x": axis.tolist(),
        "y": axis.tolist(),
        "n_classes": n_classes,
        "feature_names": ["x1", "x2"],
        "class_names": ["upper", "lower"][:n_classes] if n_classes == 2 else [f"blob {c}" for c in range(n_classes)],
        "standardised": True,
    }
    if n_classes == 2:
        out["prob"] = (1 / (1 + np.exp(-tilt * (xx - yy)))).round(3).tolist()
        labels = (pts[:, 0] > pts[:, 1]).astype(int)
    else:
        angle = np.arctan2(yy, xx) % (2 * np.pi)
        out["label"] = (angle / (2 * np.pi) * n_classes).astype(int).clip(0, n_classes - 1).tolist()
        out["conf"] = np.full((grid, grid), 0.8).tolist()
        labels = ((np.arctan2(pts[:, 1], pts[:, 0]) % (2 * np.pi)) / (2 * np.pi) * n_classes).astype(int)
    out["points"] = {"x": pts[:, 0].tolist(), "y": pts[:, 1].tolist(), "label": labels.tolist()}
    return out


def test_two_classes_draw_a_probability_field_the_50_percent_line_and_both_classes_of_points():
    fig = boundary.boundary_figure(classes_payload(), step=300)
    assert fig.layout.title.text == "Decision boundary · step 300"
    heat = [t for t in fig.data if isinstance(t, go.Heatmap)]
    assert len(heat) == 1 and (heat[0].zmin, heat[0].zmax) == (0.0, 1.0)
    assert np.asarray(heat[0].z).shape == (50, 50)
    # Diverging around 50/50: white in the middle, each end a tint of its class's colour.
    scale = heat[0].colorscale
    assert scale[1] == (0.5, "#ffffff") and scale[0][1] != scale[2][1]
    assert heat[0].colorscale[0][1] != theme.run_colour(0), "a tint of the class's colour, so its points show"
    line = next(t for t in fig.data if isinstance(t, go.Contour))
    assert line.contours.start == line.contours.end == 0.5
    points = {t.name: t for t in fig.data if isinstance(t, go.Scatter)}
    assert set(points) == {"upper", "lower"}
    assert points["upper"].marker.symbol != points["lower"].marker.symbol
    assert points["upper"].marker.color == theme.run_colour(0) and points["lower"].marker.color == theme.run_colour(1)
    assert sum(len(t.x) for t in points.values()) == 200
    # Equal aspect over exactly the grid: circles stay round.
    assert fig.layout.yaxis.scaleanchor == "x" and tuple(fig.layout.xaxis.range) == (-2.0, 2.0)
    assert fig.layout.xaxis.title.text == "x1 (standardised)"


def test_many_classes_get_one_hue_each_and_distinct_markers():
    fig = boundary.decision_boundary(classes_payload(n_classes=8), step=None)
    heat = [t for t in fig.data if isinstance(t, go.Heatmap)]
    assert len(heat) == 8 and len({t.colorscale[-1][1] for t in heat}) == 8
    z = np.asarray(heat[0].z, dtype=float)
    assert np.isnan(z).any() and np.nanmax(z) == 0.8  # each class's layer shows only the cells it wins
    markers = [(t.marker.color, t.marker.symbol) for t in fig.data if isinstance(t, go.Scatter)]
    assert len(markers) == 8 and len(set(markers)) == 8
    assert fig.layout.title.text == "Decision boundary"


def test_presentation_mode_enlarges_the_points_and_the_line():
    small, big = (boundary.boundary_figure(classes_payload(), presentation=p) for p in (False, True))
    dot = lambda f: next(t for t in f.data if isinstance(t, go.Scatter)).marker.size  # noqa: E731
    assert dot(big) > dot(small) and big.layout.font.size > small.layout.font.size
    assert small.layout.height > theme.chart_height(), "the square plot gets more height than a line chart"


def test_a_fitted_curve_and_a_forecast_draw_the_model_over_the_data():
    x = np.linspace(-2, 2, 200)
    curve = {"kind": "curve", "x": x.tolist(), "fit": np.sin(x).tolist(), "points": {"x": [0.0, 1.0], "y": [0, 0.8]}}
    fig = boundary.boundary_figure(curve, step=50)
    assert fig.layout.title.text == "Fitted curve · step 50"
    assert [t.name for t in fig.data] == ["training data", "model"]

    forecast = {
        "kind": "forecast",
        "x": list(range(20, 40)),
        "fit": [1e9] * 20,  # a forecast that ran away
        "points": {"x": list(range(20)), "y": np.sin(np.arange(20) / 3).tolist()},
        "truth": [20, 0.3],
    }
    fig = boundary.boundary_figure(forecast)
    assert [t.name for t in fig.data] == ["input window", "true next value", "model's forecast"]
    low, high = fig.layout.yaxis.range
    assert high < 10, "a runaway forecast must not squash the data into a line"


def test_no_payload_or_a_broken_one_is_a_titled_empty_chart():
    assert boundary.boundary_figure(None).layout.title.text == "Decision boundary"
    broken = classes_payload()
    broken["prob"] = [[0.5]]  # the wrong shape: no field, but the points still show
    fig = boundary.boundary_figure(broken)
    assert np.isnan(np.asarray(next(t for t in fig.data if isinstance(t, go.Heatmap)).z, dtype=float)).all()


def test_the_feed_keeps_the_newest_picture_and_its_step_changes_the_version(tmp_path):
    with Store(tmp_path) as store:
        rid = store.create_run(load_recipe("healthy-mlp").to_dict(), total_steps=400)
        fill(store, rid, steps=50)
        feed = live.RunFeed(rid)
        feed.refresh(store)
        assert feed.boundary is None
        store.flush(rid, events=[(0, "boundary", classes_payload(tilt=0.1)), (50, "boundary", classes_payload())])
        before = feed.version
        feed.refresh(store)
        assert feed.boundary["step"] == 50 and feed.boundary["payload"]["kind"] == "classes"
        assert feed.version != before
        store.flush(rid, events=[(100, "boundary", classes_payload(tilt=3.0))])
        feed.refresh(store)
        assert feed.boundary["step"] == 100 and feed.boundary["payload"]["prob"][0][-1] > 0.99  # sharp: the tilt of 3


def test_the_live_view_draws_the_boundary_first_for_a_run_that_records_one(home):
    with Store(home) as store:
        rid = store.create_run(load_recipe(None, {"data.name": "moons"}).to_dict(), total_steps=200)
        fill(store, rid, steps=200)
        store.flush(rid, events=[(200, "boundary", classes_payload())])
        store.set_status(rid, "completed")
    at = open_page("views/live.py", run=rid)
    assert not at.exception, at.exception
    titles = [orjson.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]
    assert titles[:2] == ["Decision boundary · step 200", "Loss"]
