"""The plain modules behind the views: toggles, incremental feeds, comparison tables, history pages."""

from __future__ import annotations

import numpy as np
import pytest

from app.logic import compare as comparison
from app.logic import live as data
from app.logic import runs as history
from app.logic import toggles
from engine.config.errors import RecipeError
from engine.config.recipe import load_recipe
from engine.store import Store
from tests.app.conftest import LAYERS, fill, finding

# --- toggles -------------------------------------------------------------------


def test_only_changed_toggles_become_overrides():
    base = load_recipe("vanishing-sigmoid")
    widgets = {t.key: toggles.widget_value(t, base) for t in toggles.TOGGLES}
    assert toggles.overrides_from_widgets(base, widgets) == {}
    widgets.update(
        {"model.init": "he_normal", "train.lr": 0.1, "train.early_stopping": True, "data.augment": ["affine"]}
    )
    assert toggles.overrides_from_widgets(base, widgets) == {
        "model.init": "he_normal",
        "train.lr": 0.1,
        "data.augment": ["affine"],
        "train.early_stopping": toggles.EARLY_STOPPING,
    }


def test_overrides_round_trip_through_url_text():
    sets = {
        "train.lr": 0.003,
        "model.residual": True,
        "train.clip_norm": None,
        "data.augment": ["hflip"],
        "train.early_stopping": {"patience": 5, "min_delta": 0.0},
    }
    encoded = [toggles.encode(k, v) for k, v in sets.items()]
    assert toggles.decode(encoded) == sets
    recipe = load_recipe("vanishing-sigmoid").with_overrides(toggles.decode(encoded[:2]))
    assert recipe.train.lr == 0.003 and recipe.model.residual


def test_a_recipe_value_missing_from_a_slider_is_added_in_order():
    lr = next(t for t in toggles.TOGGLES if t.key == "train.lr")
    assert 0.05 in lr.choices(0.05)
    assert lr.choices(0.05) == sorted(lr.choices(0.05))


def test_a_malformed_line_names_itself():
    with pytest.raises(RecipeError, match="nonsense"):
        toggles.decode(["nonsense"])


# --- incremental feed ------------------------------------------------------------


def test_a_feed_reads_only_new_rows_and_keeps_the_seam_whole(tmp_path):
    with Store(tmp_path) as store:
        rid = store.create_run(load_recipe("healthy-mlp").to_dict(), total_steps=400)
        fill(store, rid, steps=100)
        feed = data.RunFeed(rid)
        assert feed.refresh(store) == 100
        assert feed.matrices["grad_norm"].values.shape == (100, len(LAYERS))
        # An evaluation at step 100 lands after the loss of step 100 was read.
        store.flush(
            rid,
            scalars=[(100, "val_loss", 0.5), (101, "train_loss", 0.4)],
            layer_stats={"grad_norm": (np.array([101]), np.ones((1, len(LAYERS))))},
        )
        assert feed.refresh(store) == 2  # steps 100 and 101, nothing older
        assert feed.wide.index.is_unique and feed.wide.loc[100, "val_loss"] == 0.5
        assert feed.matrices["grad_norm"].steps[-2:].tolist() == [100, 101]
        assert feed.refresh(store) == 1  # only the seam step is re-read when nothing is new
        assert feed.latest("train_loss") == pytest.approx(0.4)


def test_the_budget_meter_says_cost_and_intervals():
    line = data.probe_meter({"budget": 0.05, "group_intervals": {"grads": 1, "activations": 10}}, 0.031)
    assert (
        "3.1%" in line and "budget 5%" in line and "activations every 10 steps" in line and "grads every 1 step" in line
    )
    assert "waiting" in data.probe_meter(None, None)
    assert "over budget" not in line


def test_the_budget_meter_says_why_a_short_run_is_over_budget():
    """800 steps: the floor keeps every group at every 5 steps, so 12% beats the 5% budget."""
    schedule = {"budget": 0.05, "floor_interval": 5, "group_intervals": {"grads": 5, "activations": 5}}
    assert "at least every 5 steps" in data.probe_meter(schedule, 0.12)
    assert "over budget" not in data.probe_meter(schedule, 0.04)
    assert "over budget" not in data.probe_meter({**schedule, "group_intervals": {"grads": 1}}, 0.12)


# --- comparison --------------------------------------------------------------------


def test_the_config_diff_keeps_only_keys_that_differ():
    a = load_recipe("vanishing-sigmoid").to_dict()
    b = load_recipe("vanishing-sigmoid", {"model.init": "he_normal", "model.activation": "relu"}).to_dict()
    diff = comparison.config_diff({"baseline": a, "He": b})
    assert sorted(diff.index) == ["model.activation", "model.init"]
    assert diff.loc["model.init"].tolist() == ["default", "he_normal"]


def test_the_config_diff_lists_a_setting_turned_on_from_off():
    base = load_recipe("overfitting-small-data").to_dict()  # no clipping, no early stopping
    clipped = load_recipe("overfitting-small-data", {"train.clip_norm": 1.0}).to_dict()
    stopped = load_recipe("overfitting-small-data", {"train.early_stopping": {"patience": 5}}).to_dict()
    diff = comparison.config_diff({"baseline": base, "Clip": clipped, "Early stopping": stopped})
    assert diff.loc["train.clip_norm"].tolist() == ["off", "1.0", "off"]
    assert diff.loc["train.early_stopping.patience"].tolist() == ["off", "off", "5"]
    # min_delta keeps its default (0) where early stopping is on: still "off" against "0" is a difference.
    assert diff.loc["train.early_stopping.min_delta"].tolist() == ["off", "off", "0"]
    assert "train.early_stopping" not in diff.index  # the section is shown by its settings, once
    assert "train.clip_value" not in diff.index  # off in every run: no difference


def test_the_config_diff_labels_lists_and_tells_two_early_stopping_settings_apart():
    a = load_recipe("overfitting-small-data", {"train.early_stopping": {"patience": 3}}).to_dict()
    b = load_recipe(
        "overfitting-small-data", {"train.early_stopping": {"patience": 9}, "data.augment": ["affine"]}
    ).to_dict()
    diff = comparison.config_diff({"patience 3": a, "patience 9": b})
    assert sorted(diff.index) == ["data.augment", "train.early_stopping.patience"]
    assert diff.loc["data.augment"].tolist() == ["none", "affine"]
    assert diff.loc["train.early_stopping.patience"].tolist() == ["3", "9"]


def test_the_summary_puts_validation_loss_beside_accuracy(tmp_path):
    with Store(tmp_path) as store:
        recipe = load_recipe("overfitting-small-data").to_dict()
        base = store.create_run(recipe, name="baseline", group="g")
        decay = store.create_run(recipe, name="Weight decay", group="g")
        # The baseline overfits: its validation loss is lowest at step 100, then climbs.
        curves = {
            base: ([0.6, 0.8, 0.82, 0.83], [1.2, 0.5, 0.7, 0.9]),
            decay: ([0.6, 0.8, 0.82, 0.83], [1.1, 0.5, 0.45, 0.4]),
        }
        for rid, (acc, loss) in curves.items():
            store.flush(
                rid,
                scalars=[(50 * (i + 1), "val_accuracy", a) for i, a in enumerate(acc)]
                + [(50 * (i + 1), "val_loss", x) for i, x in enumerate(loss)],
            )
            store.set_status(rid, "completed")
        view = comparison.build(store, [base, decay])
    table = view.table.set_index("run")
    assert table.loc["baseline", ["best val loss", "final val loss"]].tolist() == ["0.5", "0.9"]
    assert table.loc["Weight decay", ["best val loss", "final val loss"]].tolist() == ["0.4", "0.4"]
    assert table.loc["baseline", "best val accuracy"] == "83.0%"  # the headline stays accuracy


def test_lesson_questions_show_only_for_the_lessons_own_group(tmp_path):
    lesson = load_recipe("overfitting-small-data", {"train.steps": 200})
    with Store(tmp_path) as store:
        group = {
            label: store.create_run(lesson.with_overrides(sets).to_dict(), name=label, group="lesson")
            for label, sets in [("baseline", {})] + [(v.label, dict(v.set)) for v in lesson.compare]
        }
        # Apply on the Live view: the remedy runs alone, then Compare opens with it and its original.
        applied = store.create_run(lesson.with_overrides({"train.weight_decay": 0.01}).to_dict(), name="baseline + WD")
        for rid in [*group.values(), applied]:
            store.flush(rid, scalars=[(50, "val_accuracy", 0.5), (100, "val_accuracy", 0.6)])
            store.set_status(rid, "completed")
        whole = comparison.build(store, list(group.values()))
        after_apply = comparison.build(store, [group["baseline"], applied])
        part = comparison.build(store, [group["baseline"], group["Dropout 0.5"]])
    assert [q.ask for q in comparison.lesson_questions(whole)] == [q.ask for q in lesson.questions]
    assert comparison.lesson_questions(after_apply) == []
    assert comparison.lesson_questions(part) == []  # the questions ask about remedies not on the page


def test_the_comparison_names_the_winner_and_how_much_sooner(tmp_path):
    with Store(tmp_path) as store:
        recipe = load_recipe("healthy-mlp").to_dict()
        base = store.create_run(recipe, name="baseline", group="g")
        fix = store.create_run(recipe, name="He init", group="g")
        for rid, acc in ((base, [0.1, 0.2, 0.3, 0.4]), (fix, [0.5, 0.7, 0.8, 0.9])):
            store.flush(rid, scalars=[(50 * (i + 1), "val_accuracy", a) for i, a in enumerate(acc)])
            store.set_status(rid, "completed")
        view = comparison.build(store, [base, fix])
    assert view.verdict == (
        "He init reached the baseline's final level of validation accuracy (40.0%) 4.0× sooner and ended +50 points"
    )
    row = view.table.set_index("run").loc["He init"]
    assert row["steps to target"] == "50" and row["change vs baseline"] == "+50.0 pts"


# --- history ------------------------------------------------------------------------


def test_history_pages_and_explains_bad_runs(tmp_path):
    with Store(tmp_path) as store:
        recipe = load_recipe("healthy-mlp").to_dict()
        ids = [store.create_run(recipe) for _ in range(7)]
        store.set_status(ids[0], "failed", error="data/penguins.csv: not found")
        store.set_status(ids[1], "diverged")
        store.add_findings(ids[1], [finding("non_finite")])
        first = history.page(store, page_size=5, page=1)
        second = history.page(store, page_size=5, page=2)
        assert len(first) == 5 and len(second) == 2 and store.count_runs() == 7
        assert not set(first["id"]) & set(second["id"])
        rows = history.page(store, page_size=10).set_index("id")
        assert rows.loc[ids[0], "problem"] == "failed: data/penguins.csv: not found"
        assert rows.loc[ids[1], "problem"].startswith("non_finite")
        assert store.count_runs(status="failed") == 1
        build, name, _ = history.download(store, ids[0], "csv")
        assert name.endswith("-csv.zip") and build()[:2] == b"PK"


# --- CSV upload ---------------------------------------------------------------------


def test_an_uploaded_csv_is_stored_by_content_and_checked_like_a_run_would(tmp_path):
    from app.logic import launch as launch_form
    from tests.app.conftest import ROOT

    good = (ROOT / "sample_data" / "penguins.csv").read_bytes()
    path = launch_form.save_upload(tmp_path, "../../etc/my penguins.csv", good)
    assert path.parent == tmp_path / "uploads" and ".." not in path.name and path.read_bytes() == good
    assert launch_form.save_upload(tmp_path, "again.csv", good).name.split("-")[0] == path.name.split("-")[0]
    sets = {"data.name": "csv", "data.params": {"path": str(path), "target": "species"}}
    assert launch_form.check_csv(sets) is None
    message = launch_form.check_csv({**sets, "data.params": {"path": str(path), "target": "wingspan"}})
    assert "no column named 'wingspan'" in message
    bad = launch_form.save_upload(tmp_path, "bad.csv", b"a,b\n1,2\n")
    assert "cannot be used" in launch_form.check_csv(
        {"data.name": "csv", "data.params": {"path": str(bad), "target": "b"}}
    )


def test_a_diverged_baseline_gets_a_verdict_about_what_trained(tmp_path):
    with Store(tmp_path) as store:
        recipe = load_recipe("healthy-mlp").to_dict()
        base = store.create_run(recipe, name="baseline", group="g")
        lower = store.create_run(recipe, name="Lower lr", group="g")
        clip = store.create_run(recipe, name="Clip", group="g")
        store.flush(clip, scalars=[(50, "val_accuracy", 0.5), (100, "val_accuracy", 0.93)])
        for rid, status in ((base, "diverged"), (lower, "diverged"), (clip, "completed")):
            store.set_status(rid, status)
        view = comparison.build(store, [base, lower, clip])
    assert view.verdict == (
        "The baseline diverged; Clip trained to a validation accuracy of 93.0% (Lower lr diverged too)"
    )


def test_steps_to_target_is_blank_when_the_baseline_never_learned(tmp_path):
    with Store(tmp_path) as store:
        recipe = load_recipe("healthy-mlp").to_dict()
        base = store.create_run(recipe, name="baseline", group="g")
        fix = store.create_run(recipe, name="He init", group="g")
        for rid, acc in ((base, [0.1, 0.1, 0.1]), (fix, [0.5, 0.9, 0.95])):
            store.flush(rid, scalars=[(50 * (i + 1), "val_accuracy", a) for i, a in enumerate(acc)])
            store.add_event(rid, 0, "data", {"task": "classification", "chance_accuracy": 0.1})
            store.set_status(rid, "completed")
        view = comparison.build(store, [base, fix])
    assert view.verdict.startswith("The baseline never learned")
    assert set(view.table["steps to target"]) == {"–"}


# --- labels and the Launch page's heading ---------------------------------------------


def test_choices_are_labelled_in_words_not_python_reprs():
    from app import ui
    from app.logic import launch as launch_form

    assert [toggles.format_choice(v) for v in (True, False, None, ["hflip", "affine"], [])] == [
        "on",
        "off",
        "off",
        "hflip, affine",
        "none",
    ]
    assert toggles.format_choice(toggles.EARLY_STOPPING) == "patience 5, min_delta 0"
    base = load_recipe("vanishing-sigmoid")
    options = launch_form.variant_options(
        base, {"model.residual": True, "train.early_stopping": toggles.EARLY_STOPPING}
    )
    assert "model.residual=on" in options and "train.early_stopping=patience 5, min_delta 0" in options
    assert ui.remedy_label({"name": "residual", "set": {"model.residual": True}}) == "residual (model.residual=on)"


def test_advanced_lines_reach_the_caption_and_the_run_name():
    from app.logic import launch as launch_form

    base = load_recipe("vanishing-sigmoid")
    sets = launch_form.setup_sets({"model.init": "he_normal"}, "train.steps=50\nseed=3")
    assert launch_form.describe_changes(sets) == "`model.init=he_normal`, `train.steps=50`, `seed=3`"
    assert launch_form.run_name(base, sets) == "vanishing-sigmoid: init=he_normal, steps=50, seed=3"
    # Two runs that differ only in an Advanced line can be told apart by name.
    assert launch_form.run_name(base, launch_form.setup_sets({}, "seed=1")) != launch_form.run_name(
        base, launch_form.setup_sets({}, "seed=2")
    )
    assert launch_form.run_name(base, launch_form.setup_sets({}, "")) == "vanishing-sigmoid"


def test_an_uploaded_csv_is_named_and_summarised_as_the_user_uploaded_it(tmp_path):
    from app.logic import launch as launch_form
    from engine import datasets
    from tests.app.conftest import ROOT

    _, error = launch_form.accept_upload(tmp_path, "my data.csv", b"a,b\n1,x\n3,4\n" * 10, "b")
    assert error.startswith("This CSV cannot be used: my data.csv: column 'a' is not numeric")
    columns, error = launch_form.upload_columns("C:\\Users\\me\\empty one.csv", b"")
    assert (columns, error) == ([], "empty one.csv: the file is empty")

    path, _ = launch_form.accept_upload(
        tmp_path, "penguins.csv", (ROOT / "sample_data" / "penguins.csv").read_bytes(), "species"
    )
    stored = path.name  # e.g. 3fa2c1d9e0-penguins.csv: a content-hash name the user never chose
    sets = launch_form.setup_sets(
        {"train.lr": 0.01}, "\n".join(toggles.encode(k, v) for k, v in launch_form.csv_sets(path, "species").items())
    )
    custom = load_recipe(None)
    assert launch_form.csv_upload(sets) == ("penguins.csv", "species")
    assert launch_form.page_title(custom, sets) == "Your data: penguins.csv"
    assert launch_form.run_name(custom, sets) == "penguins.csv: lr=0.01"
    changes = launch_form.describe_changes(sets)
    assert "`data.params=penguins.csv, target species`" in changes and stored not in changes
    data = datasets.prepare(custom.with_overrides(sets).data, 0)
    assert launch_form.data_summary(data) == "342 rows · 4 features · 3 classes (Adelie, Chinstrap, Gentoo)"
    assert launch_form.page_title(load_recipe("healthy-mlp"), {}).startswith("A healthy baseline")


def test_the_page_shows_the_lesson_after_the_summary_it_already_shows():
    from app.logic import launch as launch_form

    base = load_recipe("vanishing-sigmoid")
    rest = launch_form.lesson_rest(base)
    assert rest and base.summary not in rest.replace("\n", " ") and rest in base.lesson
