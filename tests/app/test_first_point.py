"""The path from Launch to the first point: the callback launch, the Live page's wait, the data picture.

The timing itself is measured in ``benchmarks/first_point.py``; these tests pin what makes it fast
and check that each piece still does its job (a run launched once, a wait that ends, a picture
of every kind of data).
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from app.components import data_preview, theme
from app.logic import launch as setup
from app.logic import live as data
from engine.config.recipe import load_recipe
from engine.store import Store


class Clock:
    """A fake monotonic clock that sleep() advances, so the wait runs in no real time."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.now += s


def test_the_live_page_waits_for_a_first_step_and_returns_as_soon_as_it_is_stored(tmp_path):
    store = Store(tmp_path)
    run_id = store.create_run(load_recipe("healthy-mlp").to_dict(), total_steps=10)
    clock, reads = Clock(), []

    def sleep(s: float) -> None:
        clock.sleep(s)
        reads.append(clock.now)
        if len(reads) == 3:  # the worker's first flush lands during the third wait
            store.update_run(run_id, status="running", step=1)

    assert data.wait_for_first_step(store, run_id, timeout_s=0.8, poll_s=0.02, clock=clock, sleep=sleep)
    assert len(reads) == 3 and clock.now == pytest.approx(0.06)  # not the whole 0.8 s


def test_the_wait_gives_up_at_its_deadline_and_at_once_for_a_run_that_ended(tmp_path):
    store = Store(tmp_path)
    run_id = store.create_run(load_recipe("healthy-mlp").to_dict(), total_steps=10)
    clock = Clock()
    assert not data.wait_for_first_step(store, run_id, timeout_s=0.8, poll_s=0.02, clock=clock, sleep=clock.sleep)
    assert clock.now == pytest.approx(0.8, abs=0.021)  # the page's 1 s tick is never overrun

    store.set_status(run_id, "failed", error="bad data")
    clock.now = 0.0
    assert not data.wait_for_first_step(store, run_id, clock=clock, sleep=clock.sleep)
    assert clock.now == 0.0


@pytest.mark.parametrize(
    "recipe, trace_type, title",
    [
        ("optimizers", "scatter", "Training data"),  # two spirals in the plane, one trace per class
        ("vanishing-sigmoid", "heatmap", "images, with their labels"),  # digits
        ("exploding-rnn", "scatter", "sequences"),  # sequences over time
        ("crnn-moving-digits", "heatmap", "clips, time →"),  # video: strips of frames
    ],
)
def test_the_launch_page_pictures_each_kind_of_data(recipe, trace_type, title):
    base = load_recipe(recipe)
    prepared = setup.load_data(base.data, base.seed)
    assert prepared is not None
    fig = data_preview.preview_figure(prepared)
    assert isinstance(fig, go.Figure)
    assert title in fig.layout.title.text
    assert {t.type for t in fig.data} == {trace_type}
    if prepared.kind == "tabular":
        assert len(fig.data) == prepared.n_classes  # a colour (and legend entry) per class
        assert sum(len(t.x) for t in fig.data) <= data_preview.MAX_POINTS
    if prepared.kind == "image":
        labels = [a.text for a in fig.layout.annotations]
        assert len(labels) == data_preview.IMAGES and len(set(labels)) == data_preview.IMAGES  # one per class first
    if prepared.kind == "video":
        labels = [a.text for a in fig.layout.annotations]
        assert len(labels) == data_preview.CLIPS and len(set(labels)) == data_preview.CLIPS  # one per class first
        frames, h, w = prepared.input_shape[0], prepared.input_shape[-2], prepared.input_shape[-1]
        z = np.asarray(fig.data[0].z, dtype=float)
        rows = -(-data_preview.CLIPS // data_preview.CLIPS_PER_ROW)
        assert np.isfinite(z).sum() == data_preview.CLIPS * frames * h * w and z.shape[0] == rows * (h + 3)
    assert fig.layout.font.size == theme.font_size(False)  # house style


def test_a_wide_table_shows_its_first_two_features_and_says_so():
    base = load_recipe("healthy-mlp", ["data.name=wine"])
    prepared = setup.load_data(base.data, base.seed)
    fig = data_preview.preview_figure(prepared)
    assert fig.layout.title.text == f"Training data: the first 2 of {prepared.input_shape[0]} features"
    assert fig.layout.xaxis.title.text == prepared.feature_names[0]
    assert fig.layout.yaxis.scaleanchor is None  # two different features keep their own scales


def test_style_returns_the_styled_figure_with_its_arrays_untouched():
    z = np.arange(12.0).reshape(3, 4)
    fig = go.Figure(go.Heatmap(z=z))
    fig.update_layout(title=dict(text="Grad norm"))
    fig.add_annotation(text="note", x=0, y=0)
    styled = theme.style(fig, presentation=True)
    assert styled.layout.title.text == "Grad norm" and styled.layout.title.font.size == round(22 * 1.3)
    assert styled.layout.xaxis.tickfont.size == 22 and styled.layout.annotations[0].font.size == 22
    assert styled.layout.height == theme.chart_height(True)
    np.testing.assert_array_equal(styled.data[0].z, z)
