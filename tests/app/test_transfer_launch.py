"""Launch's "Start from an earlier run": pick a finished run, and the setup starts from its weights.

The source run here is a real transfer-pretrain model's weights, saved as training saves them
(safetensors); nothing is trained. The page is the real app script under Streamlit's AppTest.
"""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from app.logic import transfer
from engine.config.recipe import load_recipe
from engine.store import Store
from tests.app.conftest import MAIN

BOX = "Start from an earlier run"


@pytest.fixture
def source(home) -> str:
    """A completed transfer-pretrain run with final weights (an untrained model's: shapes are what matter)."""
    from safetensors.torch import save_file

    from engine.training import session

    recipe = load_recipe("transfer-pretrain")
    with Store(home) as store:
        run_id = store.create_run(recipe.to_dict(), name="transfer-pretrain", total_steps=recipe.train.steps)
        model = session.prepare(recipe, store).model
        save_file(
            {k: v.contiguous() for k, v in model.state_dict().items()}, store.runs_dir(run_id) / "final.safetensors"
        )
        store.set_status(run_id, "completed")
        unfinished = store.create_run(recipe.to_dict(), name="no weights yet", total_steps=10)
        store.set_status(unfinished, "completed")
    return run_id


def test_only_finished_runs_with_final_weights_can_be_started_from(home, source):
    with Store(home) as store:
        runs = transfer.startable(home, store.list_runs())
    assert list(runs) == [source] and "transfer-pretrain" in runs[source]


def test_the_layers_to_freeze_come_from_the_file_parents_first(home, source):
    groups = transfer.layer_groups(transfer.final_weights(home, source))
    assert groups == ["layers", "layers.0", "layers.1", "head"]


def test_a_source_of_another_shape_is_warned_about_and_one_of_the_same_is_not(home, source):
    with Store(home) as store:
        theirs = store.get_run(source)["recipe"]
    assert transfer.fit_warning(theirs, load_recipe("transfer-digits")) is None  # other half, noise: same shapes
    warned = transfer.fit_warning(theirs, load_recipe("transfer-digits", ["model.width=64"]))
    assert warned is not None and "`model.width` 128 there, 64 here" in warned


def test_the_chosen_keys_make_a_recipe_and_from_scratch_removes_them(source):
    sets = {"train.steps": 50, "model.init_from": "old", "model.freeze": ["head"]}
    chosen = transfer.use_sets(sets, source, ["layers.0"], 0.1, True)
    recipe = load_recipe("transfer-digits", chosen)
    assert recipe.model.init_from == source and recipe.model.freeze == ("layers.0",)
    assert recipe.model.init_lr_scale == 0.1 and recipe.model.fresh_head and recipe.train.steps == 50
    assert transfer.scratch_sets(sets) == ["train.steps=50"]


def test_the_launch_page_box_sets_init_from_in_the_link_and_the_run_starts_from_it(home, source):
    at = AppTest.from_file(MAIN, default_timeout=60)
    at.query_params["recipe"] = "transfer-digits"
    at.run()
    assert not at.exception, at.exception
    assert any(BOX in e.label for e in at.expander)
    at.selectbox(key="transfer_source").select(source).run()
    at.multiselect(key=f"transfer_freeze:{source}").select("layers.0").run()
    next(b for b in at.button if b.key == "transfer_use").click().run()
    assert not at.exception, at.exception
    sets = at.query_params.get_all("set") if hasattr(at.query_params, "get_all") else at.query_params["set"]
    assert f'model.init_from="{source}"' in str(sets) and "layers.0" in str(sets)
    assert f'model.init_from="{source}"' in at.text_area(key="advanced").value  # shown where every key is
    next(b for b in at.button if "Launch" in b.label and "lesson" not in b.label).click().run()
    with Store(home) as store:
        (launched,) = store.list_runs(recipe="transfer-digits")["id"]
        recipe = store.get_run(launched)["recipe"]
    assert recipe["model"]["init_from"] == source and recipe["model"]["freeze"] == ["layers.0"]
