"""The Live view's picture of the model: a decision boundary on the plane, a fitted curve, a forecast."""

from __future__ import annotations

import json

import numpy as np
import torch

from engine.config.recipe import ModelSpec, load_recipe
from engine.datasets.base import Dataset
from engine.models import build_model
from engine.store import Store
from engine.training import boundary, session
from engine.training.boundary import BoundaryView
from engine.training.trainer import Trainer

CPU = torch.device("cpu")


def moons(steps=40, **over):
    sets = {
        "data.name": "moons",
        "model.arch": "mlp",
        "model.depth": 2,
        "model.width": 16,
        "train.optimizer": "adam",
        "train.lr": 0.03,
        "train.steps": steps,
        "train.eval_every": 20,
        **over,
    }
    return session.prepare(load_recipe(None, sets))


def test_a_moons_picture_is_a_bounded_grid_of_probabilities_with_labelled_points():
    p = moons()
    view = BoundaryView.for_run(p.data, p.model, p.recipe)
    assert view is not None and view.kind == "classes"
    pic = view.picture(p.model, CPU)

    assert pic["kind"] == "classes" and pic["n_classes"] == 2
    prob = np.asarray(pic["prob"])
    assert prob.shape == (boundary.GRID, boundary.GRID) and ((prob >= 0) & (prob <= 1)).all()
    pts = pic["points"]
    assert len(pts["x"]) == len(pts["y"]) == len(pts["label"]) == boundary.MAX_POINTS  # 700 trained, 300 shown
    assert set(pts["label"]) == {0, 1} and pic["class_names"] == ["upper", "lower"]
    # The grid covers every point with a margin, in the standardised space the model sees.
    assert pic["x"][0] < min(pts["x"]) and pic["x"][-1] > max(pts["x"])
    assert pic["y"][0] < min(pts["y"]) and pic["y"][-1] > max(pts["y"])
    assert pic["standardised"] and len(json.dumps(pic)) < 40_000


def test_the_picture_changes_as_the_model_trains_and_leaves_it_in_training_mode():
    p = moons(steps=60)
    view = BoundaryView.for_run(p.data, p.model, p.recipe)
    trainer = Trainer(p.recipe, p.data, p.model, CPU)
    trainer.start()
    before = np.asarray(view.picture(p.model, CPU)["prob"])
    assert p.model.training
    trainer.advance()
    after = np.asarray(view.picture(p.model, CPU)["prob"])
    assert p.model.training
    # Untrained, the model hedges near 50/50; trained, it is sure on both sides of a boundary.
    assert np.abs(after - before).max() > 0.3
    assert (after < 0.1).mean() > 0.2 and (after > 0.9).mean() > 0.2


def test_a_run_records_its_first_picture_at_step_0_and_one_per_evaluation(tmp_path):
    p = moons(steps=40)
    store = Store(tmp_path)
    run_id = store.create_run(p.recipe.to_dict(), total_steps=40)
    session.train(store, run_id, p)
    events = store.events(run_id, kind="boundary")
    assert list(events["step"]) == [0, 20, 40]
    assert store.last_event(run_id, "boundary")["payload"]["kind"] == "classes"


def test_long_runs_thin_their_pictures_to_a_bounded_number():
    p = moons()
    view = BoundaryView(p.data, "classes", total_steps=1_000_000, eval_every=10)
    evaluations = 1_000_000 // 10
    assert view.every == evaluations // boundary.MAX_FRAMES  # every 1,000th evaluation is drawn
    assert evaluations / view.every <= boundary.MAX_FRAMES


def test_three_classes_store_the_predicted_class_and_its_confidence():
    p = session.prepare(
        load_recipe(None, ["data.name=ring", "data.params.modes=3", "model.arch=mlp", "model.width=16"])
    )
    pic = BoundaryView.for_run(p.data, p.model, p.recipe).picture(p.model, CPU)
    label, conf = np.asarray(pic["label"]), np.asarray(pic["conf"])
    assert "prob" not in pic and pic["n_classes"] == 3 and label.shape == conf.shape == (50, 50)
    assert set(np.unique(label)) <= {0, 1, 2} and (conf >= 1 / 3 - 0.01).all() and (conf <= 1).all()
    assert not pic["standardised"]  # the ring keeps its own coordinates


def test_one_feature_regression_records_a_fitted_curve_over_its_points():
    rng = np.random.default_rng(0)
    x = rng.uniform(-2, 2, size=(200, 1)).astype(np.float32)
    y = np.sin(x).astype(np.float32)
    data = Dataset(x[:150], y[:150], x[150:], y[150:], "regression", "tabular", (1,), None, feature_names=("x",))
    model = build_model(ModelSpec(arch="mlp", depth=2, width=8), data)
    assert boundary.kind_of(data, model) == "curve"
    pic = BoundaryView(data, "curve", total_steps=10, eval_every=5).picture(model, CPU)
    assert len(pic["x"]) == len(pic["fit"]) == boundary.CURVE_POINTS and np.isfinite(pic["fit"]).all()
    assert len(pic["points"]["x"]) == 150 and pic["feature_names"] == ["x"]


def test_sine_records_a_forecast_after_a_validation_window():
    p = session.prepare(load_recipe("exploding-rnn", ["model.width=8", "model.init_std=0.05"]))
    pic = BoundaryView.for_run(p.data, p.model, p.recipe).picture(p.model, CPU)
    length = p.data.input_shape[0]
    assert pic["kind"] == "forecast" and pic["points"]["x"] == list(range(length))
    assert pic["x"] == list(range(length, 2 * length)) and len(pic["fit"]) == length
    assert pic["truth"][0] == length


def test_models_whose_output_is_not_a_prediction_record_nothing():
    gan = session.prepare(load_recipe("gan-2d", ["model.width=8"]))
    assert BoundaryView.for_run(gan.data, gan.model, gan.recipe) is None
    digits = session.prepare(load_recipe(None, ["data.name=digits", "model.width=8"]))
    assert BoundaryView.for_run(digits.data, digits.model, digits.recipe) is None  # 64 features: no plane


def test_a_diverged_model_draws_no_picture():
    p = moons()
    view = BoundaryView.for_run(p.data, p.model, p.recipe)
    with torch.no_grad():
        next(p.model.parameters()).fill_(float("nan"))
    assert view.picture(p.model, CPU) is None
