"""Transfer learning (``model.init_from``, ``model.freeze``, ``model.init_lr_scale``, ``model.fresh_head``).

A source run is trained here, then recipes start from it: its layers arrive by name and shape,
a head of another size starts afresh, frozen layers keep their weights and leave the optimizer
and the probes, and a model that does not fit is refused before any run exists, naming layers.
"""

from __future__ import annotations

import pytest
import torch

from engine import cli
from engine.config.errors import RecipeError
from engine.config.recipe import load_recipe
from engine.control import lifecycle
from engine.store import Store

FIVE_TO_NINE = 'data.params={"classes": [5, 6, 7, 8, 9]}'


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A short healthy-mlp run on all ten digits, named digits-all, its weights saved."""
    from engine.training import session

    torch.set_num_threads(1)
    store = Store(tmp_path_factory.mktemp("transfer"))
    recipe = load_recipe("healthy-mlp", ["train.steps=60"])
    run_id = store.create_run(recipe.to_dict(), name="digits-all", total_steps=60, status="running")
    session.train(store, run_id, session.prepare(recipe, store))
    return store, run_id


def weights(store: Store, run_id: str) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(store.runs_dir(run_id) / "final.safetensors"))


def test_layers_load_by_name_and_a_head_of_another_size_starts_afresh(source):
    from engine.training import session

    store, run_id = source
    saved = weights(store, run_id)
    prepared = session.prepare(load_recipe("healthy-mlp", ["model.init_from=digits-all", FIVE_TO_NINE]), store)
    mine = prepared.model.state_dict()
    for key in ("layers.0.layer.weight", "layers.1.layer.weight", "layers.2.layer.bias"):
        assert torch.equal(mine[key], saved[key]), key
    assert mine["head.weight"].shape == (5, 64) and saved["head.weight"].shape == (10, 64)
    assert prepared.transfer == {
        "source": "digits-all",
        "loaded": ["layers.0.layer", "layers.1.layer", "layers.2.layer"],
        "fresh": ["head"],
        "frozen": [],
        "lr_scale": 1.0,
    }


def test_a_fresh_head_can_be_asked_for_where_the_shape_fits(source):
    from engine.training import session

    store, run_id = source
    prepared = session.prepare(
        load_recipe("healthy-mlp", [f"model.init_from={run_id}", "model.fresh_head=true"]), store
    )
    assert prepared.transfer["fresh"] == ["head"]
    assert not torch.equal(prepared.model.state_dict()["head.weight"], weights(store, run_id)["head.weight"])


def test_frozen_layers_keep_their_weights_and_leave_the_optimizer_and_the_probes(source):
    from engine.training import session

    store, run_id = source
    recipe = load_recipe(
        "healthy-mlp",
        ["model.init_from=digits-all", FIVE_TO_NINE, 'model.freeze=["layers.0", "layers.1"]', "train.steps=30"],
    )
    new_run = store.create_run(recipe.to_dict(), total_steps=30, status="running")
    summary = session.train(store, new_run, session.prepare(recipe, store))
    assert summary["status"] == "completed"
    before, after = weights(store, run_id), weights(store, new_run)
    assert torch.equal(after["layers.0.layer.weight"], before["layers.0.layer.weight"])
    assert torch.equal(after["layers.1.layer.weight"], before["layers.1.layer.weight"])
    assert not torch.equal(after["layers.2.layer.weight"], before["layers.2.layer.weight"])  # it trained
    # Their zero gradients are by design: they are not probed, so no rule reads them as vanishing.
    assert list(store.layers(new_run).query("kind == 'param'")["name"]) == ["layers.2", "head"]
    assert "vanishing_gradients" not in {f["code"] for f in summary["findings"]}


def test_loaded_layers_learn_at_the_scaled_rate_and_a_fresh_head_at_the_full_one(source):
    from engine.training import session
    from engine.training.trainer import Trainer

    store, _ = source
    recipe = load_recipe("healthy-mlp", ["model.init_from=digits-all", FIVE_TO_NINE, "model.init_lr_scale=0.1"])
    prepared = session.prepare(recipe, store)
    trainer = Trainer(recipe, prepared.data, prepared.model, prepared.device, [])
    groups = trainer.state.optimizer.param_groups
    assert [g["lr"] for g in groups] == pytest.approx([recipe.train.lr, recipe.train.lr * 0.1])
    assert sum(p.numel() for p in groups[0]["params"]) == 64 * 5 + 5  # the head alone


def test_a_model_that_does_not_fit_is_refused_naming_the_layers(source, capsys):
    store, run_id = source
    home = str(store.home)
    before = len(store.list_runs())
    code = cli.main(
        ["--home", home, "run", "healthy-mlp", "--set", f"model.init_from={run_id}", "--set", "model.width=32"]
    )
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "model.init_from" in err and "layers.0.layer.weight is (64, 64) there and (32, 64) here" in err
    assert len(store.list_runs()) == before  # refused before a run row existed
    deeper = ["--set", f"model.init_from={run_id}", "--set", "model.depth=2"]
    assert cli.main(["--home", home, "run", "healthy-mlp", *deeper]) == 2
    assert "layers.2.layer.weight is there and not here" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (["model.init_from=nobody"], "model.init_from: no run 'nobody'"),
        (["model.init_from=/nowhere/w.safetensors"], "model.init_from: no file /nowhere/w.safetensors"),
        (["model.init_from=digits-all", 'model.freeze=["nope"]'], "model.freeze: 'nope' names no layer"),
        (['model.freeze=["layers"]'], "model.freeze: applies to weights loaded by model.init_from"),
        (["model.init_from=digits-all", 'model.freeze=["layers", "head"]'], "every layer is frozen"),
    ],
)
def test_bad_sources_are_refused_naming_the_key(source, sets, message):
    from engine.training import session

    store, _ = source
    with pytest.raises(RecipeError, match=message.replace("(", r"\(")):
        session.prepare(load_recipe("healthy-mlp", sets), store)


def test_the_dashboards_launch_refuses_a_missing_source_before_the_run_has_a_row(source):
    store, _ = source
    before = len(store.list_runs())
    with pytest.raises(RecipeError, match="model.init_from: no run 'digits-0-4'"):
        lifecycle.launch(store, load_recipe("healthy-mlp", ["model.init_from=digits-0-4"]))
    assert len(store.list_runs()) == before


def test_a_safetensors_file_is_a_source_and_a_damaged_one_is_refused(source, tmp_path):
    from safetensors.torch import save_file

    from engine.training import session

    store, run_id = source
    good = tmp_path / "weights.safetensors"
    save_file(weights(store, run_id), str(good))
    prepared = session.prepare(load_recipe("healthy-mlp", [f"model.init_from={good}"]), store)
    assert {"layers.0.layer", "head"} <= set(prepared.transfer["loaded"]) and prepared.transfer["fresh"] == []
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    with pytest.raises(RecipeError, match="model.init_from: bad.safetensors is not a readable safetensors file"):
        session.prepare(load_recipe("healthy-mlp", [f"model.init_from={bad}"]), store)
