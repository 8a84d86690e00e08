"""The Sweep page: its logic (labels, table, header, Compare's top k), the Launch side's spaces and command,
the charts with 0, 1, 2 and many finished trials, and the page itself in AppTest over a real small sweep."""

from __future__ import annotations

import shlex

import orjson
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from app.components import sweep_charts as charts
from app.logic import sweep as logic
from app.logic import sweep_launch as launch
from app.logic import toggles
from engine.config.recipe import load_recipe
from engine.config.sweep import parse_space
from engine.store import Store
from engine.tuning import results
from engine.tuning.results import SweepResult
from tests.app.conftest import MAIN
from tests.app.sweep_store import write_sweep

SETTINGS = {"recipe": "healthy-mlp", "metric": "val_accuracy", "sampler": "tpe", "pruner": "median", "parallel": 2,
            "executor": "local", "trials": 4, "created": 1.7e9,
            "space": {"train.lr": "loguniform(0.0001, 1.0)", "model.activation": "choice(relu, tanh)"}}  # fmt: skip


def fake(rows: list[tuple]) -> SweepResult:
    """A sweep read back, without a study: (number, status, state, value, steps, lr, activation) rows."""
    cols = ["number", "status", "state", "value", "steps", "train.lr", "model.activation"]
    t = pd.DataFrame(rows, columns=cols)
    t.insert(1, "run_id", [f"run{n}" for n in t["number"]])
    t["seconds"] = 1.5
    return SweepResult("sweep-abc123", SETTINGS, "maximize", t, study=None)


NONE_DONE = [(0, "running", "RUNNING", 0.7, 20, 0.01, "relu"), (1, "pruned", "PRUNED", 0.5, 20, 0.5, "tanh")]
ONE_DONE = [*NONE_DONE, (2, "completed", "COMPLETE", 0.9, 100, 0.003, "relu")]
TWO_DONE = [*ONE_DONE, (3, "completed", "COMPLETE", 0.95, 100, 0.02, "tanh")]


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """A store holding a finished 8-trial sweep of a tiny moons MLP (inline executor, seconds): 4 finish, 4 pruned."""
    home = tmp_path_factory.mktemp("sweep-store")
    return home, write_sweep(home, trials=8, seed=5)


# --- the page's logic -------------------------------------------------------------------------


def test_the_table_puts_finished_trials_first_best_first_with_badges_and_percent():
    table = logic.trials_table(fake(TWO_DONE))
    assert list(table["trial"]) == [3, 2, 0, 1]  # finished best first, then running, then pruned
    assert list(table.columns) == [
        "trial", "status", "val accuracy (%)", "at step", "train.lr", "model.activation", "duration (s)", "run",
    ]  # fmt: skip
    assert table["status"].tolist() == ["✅ completed", "✅ completed", "🟢 running", "✂️ pruned"]
    assert table["val accuracy (%)"].tolist() == pytest.approx([95.0, 90.0, 70.0, 50.0])
    assert logic.trials_table(fake([])).empty


def test_header_lines_name_the_settings_counts_and_best():
    r = fake(TWO_DONE)
    assert logic.settings_line(r).startswith("**healthy-mlp** · 4 trials, 2 at a time · TPE sampler · median pruner")
    assert logic.counts_line(r) == "🟢 **1** running · ✅ **2** completed · ✂️ **1** pruned"
    assert logic.best_line(r) == "Best val accuracy **95.0%** at trial #3 (run `run3`): lr=0.02, activation=tanh"
    assert logic.best_line(fake(NONE_DONE)).startswith("No trial has finished")
    assert "healthy-mlp · tpe · 4 trials · " in logic.option_label("sweep-abc123", SETTINGS, 4)
    assert "3/4 trials" in logic.option_label("sweep-abc123", SETTINGS, 3)


def test_compare_takes_the_top_k_finished_runs_best_first():
    assert logic.compare_runs(fake(TWO_DONE), 5) == ["run3", "run2"]
    assert logic.finished(fake(TWO_DONE)) == 2 and logic.finished(fake(NONE_DONE)) == 0


# --- the Launch side ---------------------------------------------------------------------------


def test_each_searchable_toggle_gets_a_spec_that_fits_the_recipe():
    recipe = load_recipe("healthy-mlp")
    found = launch.searchable(recipe)
    lr = recipe.train.lr
    assert found["train.lr"][1] == f"loguniform({lr / 30:.3g}, {lr * 30:.3g})"
    assert found["model.width"][1] == f"intlog({recipe.model.width // 4}, {recipe.model.width * 4})"
    assert found["model.residual"][1] == "choice(false, true)"
    assert found["train.clip_norm"][1] == "choice(null, 0.1, 0.5, 1.0, 5.0)"
    assert found["train.weight_decay"][1].startswith("choice(0.0, 1.0e-05, 0.0001")  # YAML 1.1 reads 1e-05 as text
    assert not {"probes.budget", "train.early_stopping", "data.augment"} & set(found)
    for key, (_, spec) in found.items():  # every SPEC parses and every value it probes fits the recipe
        for value in parse_space({key: spec})[0].probe_values():
            recipe.with_overrides({key: value})


def test_a_learning_rate_search_is_clipped_to_valid_bounds():
    big = load_recipe("healthy-mlp", ["train.lr=5.0"])
    assert launch.default_spec(next(t for t in toggles.TOGGLES if t.key == "train.lr"), big) == "loguniform(0.167, 10)"


def test_the_command_line_searches_the_space_and_keeps_the_other_overrides():
    args = launch.sweep_args(
        "healthy-mlp",
        {"train.lr": 0.01, "model.init": "he_normal", "train.steps": 200},
        {"train.lr": "loguniform(0.0001, 1)"},
        sampler="random",
        trials=8,
        pruner="none",
        parallel=2,
        home="/tmp/h",
        name="sweep-00ff00",
    )
    assert shlex.join(args) == (
        "gradclinic --home /tmp/h sweep healthy-mlp --set model.init=he_normal --set train.steps=200 "
        "--space 'train.lr=loguniform(0.0001, 1)' --sampler random --trials 8 --pruner none --parallel 2 "
        "--name sweep-00ff00"
    )
    assert launch.new_name().startswith("sweep-") and len(launch.new_name()) == 12
    with pytest.raises(ValueError):
        launch.log_path("/tmp/h", "../etc/passwd")


# --- the charts --------------------------------------------------------------------------------


def _title(fig) -> str:
    return fig.layout.title.text


@pytest.mark.parametrize("rows", [[], NONE_DONE, ONE_DONE, TWO_DONE], ids=["no trials", "0 done", "1 done", "2 done"])
def test_every_chart_explains_itself_until_it_has_the_trials_it_needs(rows):
    r = fake(rows)
    done = logic.finished(r)
    figs = [
        charts.history_figure(r),
        charts.parallel_figure(r),
        charts.importance_figure({}, done),
        charts.slice_figure(r),
        charts.contour_figure(r, "train.lr", "model.activation"),
    ]
    for fig in figs:
        assert _title(fig)
        drawn = any(len(getattr(tr, "x", None) or getattr(tr, "dimensions", None) or ()) for tr in fig.data)
        explained = [a.text for a in fig.layout.annotations]
        assert drawn or explained, _title(fig)
    assert bool(figs[0].data) == (done >= 1)  # the history draws from one finished trial
    assert bool(figs[1].data) == (done >= 2)
    assert not figs[4].data and "3 trials" in figs[4].layout.annotations[0].text  # a contour needs three


def test_pruned_trials_are_grey_and_log_parameters_get_log_axes():
    fig = charts.slice_figure(fake(TWO_DONE))
    pruned = [tr for tr in fig.data if tr.name.startswith("pruned")]
    assert pruned and pruned[0].marker.color == charts.PRUNED
    assert fig.layout.xaxis.type == "log" and fig.layout.xaxis2.type == "category"
    assert "pruned (value when cut)" in [tr.name for tr in charts.history_figure(fake(TWO_DONE)).data]


def test_charts_of_a_real_sweep(swept):
    home, name = swept
    r = results.load(Store(home), name)
    assert len(r.trials) == 8 and logic.finished(r) >= 3
    imp = r.importances()
    assert set(imp) == {"train.lr", "model.width"}
    bars = charts.importance_figure(imp, logic.finished(r))
    assert sorted(bars.data[0].y) == ["model.width", "train.lr"]
    par = charts.parallel_figure(r)
    assert [d.label for d in par.data[0].dimensions] == ["train.lr (log)", "model.width (log)", "val accuracy (%)"]
    contour = charts.contour_figure(r, "train.lr", "model.width")
    assert any(tr.type == "contour" for tr in contour.data), [a.text for a in contour.layout.annotations]
    assert {contour.layout.xaxis.title.text, contour.layout.yaxis.title.text} == {"train.lr", "model.width"}


# --- the page --------------------------------------------------------------------------------


def test_the_page_shows_the_sweep_its_table_and_charts(swept, monkeypatch):
    home, name = swept
    monkeypatch.setenv("GRADCLINIC_HOME", str(home))
    at = AppTest.from_file(MAIN, default_timeout=60)
    at.run()
    at.switch_page("views/sweep.py")
    at.query_params["sweep"] = name
    at.run()
    assert not at.exception, at.exception
    assert at.selectbox[0].value == name
    table = at.dataframe[0].value
    assert len(table) == 8 and set(table["run"]) == set(Store(home).list_runs(group=name)["id"])
    assert any(s.value.startswith("Best val accuracy") for s in at.success)
    titles = [orjson.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]
    assert titles[:2] == ["Best val accuracy (%) so far", "Which settings mattered (parameter importance)"]
    assert len(titles) == 5
    assert any("Compare top" in b.label for b in at.button)


def test_an_empty_store_says_how_to_start_a_sweep(home):
    at = AppTest.from_file(MAIN, default_timeout=60)
    at.run()
    at.switch_page("views/sweep.py")
    at.run()
    assert not at.exception, at.exception
    assert "No sweeps yet" in at.info[0].value
    assert "gradclinic --home" in at.code[0].value
