"""The transformer, autoencoder and GAN: shapes, layer names, learning, refusals, the GAN's contract."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn

from engine.config.errors import RecipeError
from engine.config.recipe import DataSpec, ModelSpec, load_recipe
from engine.datasets import prepare
from engine.datasets.base import Dataset
from engine.models import build_model
from engine.store import Store
from engine.training import session
from engine.training.events import Callback
from engine.training.trainer import Trainer


def seq_data(n=96, steps=6, features=3, task="regression", seed=0) -> Dataset:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, steps, features)).astype(np.float32)
    y = (x[:, 0, :1] + x[:, -1, :1]).astype(np.float32)  # first plus last step: needs the whole sequence
    if task == "classification":
        y = (y[:, 0] > 0).astype(np.int64)
    s = n * 3 // 4
    return Dataset(
        x[:s], y[:s], x[s:], y[s:], task, "sequence", (steps, features), 2 if task == "classification" else None
    )


def build(arch, data, **kw):
    torch.manual_seed(0)
    return build_model(ModelSpec(arch=arch, **{"depth": 2, "width": 16, **kw}), data)


def small(name, arch, steps=40, **over):
    """A prepared recipe (real data) for ``arch``, ``steps`` long."""
    sets = {
        "data.name": name,
        "model.arch": arch,
        "model.depth": 2,
        "model.width": 32,
        "train.steps": steps,
        "train.eval_every": max(1, steps // 2),
        **over,
    }
    return load_recipe(None, sets)


# --- transformer -------------------------------------------------------------------


def test_transformer_shapes_and_layer_names():
    data = seq_data()
    model = build("transformer", data, norm="layer", residual=True, activation="gelu")
    assert model(torch.from_numpy(data.x_train[:5])).shape == (5, 1)
    names = [n for n, _ in model.param_layers()]
    assert names == [
        "embed",
        "pos",
        "blocks.0.attn",
        "blocks.0.attn_out",
        "blocks.0.mlp",
        "blocks.0.mlp_out",
        "blocks.1.attn",
        "blocks.1.attn_out",
        "blocks.1.mlp",
        "blocks.1.mlp_out",
        "head",
    ]
    assert {id(p) for _, p in model.param_layers()} == {id(p) for p in model.parameters() if p.ndim >= 2}
    acts = model.activation_layers()
    assert [n for n, _, _ in acts] == ["blocks.0.mlp", "blocks.1.mlp"] and all(
        f == "smooth" for *_, f in acts
    )  # gelu cannot die
    per_position = Dataset(
        data.x_train,
        np.zeros((72, 4), np.int64),
        data.x_val,
        np.zeros((24, 4), np.int64),
        "classification",
        "sequence",
        (6, 3),
        5,
        target_len=4,
    )
    assert build("transformer", per_position)(torch.zeros(2, 6, 3)).shape == (2, 20)
    assert build("transformer", per_position, width=32).blocks[0].attn.heads == 4


def test_transformer_knobs_change_the_structure():
    data = seq_data()
    bare = build("transformer", data)
    assert not any(isinstance(m, nn.LayerNorm) for m in bare.modules())
    assert sum(isinstance(m, nn.LayerNorm) for m in build("transformer", data, norm="layer").modules()) == 5
    x = torch.from_numpy(data.x_train[:4])
    assert not torch.allclose(bare(x), build("transformer", data, residual=True)(x))


def test_transformer_learns_a_task_that_needs_the_whole_sequence():
    data = seq_data()
    model = build("transformer", data, norm="layer", residual=True, width=32)
    x, y = torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(60):
        loss = nn.functional.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.3 * losses[0]


# --- autoencoder ---------------------------------------------------------------------


def test_autoencoder_reconstructs_its_input_and_names_its_layers():
    data = prepare(DataSpec(name="digits"), 0)
    model = build("autoencoder", data, depth=2, width=64)
    assert model(torch.from_numpy(data.x_train[:3])).shape == (3, 64)
    assert model.code_size == 8 and model.anomaly_class == 9
    assert [n for n, _ in model.param_layers()] == [
        "encoder.0",
        "encoder.1",
        "bottleneck",
        "decoder.0",
        "decoder.1",
        "head",
    ]
    assert [n for n, _, _ in model.activation_layers()] == ["encoder.0", "encoder.1", "decoder.0", "decoder.1"]


def test_autoencoder_objective_ignores_the_held_out_class():
    data = prepare(DataSpec(name="digits"), 0)
    model = build("autoencoder", data)
    x = torch.from_numpy(data.x_train[:32])
    y = torch.from_numpy(data.y_train[:32])
    out = model(x)
    loss = model.objective(out, x, y, None)
    normal = y != 9
    assert loss.item() == pytest.approx(((out - x.flatten(1)) ** 2).mean(1)[normal].mean().item(), rel=1e-5)
    only_nines = torch.full_like(y, 9)
    assert model.objective(out, x, only_nines, None).item() == 0.0


def test_autoencoder_training_lowers_reconstruction_error_and_reports_anomaly_auc(tmp_path):
    recipe = small("digits", "autoencoder", steps=150, **{"train.lr": 0.003})
    store = Store(tmp_path)
    run_id = store.create_run(recipe.to_dict(), total_steps=150)
    summary = session.train(store, run_id, session.prepare(recipe))
    mse = store.scalars_wide(run_id)["val_mse"].dropna()
    assert mse.iloc[-1] < 0.7 * mse.iloc[0]
    final = summary["final"]
    assert 0.5 < final["anomaly_auc"] <= 1.0 and "val_accuracy" not in final
    assert 0.0 <= final["false_alarm_rate"] <= 1.0 and 0.0 <= final["anomaly_recall"] <= 1.0


# --- GAN --------------------------------------------------------------------------------


def test_gan_layer_names_and_shapes():
    data = prepare(DataSpec(name="ring"), 0)
    model = build("gan", data, activation="leaky_relu")
    assert [n for n, _ in model.param_layers()] == ["gen.0", "gen.1", "gen.head", "disc.0", "disc.1", "disc.head"]
    assert [n for n, _, _ in model.activation_layers()] == ["gen.0", "gen.1", "disc.0", "disc.1"]
    assert model(torch.zeros(5, 2)).shape == (5, 1)
    assert model.sample(7).shape == (7, 2)


class _Watch(Callback):
    """Keeps the discriminator's weights and gradients as the probes see them."""

    def __init__(self, model):
        self.model, self.seen = model, {}

    def before_step(self, s):
        self.seen["before"] = [p.detach().clone() for p in self.model.disc_params]
        self.seen["gen_before"] = [p.detach().clone() for p in self.model.gen_params]

    def after_backward(self, s):
        self.seen["at_backward"] = [p.detach().clone() for p in self.model.disc_params]
        self.seen["grads"] = [p.grad is not None for p in self.model.parameters()]

    def after_step(self, s):
        self.seen["after"] = [p.detach().clone() for p in self.model.disc_params]


def test_gan_step_alternates_and_probes_see_the_weights_before_it():
    recipe = small("ring", "gan", steps=1, **{"model.activation": "leaky_relu"})
    prepared = session.prepare(recipe)
    watch = _Watch(prepared.model)
    trainer = Trainer(recipe, prepared.data, prepared.model, prepared.device, [watch])
    trainer.fit()
    seen = watch.seen
    assert all(torch.equal(a, b) for a, b in zip(seen["before"], seen["at_backward"]))  # pre-step weights
    assert all(seen["grads"])  # both players' gradients are there for the probes
    assert not all(torch.equal(a, b) for a, b in zip(seen["before"], seen["after"]))  # the disc moved
    assert not all(torch.equal(a, b) for a, b in zip(seen["gen_before"], prepared.model.gen_params))
    assert set(trainer.state.step_scalars) == {"gen_loss", "disc_loss"}


def test_gan_training_improves_on_the_untrained_generator_and_records_the_contract(tmp_path):
    recipe = small(
        "ring",
        "gan",
        steps=300,
        **{
            "model.activation": "leaky_relu",
            "train.optimizer": "rmsprop",
            "train.lr": 0.0005,
            "train.batch_size": 128,
            "data.params": {"std": 0.1},
            "train.eval_every": 100,
        },
    )
    prepared = session.prepare(recipe)
    untrained = prepared.model.eval_metrics(Trainer(recipe, prepared.data, prepared.model, prepared.device))
    store = Store(tmp_path)
    run_id = store.create_run(recipe.to_dict(), total_steps=300)
    summary = session.train(store, run_id, session.prepare(recipe))
    assert summary["final"]["val_mmd"] < 0.5 * untrained["val_mmd"]
    wide = store.scalars_wide(run_id)
    assert {"gen_loss", "disc_loss", "train_loss", "val_mmd", "mode_coverage"} <= set(wide.columns)
    assert wide["disc_loss"].notna().sum() == 300
    samples = store.events(run_id, kind="samples")
    assert list(samples["step"]) == [100, 200, 300]
    assert all(len(p["fake"]) == 500 and len(p["real"]) <= 500 for p in samples["payload"])
    _, layers, values = store.layer_matrix(run_id, "grad_norm")
    assert layers[0] == "gen.0" and layers[-1] == "disc.head" and np.isfinite(values).all()


def test_gan_clipping_keeps_the_probes_on_raw_gradients():
    recipe = small("ring", "gan", steps=1, **{"train.clip_value": 1e-6})
    prepared = session.prepare(recipe)
    seen = {}

    class Grab(Callback):
        def after_backward(self, s):
            seen["max"] = max(p.grad.abs().max().item() for p in s.model.disc_params)

    Trainer(recipe, prepared.data, prepared.model, prepared.device, [Grab()]).fit()
    assert seen["max"] > 1e-6


# --- refusals name the key --------------------------------------------------------------


@pytest.mark.parametrize(
    "sets,message",
    [
        ({"data.name": "moons", "model.arch": "transformer"}, "model.arch: transformer needs sequence"),
        ({"data.name": "digits", "model.arch": "gan"}, "model.arch: gan needs 2-D points"),
        ({"data.name": "adding", "model.arch": "gan"}, "model.arch: gan needs 2-D points"),
        ({"data.name": "moons", "model.arch": "cnn"}, "model.arch: cnn needs image data"),
    ],
)
def test_recipe_refuses_an_architecture_its_data_cannot_feed(sets, message):
    with pytest.raises(RecipeError) as err:
        load_recipe(None, sets)
    assert str(err.value).startswith(message)


def test_compare_variants_are_checked_too():
    with pytest.raises(RecipeError, match=r"compare\[0\] \(GAN\): model.arch: gan needs 2-D points"):
        load_recipe({"data": {"name": "digits"}, "compare": [{"label": "GAN", "set": {"model.arch": "gan"}}]})


@pytest.mark.parametrize(
    "arch,data,kw,message",
    [
        ("gan", "wine", {}, "model.arch: gan learns a 2-D distribution"),
        ("gan", "ring", {"norm": "batch"}, "model.norm: batch norm is not available for gan"),
        ("transformer", "sine", {"norm": "batch"}, "model.norm: batch norm is not available for transformer"),
        ("autoencoder", "sine", {}, "model.arch: autoencoder holds the last class out"),
    ],
)
def test_build_refuses_what_the_recipe_cannot_see(arch, data, kw, message):
    dataset = prepare(DataSpec(name=data), 0)
    with pytest.raises(RecipeError) as err:
        build(arch, dataset, **kw)
    assert str(err.value).startswith(message)
