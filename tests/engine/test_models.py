"""The model registry: every architecture honours the ClinicModel contract.

Datasets here are tiny fakes built from numpy, so these tests do not depend
on ``engine.datasets``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn

from engine.config.errors import RecipeError
from engine.config.recipe import ModelSpec
from engine.datasets.base import Dataset
from engine.models import build_model
from engine.models.base import ClinicModel, to_sequence

RECURRENT = ["rnn", "lstm", "gru"]
SHAPES = {"tabular": (6,), "image": (1, 8, 8), "sequence": (5, 3), "video": (3, 1, 6, 6)}
# Which data kinds each architecture must accept.
ACCEPTS = {"mlp": ["tabular", "image", "sequence", "video"], "cnn": ["image", "video"], "crnn": ["video"]} | {
    a: ["tabular", "image", "sequence", "video"] for a in RECURRENT
}


def fake_data(
    kind: str = "tabular",
    task: str = "classification",
    n: int = 96,
    n_classes: int = 3,
    target_len: int = 1,
    out_dim: int = 1,
    seed: int = 0,
) -> Dataset:
    """A learnable toy problem: the label is the sign pattern of a fixed projection."""
    rng = np.random.default_rng(seed)
    shape = SHAPES[kind]
    x = rng.normal(size=(n, *shape)).astype(np.float32)
    score = x.reshape(n, -1) @ rng.normal(size=(int(np.prod(shape)), max(target_len, out_dim)))
    if task == "classification":
        y = np.digitize(score, np.quantile(score, np.linspace(0, 1, n_classes + 1)[1:-1])).astype(np.int64)
        y = y[:, 0] if target_len == 1 else y[:, :target_len]
    else:
        y = score[:, :out_dim].astype(np.float32)
    split = n * 3 // 4
    return Dataset(
        x[:split],
        y[:split],
        x[split:],
        y[split:],
        task,
        kind,
        shape,
        n_classes if task == "classification" else None,
        target_len=target_len,
        out_dim=out_dim,
    )


def spec(**kw) -> ModelSpec:
    return ModelSpec(**{"depth": 2, "width": 16, **kw})


def build(arch: str, kind: str = "tabular", data: Dataset | None = None, **kw) -> ClinicModel:
    torch.manual_seed(0)
    return build_model(spec(arch=arch, **kw), data or fake_data(kind))


def batch(data: Dataset, n: int = 8) -> torch.Tensor:
    return torch.from_numpy(data.x_train[:n])


# --- building and shapes ------------------------------------------------------


@pytest.mark.parametrize("arch,kind", [(a, k) for a, kinds in ACCEPTS.items() for k in kinds])
def test_every_architecture_builds_for_its_data_kind(arch, kind):
    data = fake_data(kind)
    model = build(arch, data=data)
    assert isinstance(model, ClinicModel)
    assert model(batch(data)).shape == (8, data.n_outputs)


@pytest.mark.parametrize("arch", ["mlp", "lstm"])
def test_output_width_follows_the_task(arch):
    per_position = fake_data("sequence", n_classes=4, target_len=5)
    regression = fake_data("sequence", task="regression", out_dim=2)
    assert build(arch, data=per_position)(batch(per_position)).shape == (8, 4 * 5)
    assert build(arch, data=regression)(batch(regression)).shape == (8, 2)


@pytest.mark.parametrize(
    "arch,kind", [("mlp", "tabular"), ("cnn", "image"), ("rnn", "sequence"), ("lstm", "sequence"), ("gru", "tabular")]
)
def test_a_few_sgd_steps_reduce_the_loss(arch, kind):
    data = fake_data(kind)
    model = build(arch, data=data, activation="tanh", init="xavier_uniform")
    x, y = torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)
    opt = torch.optim.SGD(model.parameters(), lr=0.2, momentum=0.9)
    losses = []
    for _ in range(40):
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0]


def test_recurrent_nets_read_images_row_by_row():
    x = torch.arange(2 * 3 * 4 * 5, dtype=torch.float32).reshape(2, 3, 4, 5)  # (N, C, H, W)
    seq = to_sequence(x)
    assert seq.shape == (2, 4, 15)
    assert torch.equal(seq[:, 1], x[:, :, 1, :].reshape(2, 15))
    assert to_sequence(torch.zeros(2, 6)).shape == (2, 6, 1)  # tabular: one feature per step
    assert build("gru", "image").gru.input_size == 8
    assert build("gru", "tabular").gru.input_size == 1


# --- param_layers and activation_layers ----------------------------------------


@pytest.mark.parametrize(
    "arch,kind,names",
    [
        ("mlp", "tabular", ["layers.0", "layers.1", "layers.2", "head"]),
        ("cnn", "image", ["conv.0", "conv.1", "conv.2", "head"]),
        ("rnn", "sequence", ["rnn.ih_l0", "rnn.hh_l0", "rnn.ih_l1", "rnn.hh_l1", "rnn.ih_l2", "rnn.hh_l2", "head"]),
        (
            "lstm",
            "sequence",
            ["lstm.ih_l0", "lstm.hh_l0", "lstm.ih_l1", "lstm.hh_l1", "lstm.ih_l2", "lstm.hh_l2", "head"],
        ),
    ],
)
def test_param_layers_are_named_in_input_to_output_order(arch, kind, names):
    model = build(arch, kind, depth=3, norm="layer")
    layers = model.param_layers()
    assert [n for n, _ in layers] == names
    # Exactly the weight matrices/kernels: no biases, no norm parameters, nothing missed.
    assert {id(p) for _, p in layers} == {id(p) for p in model.parameters() if p.ndim >= 2}


def test_mlp_param_layers_chain_from_input_to_head():
    data = fake_data("image")
    shapes = [tuple(p.shape) for _, p in build("mlp", data=data, depth=3).param_layers()]
    assert shapes == [(16, 64), (16, 16), (16, 16), (data.n_outputs, 16)]


def test_default_param_layers_strip_the_weight_suffix():
    class Tiny(ClinicModel):
        def __init__(self):
            super().__init__(spec())
            self.embed = nn.Linear(4, 8)
            self.head = nn.Linear(8, 2)

    assert [n for n, _ in Tiny().param_layers()] == ["embed", "head"]
    assert Tiny().activation_layers() == []  # nothing rather than something misleading


@pytest.mark.parametrize(
    "activation,family,cls",
    [("sigmoid", "saturating", nn.Sigmoid), ("relu", "relu", nn.ReLU), ("gelu", "smooth", nn.GELU)],
)
def test_mlp_activation_layers_match_layer_names(activation, family, cls):
    model = build("mlp", depth=4, activation=activation)
    acts = model.activation_layers()
    assert [n for n, _, _ in acts] == [n for n, _ in model.param_layers()][:-1]
    assert all(f == family and isinstance(m, cls) for _, m, f in acts)
    assert len({id(m) for _, m, _ in acts}) == 4  # one module per block, so each can be hooked alone


def test_cnn_activation_hooks_see_feature_maps():
    model = build("cnn", "image", depth=2, activation="tanh")
    seen = {}
    for name, module, _ in model.activation_layers():
        module.register_forward_hook(lambda m, i, out, name=name: seen.update({name: out.shape}))
    model(torch.zeros(3, 1, 8, 8))
    assert seen == {"conv.0": (3, 16, 8, 8), "conv.1": (3, 16, 4, 4)}  # pooled after the first block


@pytest.mark.parametrize("activation,family", [("tanh", "saturating"), ("relu", "relu")])
def test_rnn_exposes_its_recurrent_module_as_activation_layer(activation, family):
    model = build("rnn", "sequence", activation=activation)
    [(name, module, fam)] = model.activation_layers()
    assert (name, fam) == ("rnn", family) and module is model.rnn
    out = {}
    module.register_forward_hook(lambda m, i, o: out.update(seq=o[0]))  # a tuple: element 0 is the sequence
    model(torch.zeros(4, 5, 3))
    assert out["seq"].shape == (4, 5, 16)


@pytest.mark.parametrize("arch", ["lstm", "gru"])
def test_gated_recurrent_nets_expose_no_activations_and_ignore_the_activation(arch):
    model = build(arch, "sequence", activation="sigmoid")
    assert model.activation_layers() == []
    assert "sigmoid" not in model.describe()


def test_describe_is_one_readable_line():
    data = fake_data("image", n_classes=10)
    model = build_model(ModelSpec(arch="mlp", depth=20, width=64, activation="sigmoid"), data)
    assert model.describe() == "20-layer sigmoid MLP, width 64, 84k parameters"
    extras = build("cnn", "image", residual=True, norm="batch", dropout=0.25).describe()
    assert extras.startswith("2-layer relu CNN, width 16, residual, batch norm, dropout 0.25, ")


# --- the remedy knobs change the structure --------------------------------------


def _types(model: nn.Module) -> list[type]:
    return [type(m) for m in model.modules()]


@pytest.mark.parametrize("arch,kind,block", [("mlp", "tabular", "layers"), ("cnn", "image", "conv")])
def test_residual_skips_only_where_shapes_match(arch, kind, block):
    plain, residual = build(arch, kind, depth=3), build(arch, kind, depth=3, residual=True)
    assert [b.residual for b in getattr(plain, block)] == [False, False, False]
    assert [b.residual for b in getattr(residual, block)] == [False, True, True]  # block 0 changes width
    x = batch(fake_data(kind))
    assert not torch.allclose(plain(x), residual(x))  # same seed, same weights: the skips change the output
    wide = build("mlp", data=fake_data("sequence"), width=15, residual=True)  # 5*3 inputs = width
    assert wide.layers[0].residual


@pytest.mark.parametrize(
    "arch,kind,norm,cls",
    [
        ("mlp", "tabular", "batch", nn.BatchNorm1d),
        ("mlp", "tabular", "layer", nn.LayerNorm),
        ("cnn", "image", "batch", nn.BatchNorm2d),
        ("cnn", "image", "layer", nn.GroupNorm),
        ("lstm", "sequence", "layer", nn.LayerNorm),
    ],
)
def test_norm_adds_its_layer(arch, kind, norm, cls):
    expected = 3 if arch in ("mlp", "cnn") else 1  # one per block; recurrent: the final hidden state
    assert _types(build(arch, kind, depth=3, norm=norm)).count(cls) == expected
    assert cls not in _types(build(arch, kind, depth=3))


@pytest.mark.parametrize("arch,kind,cls", [("mlp", "tabular", nn.Dropout), ("cnn", "image", nn.Dropout2d)])
def test_dropout_follows_every_block(arch, kind, cls):
    model = build(arch, kind, depth=3, dropout=0.3)
    drops = [m for m in model.modules() if type(m) is cls]
    assert len(drops) == 3 and all(d.p == 0.3 for d in drops)
    assert cls not in _types(build(arch, kind, depth=3))


def test_recurrent_dropout_between_layers_and_before_the_head():
    deep, shallow = build("lstm", "sequence", depth=2, dropout=0.3), build("gru", "sequence", depth=1, dropout=0.3)
    assert deep.lstm.dropout == 0.3 and isinstance(deep.drop, nn.Dropout)
    assert shallow.gru.dropout == 0.0 and isinstance(shallow.drop, nn.Dropout)  # PyTorch warns otherwise


# --- refusals name the key ----------------------------------------------------------


@pytest.mark.parametrize(
    "arch,kind,kw,key,hint",
    [
        ("cnn", "tabular", {}, "model.arch:", "image data"),
        ("cnn", "sequence", {}, "model.arch:", "image data"),
        ("rnn", "sequence", {"norm": "batch"}, "model.norm:", "use none or layer"),
        ("lstm", "sequence", {"norm": "batch"}, "model.norm:", "not available for lstm"),
        ("gru", "sequence", {"residual": True}, "model.residual:", "not available for gru"),
        ("rnn", "sequence", {"activation": "sigmoid"}, "model.activation:", "tanh or relu (got sigmoid)"),
    ],
)
def test_incompatible_combinations_raise_recipe_error(arch, kind, kw, key, hint):
    with pytest.raises(RecipeError) as err:
        build(arch, kind, **kw)
    assert str(err.value).startswith(key) and hint in str(err.value)


# --- the flagship lesson and the registry ---------------------------------------------


def _grad_ratio(activation: str, init: str) -> float:
    """Head gradient norm over first-layer gradient norm, one batch, at initialisation."""
    data = fake_data("image", n=256, n_classes=10)
    model = build_model(ModelSpec(arch="mlp", depth=20, width=64, activation=activation, init=init), data)
    loss = nn.functional.cross_entropy(model(torch.from_numpy(data.x_train)), torch.from_numpy(data.y_train))
    loss.backward()
    norms = dict((n, p.grad.norm().item()) for n, p in model.param_layers())
    return norms["head"] / norms["layers.0"]


def test_deep_sigmoid_mlp_starves_its_first_layer_and_he_relu_does_not():
    torch.manual_seed(0)
    assert _grad_ratio("sigmoid", "default") > 1000
    assert _grad_ratio("relu", "he_normal") < 10


def test_each_architecture_declares_what_it_honours_and_remedies_follow():
    from engine.diagnosis import remedies
    from engine.models import capabilities

    assert capabilities("cnn").data_kinds == ("image", "video")
    assert capabilities("crnn").data_kinds == ("video",) and capabilities("crnn").residual
    assert not capabilities("lstm").residual and "batch" not in capabilities("lstm").norms
    assert remedies.build("residual", {"model": {"arch": "lstm"}}) is None
    assert remedies.build("residual", {"model": {"arch": "mlp", "residual": False}}).set == {"model.residual": True}
    assert remedies.build("batch_norm", {"model": {"arch": "gan", "norm": "none"}}) is None
