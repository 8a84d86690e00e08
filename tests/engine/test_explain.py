"""Attribution with Captum on a run's saved weights (``gradclinic explain``).

A dataset whose answer is known (``one_feature``: the class is the sign of f4) checks that the
methods rank that feature first; the digits and a sequence check the shapes of their maps;
bad input is refused by flag before torch loads.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine import cli
from engine.config.errors import RecipeError
from engine.config.recipe import load_recipe
from engine.control import explain_cli
from engine.store import Store


def trained(store: Store, recipe_name: str, sets=()) -> str:
    """A completed run of ``recipe_name`` trained in this process, its weights saved."""
    from engine.training import session

    recipe = load_recipe(recipe_name, list(sets))
    run_id = store.create_run(recipe.to_dict(), total_steps=recipe.train.steps, status="running")
    session.train(store, run_id, session.prepare(recipe))
    return run_id


@pytest.fixture(scope="module")
def one_feature(tmp_path_factory):
    import torch

    torch.set_num_threads(1)
    store = Store(tmp_path_factory.mktemp("explain"))
    return store, trained(store, "explain-one-feature")


@pytest.mark.parametrize("method", ["ig", "saliency", "deeplift", "gradshap", "occlusion"])
def test_every_method_ranks_the_one_deciding_feature_first(one_feature, method):
    from engine.training.explain import explain

    store, run_id = one_feature
    r = explain(store, run_id, method, samples=64)
    importance = dict(zip(r["features"], r["importance"]))
    ranked = sorted(importance, key=importance.get, reverse=True)
    assert ranked[0] == "f4", (method, importance)
    assert importance["f4"] > 2 * importance[ranked[1]], (method, importance)  # far above the rest


def test_integrated_gradients_meets_its_completeness_check(one_feature):
    from engine.training.explain import DELTA_WARN, explain

    store, run_id = one_feature
    r = explain(store, run_id, "ig", samples=64, steps=50)
    assert r["delta"]["max_relative"] < DELTA_WARN and "warning" not in r
    coarse = explain(store, run_id, "ig", samples=64, steps=2)
    assert coarse["delta"]["max_relative"] > r["delta"]["max_relative"]  # fewer steps, a worse integral


def test_images_get_a_map_per_sample_and_sequences_a_value_per_time_step(tmp_path):
    from engine.training.explain import explain

    store = Store(tmp_path)
    digits = explain(store, trained(store, "healthy-mlp", ["train.steps=40"]), "saliency", samples=5)
    assert np.shape(digits["per_sample"]) == (5, 8, 8) and np.shape(digits["importance"]) == (8, 8)
    sine_run = trained(store, "lr-schedules", ["train.steps=40", "train.lr=0.01"])  # 0.07 diverges unwarmed
    sine = explain(store, sine_run, "ig", samples=4, steps=20)
    assert sine["kind"] == "sequence" and np.shape(sine["per_sample"]) == (4, 20)


def test_layer_conductance_reports_every_activation_layer(one_feature):
    from engine.training.explain import explain

    store, run_id = one_feature
    r = explain(store, run_id, "layer_conductance", samples=16, steps=20)
    assert [layer["layer"] for layer in r["layers"]] == ["layers.0", "layers.1"]
    assert all(layer["mean_abs"] > 0 for layer in r["layers"])


def test_bad_input_is_refused_by_flag_before_anything_loads(tmp_path, capsys, one_feature):
    with pytest.raises(RecipeError, match="--samples x --steps: 500 x 100"):
        explain_cli.check(500, 100)
    store, run_id = one_feature
    home = str(store.home)
    assert cli.main(["--home", home, "explain", run_id, "--samples", "0"]) == 2
    assert "--samples" in capsys.readouterr().err
    best = store.runs_dir(run_id) / "best.safetensors"
    assert best.is_file()  # a run with evaluations keeps its best weights ...
    best.rename(best.with_suffix(".moved"))
    try:  # ... and one without them is told so, by flag
        assert cli.main(["--home", home, "explain", run_id, "--checkpoint", "best"]) == 2
        assert "--checkpoint best" in capsys.readouterr().err
    finally:
        best.with_suffix(".moved").rename(best)
    assert cli.main(["--home", home, "explain", run_id, "--target", "7"]) == 2
    assert "--target" in capsys.readouterr().err
    assert cli.main(["--home", home, "explain", run_id, "--method", "ig", "--samples", "8", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["samples"] == 8 and len(out["importance"]) == 8 and out["features"][3] == "f4"


def test_images_are_averaged_per_explained_class(tmp_path):
    from engine.training.explain import explain

    store = Store(tmp_path)
    r = explain(store, trained(store, "healthy-mlp", ["train.steps=60"]), "ig", samples=30, steps=20)
    classes = r["per_class"]
    assert sum(c["count"] for c in classes) == 30
    assert [c["class"] for c in classes] == sorted(set(r["targets"]))  # each explained class once, in order
    assert all(np.shape(c["map"]) == np.shape(c["image"]) == (8, 8) for c in classes)
    first = classes[0]
    rows = [i for i, t in enumerate(r["targets"]) if t == first["class"]]
    np.testing.assert_allclose(first["map"], np.mean([r["per_sample"][i] for i in rows], axis=0), rtol=1e-5)


def test_conductance_of_one_layers_units(one_feature, capsys):
    from engine.training.explain import explain

    store, run_id = one_feature
    r = explain(store, run_id, "layer_conductance", samples=16, steps=20, layer="layers.0")
    assert r["neurons"]["layer"] == "layers.0" and len(r["neurons"]["mean_abs"]) == 32  # model.width
    assert r["layers"][0]["units"] == 32
    with pytest.raises(RecipeError, match=r"--layer: 'nope' is not one of .*layers\.0, layers\.1"):
        explain(store, run_id, "layer_conductance", samples=4, steps=5, layer="nope")
    home = str(store.home)
    assert cli.main(["--home", home, "explain", run_id, "--layer", "layers.0"]) == 2  # ig has no layer
    assert "--layer" in capsys.readouterr().err


def test_the_dashboards_job_reports_progress_and_saves_its_result(one_feature):
    import time

    from engine.control import explain_job

    store, run_id = one_feature
    request = explain_job.Request(run_id, "ig", samples=30, steps=20)
    assert explain_job.load(store.home, request) is None
    job = explain_job.start(request, home=store.home, timeout_s=180)
    while not job.done():
        time.sleep(0.1)
    result, message = job.outcome()
    assert message is None and result is not None, message
    assert job.progress == 1.0 and job.stage == "done"
    assert result["samples"] == 30 and result["features"][3] == "f4"
    saved = explain_job.load(store.home, request)
    assert saved is not None and saved["importance"] == result["importance"]
    assert explain_job.load(store.home, explain_job.Request(run_id, "ig", samples=31, steps=20)) is None


def test_a_failing_job_says_why_in_one_message(one_feature):
    import time

    from engine.control import explain_job

    store, run_id = one_feature
    job = explain_job.start(explain_job.Request(run_id, checkpoint="best", layer="layers.0"), home=store.home)
    while not job.done():
        time.sleep(0.1)
    result, message = job.outcome()
    assert result is None and message is not None and "--layer:" in message and "\n" not in message


def test_progress_lines_round_trip():
    from engine.control import explain_job

    line = explain_job.progress_line(3, 12, "ig on samples 4-6 of 12")
    assert explain_job.parse_progress(line) == (0.25, "ig on samples 4-6 of 12")
    assert explain_job.parse_progress("some other line\n") is None


def test_a_video_run_is_refused_naming_the_dataset_before_its_weights_load(tmp_path, capsys):
    """Attributions are drawn per feature, pixel or time step; a clip of frames is none of these."""
    from engine.training.explain import explain

    store = Store(tmp_path)
    run_id = store.create_run(load_recipe("crnn-moving-digits").to_dict(), status="completed")  # no weights saved
    message = "data.name: explain draws attributions for tabular, image and sequence data; this run's dataset "
    assert cli.main(["--home", str(tmp_path), "explain", run_id]) == 2
    err = capsys.readouterr().err
    assert f"{message}'moving_digits' is video" in err and "Traceback" not in err and len(err.splitlines()) == 1
    with pytest.raises(RecipeError, match="^data.name: explain draws attributions"):
        explain(store, run_id)
    assert explain_cli.data_error(load_recipe("mlp-vs-cnn").to_dict()) is None
