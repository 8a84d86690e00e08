"""The Runs page's table: numbers that sort as numbers, findings by severity, a group filter, tags and notes saved."""

from __future__ import annotations

import numpy as np
import pandas as pd

from app.logic import runs as history
from engine.config.recipe import load_recipe
from engine.store import Store
from tests.app.conftest import finding

RECIPE = load_recipe("healthy-mlp").to_dict()


def finished(store: Store, accuracy: float, val_loss: float, seconds: float, group: str | None = None) -> str:
    """A completed run with its summary, as a worker leaves it."""
    run_id = store.create_run(RECIPE, group=group, total_steps=200)
    store.update_run(run_id, started=1000.0, ended=1000.0 + seconds, step=200)
    final = {"train_loss": val_loss / 2, "val_loss": val_loss, "val_accuracy": accuracy}
    store.update_run(run_id, summary={"final": final, "steps": 200})
    store.set_status(run_id, "completed")
    store.update_run(run_id, ended=1000.0 + seconds)  # (set_status stamped the wall clock)
    return run_id


def test_metrics_duration_and_findings_are_numbers_so_headers_sort_by_value(tmp_path):
    with Store(tmp_path) as store:
        a = finished(store, accuracy=0.9, val_loss=0.3, seconds=9.5)
        b = finished(store, accuracy=0.45, val_loss=1.2, seconds=110.0)
        c = finished(store, accuracy=0.1, val_loss=2.3, seconds=12.0)
        store.add_findings(b, [finding("vanishing_gradients"), {**finding("overfitting"), "severity": "warning"}])
        store.add_findings(c, [{**finding("dead_relus"), "severity": "warning"}])
        queued = store.create_run(RECIPE, total_steps=200)
        table = history.page(store, now=2000.0)
    assert list(table.columns) == history.COLUMNS
    for column in ("val accuracy", "val loss", "train loss", "duration (s)", "progress"):
        assert table[column].dtype == np.float64, column
    for column in ("critical", "warning", "info"):
        assert table[column].dtype == np.int64, column
    rows = table.set_index("id")
    # 110 s sorts after 12 s and 9.5 s (as text, "110" would come first)
    assert table.sort_values("duration (s)")["id"].tolist()[:3] == [a, c, b]
    assert table.sort_values("val accuracy", ascending=False)["id"].tolist() == [a, b, c, queued]
    assert rows.loc[b, ["critical", "warning", "info"]].tolist() == [1, 1, 0]
    assert rows.loc[b, "worst"] == "vanishing_gradients" and rows.loc[c, "worst"] == "dead_relus"
    assert rows.loc[a, "val loss"] == 0.3 and rows.loc[a, "train loss"] == 0.15 and rows.loc[a, "progress"] == 1.0
    assert np.isnan(rows.loc[queued, "val accuracy"]) and np.isnan(rows.loc[queued, "duration (s)"])
    assert rows.loc[queued, "progress"] == 0.0 and rows.loc[queued, "worst"] == ""


def test_the_group_filter_names_each_group_by_its_recipe_and_keeps_to_it(tmp_path):
    with Store(tmp_path) as store:
        grouped = [finished(store, 0.5, 1.0, 5.0, group="ab12cd34") for _ in range(2)]
        finished(store, 0.5, 1.0, 5.0)
        choices = history.group_choices(store)
        table = history.page(store, group="ab12cd34")
    assert list(choices) == ["ab12cd34"]
    assert choices["ab12cd34"].startswith("healthy-mlp · 2 runs · ") and choices["ab12cd34"].endswith("ab12cd34")
    assert sorted(table["id"]) == sorted(grouped) and set(table["group"]) == {"ab12cd34"}


def test_edited_tags_and_notes_are_saved_and_a_bad_cell_is_refused_by_run(tmp_path):
    with Store(tmp_path) as store:
        first, second = finished(store, 0.9, 0.3, 5.0), finished(store, 0.5, 1.0, 5.0)
        store.update_run(second, name="lr-test")
        table = history.page(store)
        rows = {run_id: i for i, run_id in enumerate(table["id"])}
        edits = {
            rows[first]: {"tags": "baseline,  good", "notes": "the one to beat", "✓": True},
            rows[second]: {"tags": "too high"},
        }
        saved, refused = history.save_edits(store, table, edits)
        assert saved == 2 and len(refused) == 1
        assert refused[0].startswith("lr-test: tags: 'too high' is not one word")
        assert store.get_run(first)["tags"] == "baseline, good" and store.get_run(first)["notes"] == "the one to beat"
        assert store.get_run(second)["tags"] == ""
        # The editor hands every edit so far to each save; what is stored already is not written again.
        again = history.page(store)
        edits[rows[second]] = {"tags": "too-high"}
        assert history.save_edits(store, again, edits) == (1, [])
        assert history.page(store).set_index("id").loc[second, "tags"] == "too-high"


def test_a_paused_run_reads_paused_and_no_runs_is_an_empty_typed_table(tmp_path):
    with Store(tmp_path) as store:
        empty = history.page(store)
        run_id = store.create_run(RECIPE, status="running")
        store.set_paused(run_id, True)
        assert history.page(store).loc[0, "status"] == history.PAUSED_BADGE
    assert list(empty.columns) == history.COLUMNS and empty["val loss"].dtype == np.float64
    assert pd.api.types.is_datetime64_any_dtype(empty["created"])
