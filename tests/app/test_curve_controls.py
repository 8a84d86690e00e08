"""The curve controls on Live and Compare: x-axis, loss axis, smoothing, highlight; seed bands where seeds share x."""

from __future__ import annotations

import orjson
import pytest

from app.logic import axes
from app.logic import compare as comparison
from engine.store import Store
from tests.app.seed_group import N_TRAIN, write_seed_group
from tests.app.test_views import open_page


@pytest.fixture
def seeds(home):
    with Store(home) as store:
        write_seed_group(store)
    return home


def charts(at) -> dict[str, dict]:
    """{title: figure spec} of every plotly chart on the page."""
    specs = [orjson.loads(c.proto.spec) for c in at.get("plotly_chart")]
    return {s["layout"]["title"]["text"]: s for s in specs}


def test_seeds_share_steps_epochs_and_samples_but_not_wall_time(seeds):
    with Store(seeds) as store:
        run_ids = store.list_runs(group="seeds").sort_values("created")["id"].tolist()
        view = comparison.build(store, run_ids)
    assert view.multi_seed and view.variant_of["He init #1"] == "He init"
    assert axes.shared_axes(view.clocks.values()) == list(axes.AXES)
    epoch = axes.x_axis("epoch")
    assert comparison.seeds_share_x(view, epoch) and not comparison.seeds_share_x(view, axes.x_axis("time"))
    wides, groups = comparison.on_axis(view, epoch)
    batch = view.clocks["baseline #0"].batch
    assert wides["baseline #0"].index[-1] == pytest.approx(300 / (N_TRAIN // batch))
    assert groups["He init"][1] is wides["He init #1"]


def test_compare_shows_validation_accuracy_and_loss_with_seed_bands_on_epochs(seeds):
    at = open_page("views/compare.py", group="seeds")
    assert not at.exception, at.exception
    at.segmented_control(key="cmp:curves:x").set_value("epoch").run()
    assert not at.exception, at.exception
    shown = charts(at)
    acc = shown["Validation accuracy: mean and ±1 sd over seeds"]
    loss = shown["Validation loss: mean and ±1 sd over seeds"]
    for fig in (acc, loss):
        assert fig["layout"]["xaxis"]["title"]["text"] == "epoch"
        assert sum(t.get("fill") == "tonexty" for t in fig["data"]) == 2  # one band per variant


def test_on_wall_time_each_seed_is_its_own_line_and_highlight_fades_the_rest(seeds):
    at = open_page("views/compare.py", group="seeds")
    at.segmented_control(key="cmp:curves:x").set_value("time").run()
    at.selectbox(key="cmp:curves:hl").set_value("He init #1").run()
    assert not at.exception, at.exception
    shown = charts(at)
    acc = shown["Validation accuracy"]  # no band: the seeds' times differ
    assert acc["layout"]["xaxis"]["title"]["text"] == "training time (s)"
    names = [t["name"] for t in acc["data"]]
    assert names[-1] == "He init #1" and len(names) == 4
    assert all(t["opacity"] < 1 for t in acc["data"][:-1])
    assert "wall time every seed is its own line" in " ".join(c.value for c in at.caption)


def test_live_draws_the_loss_on_the_chosen_axis_raw_when_smoothing_is_off(seeds):
    with Store(seeds) as store:
        run_id = store.list_runs(group="seeds").sort_values("created")["id"].iloc[0]
    at = open_page("views/live.py", run=run_id)
    at.segmented_control(key="live:curves:x").set_value("samples").run()
    at.segmented_control(key="live:curves:loss").set_value("log").run()
    at.slider(key="live:curves:smooth").set_value(0.0).run()
    assert not at.exception, at.exception
    loss = charts(at)["Loss"]
    assert loss["layout"]["xaxis"]["title"]["text"] == "samples seen"
    assert loss["layout"]["yaxis"]["type"] == "log"
    assert [t["name"] for t in loss["data"]] == ["train", "val"]
