"""Weight-init schemes: each gives the weight scale its paper promises.

A 512×512 Linear holds 262k weights, so its sample std is within a fraction
of a percent of the true one; 5% tolerance leaves room for nothing but bugs.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn as nn

from engine.config.recipe import ModelSpec
from engine.datasets.base import Dataset
from engine.models import build_model
from engine.training.inits import INITS, apply_init

FAN = 512


def init_linear(scheme: str, activation: str = "relu", std: float | None = None) -> nn.Linear:
    torch.manual_seed(0)
    layer = nn.Linear(FAN, FAN)
    apply_init(layer, scheme, activation, std)
    return layer


def weight_std(layer: nn.Linear) -> float:
    return layer.weight.detach().std().item()


@pytest.mark.parametrize("scheme", ["he_normal", "he_uniform"])
@pytest.mark.parametrize("activation", ["relu", "tanh"])  # He init is for ReLU nets whatever the recipe says
def test_he_schemes_give_std_sqrt_2_over_fan_in(scheme, activation):
    assert weight_std(init_linear(scheme, activation)) == pytest.approx(math.sqrt(2 / FAN), rel=0.05)


@pytest.mark.parametrize("scheme", ["xavier_normal", "xavier_uniform"])
@pytest.mark.parametrize(
    "activation,gain",
    [
        ("tanh", nn.init.calculate_gain("tanh")),
        ("sigmoid", 1.0),
        ("relu", math.sqrt(2)),
        ("leaky_relu", nn.init.calculate_gain("leaky_relu", 0.01)),
    ],
)
def test_xavier_schemes_scale_by_the_activation_gain(scheme, activation, gain):
    expected = gain * math.sqrt(2 / (FAN + FAN))
    assert weight_std(init_linear(scheme, activation)) == pytest.approx(expected, rel=0.05)


@pytest.mark.parametrize("std,expected", [(0.05, 0.05), (1.0, 1.0), (None, 0.01)])
def test_normal_uses_init_std_with_a_small_default(std, expected):
    layer = init_linear("normal", std=std)
    assert weight_std(layer) == pytest.approx(expected, rel=0.05)
    assert abs(layer.weight.mean().item()) < 0.05 * expected


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_orthogonal_rows_are_orthogonal_with_the_activation_gain(activation):
    w = init_linear("orthogonal", activation).weight.detach().double()
    gain = nn.init.calculate_gain(activation)
    assert torch.allclose(w @ w.T, gain**2 * torch.eye(FAN, dtype=torch.double), atol=1e-4)


def test_default_leaves_pytorch_init_untouched():
    torch.manual_seed(0)
    reference = nn.Linear(FAN, FAN)
    layer = init_linear("default")
    assert torch.equal(layer.weight, reference.weight) and torch.equal(layer.bias, reference.bias)
    assert layer.bias.abs().sum() > 0


@pytest.mark.parametrize("scheme", [s for s in INITS.names() if s != "default"])
def test_other_schemes_zero_every_bias_but_leave_norm_scales(scheme):
    model = nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.GRU(8, 8, num_layers=2))
    with torch.no_grad():
        for p in model.parameters():
            p.uniform_(0.5, 1.0)  # make every parameter visibly non-zero first
    apply_init(model, scheme, "tanh", 0.1)
    biases = {n: p for n, p in model.named_parameters() if n.rsplit(".", 1)[-1].startswith("bias")}
    assert {"0.bias", "1.bias", "2.bias_ih_l0", "2.bias_hh_l1"} <= set(biases)
    assert all(p.abs().sum() == 0 for p in biases.values())
    assert model[1].weight.min() >= 0.5  # LayerNorm's scale is not a weight matrix


def test_conv_kernels_use_their_full_fan_in():
    torch.manual_seed(0)
    conv = nn.Conv2d(64, 64, kernel_size=3)
    apply_init(conv, "he_normal", "relu")
    assert conv.weight.std().item() == pytest.approx(math.sqrt(2 / (64 * 9)), rel=0.05)


def _tiny_sequence_data() -> Dataset:
    x = np.zeros((8, 5, 3), dtype=np.float32)
    y = np.zeros(8, dtype=np.int64)
    return Dataset(x, y, x, y, "classification", "sequence", (5, 3), 2)


def test_build_model_applies_the_recipe_init():
    torch.manual_seed(0)
    model = build_model(ModelSpec(arch="mlp", depth=2, width=FAN, init="he_normal"), _tiny_sequence_data())
    hidden = dict(model.param_layers())["layers.1"]
    assert hidden.std().item() == pytest.approx(math.sqrt(2 / FAN), rel=0.05)
    assert all(b.layer.bias.abs().sum() == 0 for b in model.layers)


def test_gated_nets_take_the_tanh_gain_whatever_the_activation():
    # LSTM gates are sigmoid/tanh; a relu gain would oversize them.
    torch.manual_seed(0)
    spec = ModelSpec(arch="lstm", depth=1, width=FAN, activation="relu", init="orthogonal")
    w_hh = dict(build_model(spec, _tiny_sequence_data()).param_layers())["lstm.hh_l0"].detach().double()
    # (4*width, width): taller than wide, so the columns are the orthonormal ones.
    tanh_gain = nn.init.calculate_gain("tanh")
    assert torch.allclose(w_hh.T @ w_hh, tanh_gain**2 * torch.eye(FAN, dtype=torch.double), atol=1e-4)


@pytest.mark.parametrize("scheme", ["default", "he_normal"])
def test_init_bias_starts_every_bias_there_and_a_negative_one_silences_relu_units(scheme):
    layer = init_linear(scheme)
    apply_init(layer, scheme, "relu", bias=-3.0)
    assert torch.all(layer.bias == -3.0)
    x = torch.randn(256, FAN) / math.sqrt(FAN)  # pre-activations far smaller than the bias
    assert (torch.relu(layer(x)) > 0).float().mean() < 0.05  # almost every unit is dead from the start
    default = init_linear("default")
    assert default.bias.abs().max() > 0  # without it, "default" keeps PyTorch's own biases


def test_the_recipe_key_model_init_bias_reaches_every_layer():
    model = build_model(ModelSpec(arch="mlp", depth=2, width=16, init_bias=-3.0), _tiny_sequence_data())
    biases = [p for n, p in model.named_parameters() if n.endswith("bias")]
    assert biases and all(torch.all(b == -3.0) for b in biases)
