"""The trainer: every dataset and architecture trains, remedies take effect, NaN is an outcome."""

import math

import numpy as np
import pytest
import torch

from engine.config import names
from engine.config.recipe import load_recipe
from engine.store import Store
from engine.training import session

FEW = ["train.steps=12", "train.eval_every=6"]


def train(tmp_path, recipe_name=None, overrides=()):
    recipe = load_recipe(recipe_name, list(overrides))
    store = Store(tmp_path)
    prepared = session.prepare(recipe)
    run_id = store.create_run(recipe.to_dict(), total_steps=recipe.train.steps)
    summary = session.train(store, run_id, prepared)
    return store, run_id, summary


ARCH_FOR = {"tabular": "mlp", "image": "cnn", "sequence": "gru", "video": "crnn"}


@pytest.mark.parametrize("dataset", names.DATASETS.names())
def test_every_dataset_trains_a_few_steps(tmp_path, dataset):
    extra = []
    if dataset == "csv":
        extra = ["data.params.path=sample_data/penguins.csv", "data.params.target=species"]
    kind = names.DATASETS.module(dataset).KIND
    store, run_id, summary = train(
        tmp_path,
        None,
        [f"data.name={dataset}", f"model.arch={ARCH_FOR[kind]}", "model.depth=2", "model.width=16", *FEW, *extra],
    )
    assert summary["status"] == "completed" and summary["steps"] == 12
    assert math.isfinite(summary["final"]["val_loss"])


@pytest.mark.parametrize("arch", names.ARCHITECTURES.names())
def test_every_architecture_trains_on_digits(tmp_path, arch):
    # A GAN learns 2-D points (gan.py); the CRNN reads clips of digits (crnn.py).
    data = {"gan": "ring", "crnn": "moving_digits"}.get(arch, "digits")
    store, run_id, summary = train(
        tmp_path, None, [f"model.arch={arch}", f"data.name={data}", "model.depth=2", "model.width=16", *FEW]
    )
    assert summary["status"] == "completed"
    steps, layer_names, values = store.layer_matrix(run_id, "grad_norm")
    assert layer_names[-1].endswith("head") and len(steps) > 0 and np.isfinite(values).all()


@pytest.mark.parametrize("optimizer", names.optimizers())
@pytest.mark.parametrize("schedule", ["constant", "step", "cosine", "onecycle", "cyclic", "exponential", "plateau"])
def test_optimizers_and_schedules_run(tmp_path, optimizer, schedule):
    _, _, summary = train(
        tmp_path,
        None,
        [f"train.optimizer={optimizer}", f"train.schedule={schedule}", "model.depth=1", "model.width=8", *FEW],
    )
    assert summary["status"] == "completed"


def test_schedules_change_the_learning_rate(tmp_path):
    store, run_id, _ = train(
        tmp_path, None, ["train.schedule=cosine", "train.steps=40", "train.lr=0.1", "model.depth=1"]
    )
    lr = store.scalars(run_id, names=["lr"])["value"].to_numpy()
    assert lr[0] == pytest.approx(0.1, rel=0.01) and lr[-1] < 0.01


def test_same_seed_same_losses_on_cpu(tmp_path):
    _, _, a = train(tmp_path / "a", "healthy-mlp", FEW)
    _, _, b = train(tmp_path / "b", "healthy-mlp", FEW)
    assert a["final"] == b["final"]


def test_clipping_caps_the_step(tmp_path):
    """With clip_norm, the update ratio of SGD is bounded by lr * clip / |w| in every layer."""
    store, run_id, _ = train(
        tmp_path,
        None,
        [
            "train.optimizer=sgd",
            "train.lr=1.0",
            "train.clip_norm=0.01",
            "probes.intervals={update_ratio: 1, weight_norm: 1}",
            *FEW,
        ],
    )
    upd = store.layer_matrix(run_id, "update_ratio")[2]
    w = store.layer_matrix(run_id, "weight_norm")[2]
    assert (upd * w <= 0.01 * 1.0 * 1.01 + 1e-6).all()


def test_early_stopping_stops_and_says_so(tmp_path):
    _, _, summary = train(
        tmp_path,
        None,
        [
            "train.steps=3000",
            "train.eval_every=10",
            "train.lr=0.01",
            "train.early_stopping={patience: 2, min_delta: 0.5}",
        ],
    )
    assert summary["status"] == "early_stopped" and summary["steps"] < 3000


def test_nan_ends_the_run_as_diverged_not_a_crash(tmp_path):
    store, run_id, summary = train(
        tmp_path,
        None,
        [
            "model.init=normal",
            "model.init_std=50",
            "model.depth=6",
            "train.optimizer=sgd",
            "train.lr=10",
            "train.steps=300",
            "train.eval_every=25",
        ],
    )
    assert summary["status"] == "diverged"
    assert store.get_run(run_id)["status"] == "diverged"
    assert "non_finite" in {f["code"] for f in summary["findings"]}
    assert summary["steps"] < 300


def test_l1_penalty_shrinks_weights(tmp_path):
    def mean_weight_norm(extra):
        store, run_id, _ = train(tmp_path / str(len(extra)), None, ["train.steps=200", "model.depth=2", *extra])
        return store.layer_matrix(run_id, "weight_norm")[2][-1].mean()

    assert mean_weight_norm(["train.l1=0.01"]) < 0.8 * mean_weight_norm([])


def test_probe_schedule_is_recorded(tmp_path):
    store, run_id, _ = train(tmp_path, "healthy-mlp", ["train.steps=200"])
    plans = store.events(run_id, kind="schedule")
    assert len(plans) >= 1
    plan = plans.iloc[-1]["payload"]
    assert plan["budget"] == 0.05 and plan["intervals"]["grad_norm"] >= 1


def test_training_in_slices_is_the_same_as_fit():
    from engine.training.trainer import Trainer

    recipe = load_recipe(None, ["train.steps=10", "train.eval_every=4", "model.depth=2", "model.width=8"])

    def trainer():
        prepared = session.prepare(recipe)
        return Trainer(recipe, prepared.data, prepared.model, prepared.device)

    whole = trainer()
    assert whole.fit() == "completed"
    sliced = trainer()
    sliced.start()
    assert sliced.advance(3) and sliced.state.step == 3
    assert sliced.advance(4) and sliced.state.metrics  # crossed the evaluation at step 4
    assert not sliced.advance(100) and sliced.state.step == 10  # stops at train.steps
    assert sliced.finish() == "completed"
    for a, b in zip(whole.state.model.parameters(), sliced.state.model.parameters()):
        assert torch.equal(a, b)
    assert whole.state.metrics == sliced.state.metrics
