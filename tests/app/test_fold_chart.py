"""A cross-validation on Compare: every fold as a point, the mean with its 95% interval, one caption line.

The chart and the caption are tested on a summary written by hand (the shape
``engine.control.cv.summarize`` returns); ``build()`` on a CV group written straight into a
store (no training) by :func:`tests.app.cv_group.write_cv_group`, which the Chromium test
shares; and the page itself in Streamlit's AppTest.
"""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from app.components import folds
from app.logic import compare as comparison
from app.logic.folds import cv_caption
from engine.store import Store
from tests.app.cv_group import CV_VALUES, write_cv_group
from tests.app.seed_group import write_seed_group
from tests.app.test_views import open_page

CI = {"level": 0.95, "n_a": 5, "n_b": 0, "method": "t"}


def variant(label: str, values: list[float | None], ci: tuple[float, float] | None, paired: dict | None = None) -> dict:
    """One variant of a hand-made summary: its folds' values, their mean and sd, and the interval given."""
    finite = [x for x in values if x is not None]
    run = {"repeat": 0, "status": "completed"}
    return {
        "label": label,
        "folds": [
            {"fold": f"fold {i + 1}/5", "index": i, "run": f"{label[:4]}{i}", "value": x, **run}
            for i, x in enumerate(values)
        ],
        "mean": float(np.mean(finite)) if finite else None,
        "std": float(np.std(finite, ddof=1)) if len(finite) > 1 else None,
        "n": len(finite),
        "ci": None if ci is None else {"low": ci[0], "high": ci[1], **CI, "excludes_zero": True},
        "paired_vs_baseline": paired,
    }


def paired(mean: float, low: float, high: float) -> dict:
    ci = {"low": low, "high": high, **CI, "excludes_zero": low > 0 or high < 0}
    return {"mean": mean, "std": 0.01, "n": 5, "ci": ci}


def summary(*variants: dict, metric: str = "val_accuracy", stratified: bool = True) -> dict:
    return {
        "group": "g",
        "metric": metric,
        "higher_is_better": metric == "val_accuracy",
        "folds": 5,
        "repeats": 1,
        "stratified": stratified,
        "baseline": "baseline",
        "done": True,
        "variants": list(variants),
    }


BASELINE = variant("baseline", [0.84, 0.85, 0.87, 0.90, 0.84], (0.828, 0.891))
DECAY = variant("weight decay 0.001", [0.85, 0.86, 0.88, 0.91, 0.85], (0.84, 0.90), paired(0.012, -0.003, 0.027))


def by_name(fig) -> dict:
    return {t.name: t for t in fig.data}


# --- the chart ------------------------------------------------------------------------


def test_each_variant_gets_one_point_per_fold_in_its_own_column():
    fig = folds.fold_points(summary(BASELINE, DECAY))
    traces = by_name(fig)
    assert fig.layout.title.text == "Validation accuracy on each of 5 folds: mean and 95% interval"
    for column, label in enumerate(["baseline", "weight decay 0.001"]):
        dots = traces[label]
        assert len(dots.x) == 5 and len(set(dots.x)) == 5  # side by side, never on top of each other
        assert all(column - 0.5 < x < column + 0.5 for x in dots.x)
    assert list(traces["baseline"].y) == [84.0, 85.0, 87.0, 90.0, 84.0]  # accuracy in %
    assert list(fig.layout.xaxis.ticktext) == ["baseline", "weight decay 0.001"]
    assert "fold 2/5" in traces["baseline"].customdata[1][0] and traces["baseline"].customdata[1][1] == "base1"


def test_the_points_sit_where_they_did_on_the_last_refresh():
    first, again = folds.fold_points(summary(BASELINE, DECAY)), folds.fold_points(summary(BASELINE, DECAY))
    assert [t.x for t in first.data] == [t.x for t in again.data]


def test_the_error_bar_spans_the_interval():
    mean = by_name(folds.fold_points(summary(BASELINE, DECAY)))["baseline: mean"]
    centre = mean.y[0]
    assert centre == BASELINE["mean"] * 100
    assert np.isclose(centre + mean.error_y.array[0], 89.1) and np.isclose(centre - mean.error_y.arrayminus[0], 82.8)


def test_a_fold_without_a_value_is_left_out_and_one_fold_has_no_interval():
    running = variant("dropout", [0.8, None, None, None, None], None)
    traces = by_name(folds.fold_points(summary(BASELINE, running)))
    assert len(traces["dropout"].x) == 1
    assert traces["dropout: mean"].error_y.visible is False


def test_a_loss_is_shown_as_it_is_and_named_in_the_title():
    losses = [0.41, 0.38, 0.45, 0.40, 0.39]
    fig = folds.fold_points(summary(variant("baseline", losses, (0.37, 0.44)), metric="val_loss"))
    assert fig.layout.title.text.startswith("Validation loss on each of 5 folds")
    assert list(by_name(fig)["baseline"].y) == losses


def test_no_value_yet_gives_a_chart_that_says_it_is_waiting():
    for nothing in ({}, summary(variant("baseline", [None] * 5, None))):
        fig = folds.fold_points(nothing)
        assert not fig.data and "waiting" in fig.layout.annotations[0].text


# --- the caption ----------------------------------------------------------------------


def test_the_caption_gives_the_baseline_and_each_paired_change():
    assert cv_caption(summary(BASELINE, DECAY)) == (
        "5-fold CV (stratified): baseline 86.0% ± 2.5 (95% CI 82.8–89.1%); "
        "weight decay 0.001: paired change +1.2 points [95% CI −0.3 to +2.7], within fold noise"
    )


def test_the_caption_says_when_a_change_is_beyond_fold_noise_and_which_way():
    better = variant("wd", [0.9] * 5, None, paired(0.02, 0.01, 0.03))
    worse = variant("lr", [0.8] * 5, None, paired(-0.05, -0.08, -0.02))
    text = cv_caption(summary(BASELINE, better, worse))
    assert "wd: paired change +2.0 points [95% CI +1.0 to +3.0], better beyond fold noise" in text
    assert "lr: paired change −5.0 points [95% CI −8.0 to −2.0], worse beyond fold noise" in text
    # On a loss, lower is better: the same sign reads the other way.
    loss = summary(variant("baseline", [0.4] * 5, None), variant("wd", [0.3] * 5, None, paired(-0.1, -0.15, -0.05)))
    loss["metric"], loss["higher_is_better"] = "val_loss", False
    assert cv_caption(loss).endswith("wd: paired change −0.1 [95% CI −0.15 to −0.05], better beyond fold noise")


def test_the_caption_counts_the_folds_still_training():
    running = variant("baseline", [0.8, 0.82, None, None, None], (0.7, 0.9))
    assert cv_caption(summary(running, stratified=False)).startswith(
        "5-fold CV: baseline 81.0% ± 1.4 (95% CI 70.0–90.0%) (2 of 5 folds so far)"
    )


# --- the view's data ------------------------------------------------------------------


def test_build_shows_the_folds_of_a_cv_group_and_nothing_for_an_ordinary_group(tmp_path):
    with Store(tmp_path) as store:
        folded = write_cv_group(store)
        seeds = write_seed_group(store)
        view = comparison.build(store, list(folded.values()))
        ordinary = comparison.build(store, list(seeds.values()))
        part = comparison.build(store, list(folded.values())[:3])  # hand-picked: not the whole split
    assert view.cv is not None and view.cv["folds"] == 5 and view.cv["stratified"]
    assert [v["label"] for v in view.cv["variants"]] == ["baseline", "weight decay 0.001"]
    assert [f["value"] for f in view.cv["variants"][0]["folds"]] == pytest.approx(CV_VALUES["baseline"], rel=1e-6)
    assert cv_caption(view.cv).startswith("5-fold CV (stratified): baseline 86.0% ± 2.6")
    assert "better beyond fold noise" in cv_caption(view.cv)
    assert ordinary.cv is None and part.cv is None


def test_the_tables_interval_for_a_cv_group_is_the_paired_one_of_the_caption(tmp_path):
    with Store(tmp_path) as store:
        folded = write_cv_group(store)
        seeds = write_seed_group(store)
        view = comparison.build(store, list(folded.values()))
        ordinary = comparison.build(store, list(seeds.values()))
    column = "95% CI of the change (paired over folds)"
    assert column in view.table.columns and "95% CI of the change" not in view.table.columns
    ci = view.cv["variants"][1]["paired_vs_baseline"]["ci"]
    rows = view.table.set_index("run")[column]
    paired = f"{ci['low'] * 100:+.1f} to {ci['high'] * 100:+.1f} pts"  # excludes zero: no "(noise)"
    assert {rows[f"weight decay 0.001 #fold {i}/5"] for i in range(1, 6)} == {paired}
    assert {rows[f"baseline #fold {i}/5"] for i in range(1, 6)} == {"–"}
    # The unpaired (Welch) interval over folds would call the same change noise.
    welch = next(v["delta_ci"] for v in view.summary["variants"] if v["label"] == "weight decay 0.001")
    assert not welch["excludes_zero"] and ci["excludes_zero"]
    # An ordinary group keeps the seeds' interval, under its own header.
    assert "95% CI of the change" in ordinary.table.columns and column not in ordinary.table.columns


def test_the_compare_page_draws_the_folds_and_the_caption_under_the_table(home):
    with Store(home) as store:
        write_cv_group(store)
    at = open_page("views/compare.py", group="cv")
    assert not at.exception, at.exception
    titles = [orjson.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]
    assert titles[0] == "Validation accuracy on each of 5 folds: mean and 95% interval"  # before the curves
    assert "Validation accuracy: mean and ±1 sd over folds" in titles
    assert any(c.value.startswith("5-fold CV (stratified): baseline 86.0%") for c in at.caption)
