"""The Compress page's logic, and the page in Streamlit's AppTest, on a real compress group.

A tiny digits MLP is trained in this process and compressed with
:func:`engine.training.compress.run.compress` (torch here is fine: only the app must stay
torch-free): 50% and 90% pruned, each fine-tuned 20 steps, dynamic int8 and two 8-unit students,
a few seconds in all. The logic then reads the group back from the store as the page does.
"""

from __future__ import annotations

import dataclasses

import pytest

from app.logic import compress as logic
from engine.config.recipe import load_recipe
from engine.control import compress_job
from engine.control.compress import Plan
from engine.store import Store
from tests.app.test_views import open_page, texts

TINY = ["model.depth=1", "model.width=32", "train.steps=60", "train.eval_every=30"]
NAMES = [
    "dense (as trained)",
    "prune 50%",
    "prune 50% + finetune 20",
    "prune 90%",
    "prune 90% + finetune 20",
    "int8 dynamic",
    "student distilled (T=4, alpha=0.7)",
    "student labels only",
]


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """(store, source run id, a finished run without weights, the compress result), on one thread."""
    import torch

    from engine.training import session
    from engine.training.compress.run import compress

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    store = Store(tmp_path_factory.mktemp("compress-logic"))
    recipe = load_recipe(None, TINY)
    run_id = store.create_run(recipe.to_dict(), name="digits MLP", total_steps=60, status="running")
    session.train(store, run_id, session.prepare(recipe, store))
    other = store.create_run(recipe.to_dict(), name="no weights", status="completed")
    plan = Plan(run_id, (0.5, 0.9), finetune=20, quantize="int8", distill={"model.width": 8, "train.steps": 20})
    result = compress(store, dataclasses.replace(plan, repeats=3))
    yield store, run_id, other, result
    torch.set_num_threads(threads)


def test_the_group_is_found_from_its_source_run_only(made):
    store, source, other, result = made
    (group,) = logic.groups_of(store, source)
    assert group.group == result["group"] and group.source == source and not group.unfinished
    assert [v["name"] for v in group.variants] == NAMES  # in the order they were made
    assert group.metric == "val_accuracy" and group.dense is not None and group.dense["kind"] == "dense"
    assert logic.groups_of(store, other) == []


def test_compressible_runs_are_finished_ones_with_weights_and_no_variant(made):
    store, source, other, _ = made
    queued = store.create_run(load_recipe(None, TINY).to_dict(), name="queued")
    choices = logic.compressible(store.home, store.list_runs())
    assert set(choices) == {source} and "digits MLP" in choices[source]  # not `other`, `queued` or the variants
    assert logic.has_weights(store.home, next(iter(logic.groups_of(store, source)[0].variants))["run_id"])
    store.delete_run(queued)


def test_the_table_has_a_row_per_variant_with_its_numbers(made):
    store, source, _, result = made
    table = logic.frame(logic.groups_of(store, source)[0])
    assert table["variant"].tolist() == NAMES
    dense = table.iloc[0]
    assert dense["change (points)"] == 0 and dense["× smaller"] == 1 and dense["× faster"] == 1
    by = {v["name"]: v for v in result["variants"]}
    row = table.set_index("variant").loc["int8 dynamic"]
    assert row["val accuracy (%)"] == pytest.approx(100 * by["int8 dynamic"]["val_accuracy"], abs=0.01)
    assert row["file (kB)"] == pytest.approx(by["int8 dynamic"]["size_bytes"] / 1e3, abs=0.1)
    assert row["× smaller"] > 1.5 and row["nonzero params"] == by["dense (as trained)"]["params"]
    assert table.set_index("variant").loc["prune 90%", "sparse (kB)"] < dense["file (kB)"]  # stored sparse
    assert table["sparse (kB)"].isna().sum() == 4  # dense, int8 and the students have no sparse form


def test_the_sparsity_table_is_the_pruned_variants_by_layer(made):
    store, source, _, result = made
    table = logic.sparsity(logic.groups_of(store, source)[0])
    assert table.columns.tolist() == ["prune 50%", "prune 90%"]  # a fine-tuned copy keeps the same zeros
    pruned = next(v for v in result["variants"] if v["name"] == "prune 90%")
    assert table.index.tolist() == list(pruned["pruning"]["layers"]) == ["layers.0", "head"]
    assert table["prune 90%"].to_dict() == pruned["pruning"]["layers"]
    assert (table["prune 90%"] > table["prune 50%"]).all()


def test_the_verdict_says_what_each_kind_costs_and_slower_when_slower(made):
    store, source, _, _ = made
    group = logic.groups_of(store, source)[0]
    said = logic.verdict(group)
    assert "**int8 dynamic** is" in said and "× smaller on disk" in said
    assert "distilled student" in said and "against the same student on the labels alone" in said
    assert "points" in said and ("prune 50%" in said or "prune 90%" in said)

    def with_int8(ratio: float) -> str:
        changed = [
            {**v, "vs_dense": {**v["vs_dense"], "latency_ratio": ratio}} if v["kind"] == "quantize" else v
            for v in group.variants
        ]
        return logic.verdict_lines(dataclasses.replace(group, variants=tuple(changed)))[0]

    assert with_int8(0.4).endswith("runs 2.5× slower.")
    assert with_int8(2.0).endswith("runs 2.0× faster.")
    assert with_int8(1.1).endswith("runs about as fast.")  # within one CPU's noise


def test_change_words_in_points_and_in_mse():
    assert logic.change_words("val_accuracy", -0.372, 0.98) == "loses 37.2 points"
    assert logic.change_words("val_accuracy", -0.004, 0.98) == "keeps the accuracy within 0.4 points"
    assert logic.change_words("val_accuracy", 0.02, 0.9) == "gains 2.0 points"
    assert logic.change_words("val_mse", 0.05, 0.1) == "raises the MSE by 50%"
    assert logic.change_words("val_mse", -0.001, 0.1) == "keeps the MSE within 1%"
    assert logic.size_words(1.0) == "no smaller" and logic.size_words(3.9) == "3.9× smaller"


def test_a_variant_that_did_not_apply_is_named_with_why():
    result = {"variants": [{"name": "int8 static", "applied": False, "what": "static int8 does not apply: X"}]}
    assert logic.not_applied(compress_job.not_applied(result)) == ["int8 static: static int8 does not apply: X"]


def test_the_widgets_become_a_request_and_a_refusal_names_the_flag(made):
    store, source, _, _ = made
    req = logic.request(source, [0.9, 0.5], structured=False, finetune=0, int8=True, student="  ")
    assert req == compress_job.Request(source, (0.5, 0.9), False, 0, "int8", None)
    assert logic.check(store, req) is None
    nothing = logic.request(source, [], structured=False, finetune=0, int8=False)
    assert logic.check(store, nothing).startswith("compress: give --prune LEVELS")
    assert logic.check(store, dataclasses.replace(req, distill="data.name=wine")).startswith("--distill:")


def test_the_page_draws_the_stored_group_and_refuses_an_empty_request(made, monkeypatch):
    store, source, _, _ = made
    monkeypatch.setenv("GRADCLINIC_HOME", str(store.home))
    monkeypatch.setattr("engine.control.queue.spawn", lambda store, run_id: None)
    started = []
    monkeypatch.setattr(compress_job, "start", lambda *a, **k: started.append(a))
    at = open_page("views/compress.py", run=source)
    assert not at.exception, at.exception
    assert at.selectbox(key="compress:run").value == source
    assert "**int8 dynamic** is" in texts(at) and len(at.dataframe) == 1
    assert len(at.get("plotly_chart")) == 3  # size, latency, per-layer sparsity
    at.multiselect(key="compress:levels").set_value([]).run()
    at.checkbox(key="compress:int8").uncheck().run()
    next(b for b in at.button if b.label == "🗜️ Compress").click().run()
    assert not at.exception, at.exception
    assert [e.value for e in at.error] == [
        "Not compressed: compress: give --prune LEVELS, --quantize int8 or --distill STUDENT_OVERRIDES"
    ]
    assert not started
