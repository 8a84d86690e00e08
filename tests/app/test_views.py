"""Every view renders, widgets become the right overrides, and bad input launches nothing.

Streamlit's AppTest runs the real app script in-process against a temp store.
"""

from __future__ import annotations

import orjson
import pytest
from streamlit.testing.v1 import AppTest

from engine.store import Store
from tests.app.conftest import MAIN

PAGES = ["views/launch.py", "views/live.py", "views/compare.py", "views/runs.py"]


def open_page(page: str, **params) -> AppTest:
    at = AppTest.from_file(MAIN, default_timeout=60)
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    if page != PAGES[0]:
        at.switch_page(page)
        for k, v in params.items():
            at.query_params[k] = v
        at.run()
    return at


def texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [e.value for e in at.error] + [e.value for e in at.info]
    parts += [e.value for e in at.success] + [e.value for e in at.warning] + [c.value for c in at.caption]
    return "\n".join(str(p) for p in parts)


@pytest.mark.parametrize("page", PAGES)
def test_every_view_renders_on_an_empty_store(home, page):
    at = open_page(page)
    assert not at.exception, at.exception
    if page != PAGES[0]:
        assert "No runs yet" in texts(at)


@pytest.mark.parametrize("status", ["He init + ReLU", "running", "crashed", "diverged", "baseline"])
def test_live_view_renders_each_kind_of_run(populated, status):
    at = open_page("views/live.py", run=populated[status])
    assert not at.exception, at.exception
    assert at.selectbox[0].value == populated[status]
    shown = texts(at)
    if status == "crashed":
        assert "signal 9" in shown  # the error is on the page, not only in a log
    if status == "baseline":
        assert "vanishing gradients" in shown and any(b.label == "Apply" for b in at.button)
    if status == "diverged":
        assert "non finite" in shown


def test_compare_view_shows_the_group_and_a_verdict(populated):
    at = open_page("views/compare.py", group="g1")
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    assert set(table["run"]) == {"baseline", "He init + ReLU"}
    verdict = " ".join(s.value for s in at.success)
    assert "He init + ReLU" in verdict, verdict


def test_compare_view_draws_validation_loss_beside_accuracy(populated):
    at = open_page("views/compare.py", group="g1")
    assert not at.exception, at.exception
    titles = [orjson.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]
    assert titles[:3] == ["Validation accuracy", "Validation loss", "Training loss"]  # a loss within 100x: linear
    columns = at.dataframe[0].value.columns
    assert {"best val accuracy", "final val accuracy", "best val loss", "final val loss"} <= set(columns)


def test_runs_view_lists_every_run_and_marks_the_bad_ones(populated):
    at = open_page("views/runs.py")
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    assert len(table) == 5
    crashed = table[table["id"] == populated["crashed"]].iloc[0]
    assert "crashed" in crashed["status"] and "signal 9" in crashed["problem"]
    diverged = table[table["id"] == populated["diverged"]].iloc[0]
    assert "non_finite" in diverged["problem"]


def test_a_toggle_becomes_a_dotted_override_in_the_url(home):
    at = open_page("views/launch.py")
    at.selectbox(key="w:model.init").select("he_normal").run()
    assert not at.exception
    assert 'model.init="he_normal"' in at.query_params.get("set", []) or 'model.init="he_normal"' in str(
        at.query_params
    )
    assert "model.init=he_normal" in texts(at)


def test_a_copied_link_reproduces_the_setup(home):
    at = open_page("views/launch.py", recipe="healthy-mlp", set=["model.residual=true", "train.lr=0.01"])
    assert not at.exception
    assert at.toggle(key="w:model.residual").value is True
    assert at.select_slider(key="w:train.lr").value == 0.01
    assert at.header[0].value.startswith("A healthy baseline")


def test_invalid_advanced_input_shows_the_engine_message_and_launches_nothing(home):
    at = open_page("views/launch.py")
    at.text_area(key="advanced").input("train.lr=-1").run()
    assert not at.exception
    errors = " ".join(e.value for e in at.error)
    assert "train.lr" in errors
    launch = next(b for b in at.button if "Launch" in b.label and "lesson" not in b.label)
    assert launch.disabled  # (AppTest, like a browser, refuses to click a disabled button)
    assert all(b.disabled for b in at.button if "Compare" in b.label or "Run lesson" in b.label)
    with Store(home) as store:
        assert store.count_runs() == 0


def test_launch_queues_the_resolved_recipe_and_opens_the_live_view(home):
    at = open_page("views/launch.py")
    at.text_area(key="advanced").input("train.steps=50").run()
    at.selectbox(key="w:model.activation").select("relu").run()
    next(b for b in at.button if "Launch" in b.label and "lesson" not in b.label).click().run()
    assert not at.exception, at.exception
    with Store(home) as store:
        runs = store.list_runs()
        assert len(runs) == 1
        recipe = store.get_run(runs["id"][0])["recipe"]
    assert recipe["train"]["steps"] == 50 and recipe["model"]["activation"] == "relu"
    assert runs["name"][0] == "vanishing-sigmoid: activation=relu, steps=50"  # the Advanced line too
    assert at.query_params.get("run") in (runs["id"][0], [runs["id"][0]])


def test_the_compact_picker_switches_lesson_and_the_caption_lists_advanced_lines(home):
    at = open_page("views/launch.py")
    assert at.selectbox(key="pick_recipe").value == "vanishing-sigmoid"
    at.selectbox(key="pick_recipe").select("healthy-mlp").run()
    assert not at.exception, at.exception
    assert at.query_params.get("recipe") in ("healthy-mlp", ["healthy-mlp"])
    assert at.header[0].value.startswith("A healthy baseline")
    assert "Using the recipe as written." in texts(at)
    at.text_area(key="advanced").input("train.steps=50").run()
    assert "Changes from the recipe: `train.steps=50`" in texts(at)


def test_a_csv_setup_is_titled_by_its_file_with_a_data_summary(home):
    link = ['data.name="csv"', 'data.params={"path": "sample_data/penguins.csv", "target": "species"}']
    at = open_page("views/launch.py", recipe="custom", set=link)
    assert not at.exception, at.exception
    assert at.header[0].value == "Your data: penguins.csv"
    assert "342 rows · 4 features · 3 classes (Adelie, Chinstrap, Gentoo)" in texts(at)


def test_run_lesson_queues_the_baseline_and_every_remedy_in_one_group(home):
    at = open_page("views/launch.py")
    next(b for b in at.button if "Run lesson" in b.label).click().run()
    assert not at.exception, at.exception
    with Store(home) as store:
        runs = store.list_runs()
    assert runs["group_id"].nunique() == 1
    from engine.config.recipe import load_recipe

    assert "baseline" in set(runs["name"]) and len(runs) == 1 + len(load_recipe("vanishing-sigmoid").compare)


def test_apply_launches_the_remedy_and_compares_it_with_the_original(populated, home):
    at = open_page("views/live.py", run=populated["baseline"])
    next(b for b in at.button if b.label == "Apply").click().run()
    assert not at.exception, at.exception
    with Store(home) as store:
        new = store.list_runs().iloc[0]
        recipe = store.get_run(new["id"])["recipe"]
    assert recipe["model"]["init"] == "he_normal" and recipe["model"]["activation"] == "relu"
    assert "he_relu" in new["name"]


def test_try_the_top_3_queues_short_trials_of_the_remedies_in_one_group(populated, home):
    at = open_page("views/live.py", run=populated["baseline"])
    next(b for b in at.button if b.label.startswith("🧪 Try the top 3")).click().run()
    assert not at.exception, at.exception
    with Store(home) as store:
        plan = store.last_event(populated["baseline"], "trials")["payload"]
        trial_runs = store.list_runs(group=plan["group"])
        steps = {store.get_run(r)["recipe"]["train"]["steps"] for r in trial_runs["id"]}
    assert sorted(trial_runs["name"]) == ["baseline"] + sorted(f"try {r['name']}" for r in plan["remedies"])
    assert steps == {plan["steps"]} and plan["steps"] <= 400
