"""The Launch page's range test: the cached result is shown as a chart and a sentence, and "Use it" sets train.lr.

The result is written to the cache directly (no training), so these run in Streamlit's AppTest in seconds;
tests/engine/test_lr_find.py runs the real command.
"""

from __future__ import annotations

import orjson

from app.components.lr_find import lr_find_figure
from app.logic import lr_find as logic
from engine.config.recipe import load_recipe
from engine.tuning import lr_find
from tests.app.test_views import open_page, texts


def cached(recipe: dict, suggestions: list[float], diverged: bool = True) -> lr_find.LrFindResult:
    """A range test of ``recipe`` whose seeds suggested ``suggestions``: loss falling from 2.3, then blowing up."""
    lrs = lr_find.ramp(1e-6, 1.0, 60)
    raw = [2.3 - 2.0 * i / 50 if i < 50 else 0.3 * 3 ** (i - 49) for i in range(60)]
    curves = []
    for seed, s in enumerate(suggestions):
        curve = lr_find.SeedCurve.measure(seed, lrs, raw, diverged)
        curve.suggestion = s
        curves.append(curve)
    return lr_find.LrFindResult.from_curves(recipe, curves, 60, 1e-6, 1.0, seconds=2.0)


def test_use_it_puts_the_suggestion_among_the_other_overrides():
    result = cached(load_recipe("healthy-mlp").to_dict(), [0.0015, 0.0025])
    assert result.suggestion == 0.00194 and result.band == [0.0015, 0.0025]
    sets = logic.use_it_sets({"model.residual": True, "train.lr": 0.1}, result)
    assert sets == ["model.residual=true", "train.lr=0.00194"]


def test_the_verdict_says_where_the_setups_rate_sits_against_the_band():
    result = cached(load_recipe("healthy-mlp").to_dict(), [0.0015, 0.0025])
    assert "Suggested **train.lr = 0.00194** (band 0.0015 to 0.0025 over seeds 0, 1)" in logic.verdict(result, 0.002)
    assert "inside the band" in logic.verdict(result, 0.002)
    assert "40x above the band" in logic.verdict(result, 0.1)
    assert "2.5x below the band" in logic.verdict(result, 0.0006)
    assert "never fell" in logic.verdict(cached(load_recipe("healthy-mlp").to_dict(), []), 0.001)


def test_the_chart_has_a_line_per_seed_a_log_rate_axis_the_band_and_the_suggestion():
    result = cached(load_recipe("healthy-mlp").to_dict(), [0.0015, 0.0025]).to_dict()
    fig = lr_find_figure(result)
    lines = [t for t in fig.data if t.mode == "lines"]
    assert [t.name for t in lines] == ["seed 0", "seed 1"]
    assert fig.layout.xaxis.type == "log" and "learning rate" in fig.layout.xaxis.title.text
    assert "loss" in fig.layout.yaxis.title.text and "range test" in fig.layout.title.text
    shapes = fig.layout.shapes
    assert any(s.type == "rect" and (s.x0, s.x1) == (0.0015, 0.0025) for s in shapes)  # the band
    assert any(s.type == "line" and s.x0 == 0.00194 for s in shapes)  # the suggestion
    assert fig.layout.yaxis.range[1] < 10  # the blow-up (to 0.3 * 3^10) does not squash the curve


def test_the_launch_page_shows_the_cached_test_and_use_it_sets_the_rate(home):
    recipe = load_recipe("healthy-mlp").to_dict()
    lr_find.save(home, cached(recipe, [0.0015, 0.0025]))
    at = open_page("views/launch.py", recipe="healthy-mlp")
    assert not at.exception, at.exception
    assert "Suggested **train.lr = 0.00194**" in texts(at)
    titles = [orjson.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]
    assert any(t.startswith("Loss against learning rate") for t in titles), titles
    use = next(b for b in at.button if b.label.startswith("✅ Use it"))
    use.click().run()
    assert not at.exception, at.exception
    assert at.select_slider(key="w:train.lr").value == 0.00194  # between the toggle's own choices, kept
    assert at.query_params.get("set") in ("train.lr=0.00194", ["train.lr=0.00194"])  # the link keeps it
    assert "Changes from the recipe: `train.lr=0.00194`" in texts(at)
    assert "inside the band" in texts(at)


def test_without_a_cached_test_the_page_offers_only_the_button(home):
    at = open_page("views/launch.py", recipe="healthy-mlp")
    assert not at.exception, at.exception
    assert any(b.label == "📈 Find a learning rate" for b in at.button)
    assert not any(b.label.startswith("✅ Use it") for b in at.button)


def test_a_live_finding_about_the_rate_points_to_the_range_test_until_one_exists(populated):
    at = open_page("views/live.py", run=populated["diverged"])  # a non_finite finding, whose rule names find_lr
    assert not at.exception, at.exception
    assert "No learning-rate range test of this recipe yet" in texts(at)
    assert "gradclinic lr-find vanishing-sigmoid" in texts(at)
    at = open_page("views/live.py", run=populated["baseline"])  # vanishing gradients: not the rate's doing
    assert "No learning-rate range test" not in texts(at)
