"""Each probe agrees with a brute-force computation on a tiny model."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from engine.config import names
from engine.config.recipe import ModelSpec
from engine.datasets.base import Dataset
from engine.models import build_model
from engine.training.probing.manager import ProbeManager, load_probes


def tiny_data(n=32, features=6, classes=3):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, features)).astype("float32")
    y = rng.integers(0, classes, size=n).astype("int64")
    return Dataset(x, y, x, y, task="classification", kind="tabular", input_shape=(features,), n_classes=classes)


def one_step(model, manager, x, y, lr=0.1, poison=None):
    """Drive one training step through the manager's events; return reference values."""
    state = SimpleNamespace(step=1)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    seen = {}
    hooks = [
        m.register_forward_hook(lambda mod, i, o, name=name: seen.__setitem__(name, o.detach().clone()))
        for name, m, _ in model.activation_layers()
    ]
    manager.before_step(state)
    loss = torch.nn.functional.cross_entropy(model(x), y)
    manager.after_forward(state)
    opt.zero_grad()
    loss.backward()
    if poison is not None:
        dict(model.param_layers())[poison].grad[0, 0] = float("nan")
    layers = [p for _, p in model.param_layers()]
    ref = {
        "grad_norm": [p.grad.norm().item() for p in layers],
        "grad_max_abs": [p.grad.abs().max().item() for p in layers],
        "before": [p.detach().clone() for p in layers],
    }
    manager.after_backward(state)
    opt.step()
    manager.after_step(state)
    for h in hooks:
        h.remove()
    ref["weight_norm"] = [p.norm().item() for p in layers]
    ref["update_ratio"] = [((p - b).norm() / b.norm()).item() for p, b in zip(layers, ref["before"])]
    ref["activations"] = [seen[name] for name, _, _ in model.activation_layers()]
    return ref


def every_step(model):
    return ProbeManager(model, fixed={name: 1 for name in names.PROBES.names()})


@pytest.fixture
def relu_model():
    torch.manual_seed(0)
    return build_model(ModelSpec(depth=3, width=16, activation="relu", init="he_normal"), tiny_data())


def test_every_registered_probe_loads():
    loaded = {p.name for p in load_probes()}
    assert loaded == set(names.PROBES.names())
    assert {"grad_norm", "weight_norm", "update_ratio", "dead_fraction", "saturated_fraction"} <= loaded


def test_gradient_and_weight_probes_match_brute_force(relu_model):
    data = tiny_data()
    manager = every_step(relu_model)
    ref = one_step(relu_model, manager, torch.tensor(data.x_train), torch.tensor(data.y_train))
    got = manager.drain()
    for stat in ("grad_norm", "grad_max_abs", "weight_norm", "update_ratio"):
        steps, values = got[stat]
        assert steps.tolist() == [1]
        np.testing.assert_allclose(values[0], ref[stat], rtol=1e-5, err_msg=stat)
    assert got["nonfinite"][1][0].tolist() == [0.0] * len(ref["grad_norm"])


def test_activation_probes_match_direct_counts(relu_model):
    data = tiny_data()
    # Kill two units of the first layer outright (zero weights, negative bias),
    # so the dead count is not trivially zero.
    first = relu_model.param_layers()[0][1]
    linear = next(m for m in relu_model.modules() if getattr(m, "weight", None) is first)
    with torch.no_grad():
        linear.weight[:2] = 0.0
        linear.bias[:2] = -1.0
    manager = every_step(relu_model)
    ref = one_step(relu_model, manager, torch.tensor(data.x_train), torch.tensor(data.y_train))
    got = manager.drain()
    acts = ref["activations"]
    np.testing.assert_allclose(got["act_mean"][1][0], [a.mean().item() for a in acts], rtol=1e-5)
    np.testing.assert_allclose(got["act_std"][1][0], [a.std(unbiased=False).item() for a in acts], rtol=1e-5)
    dead = [float((a <= 0).all(dim=0).float().mean()) for a in acts]
    np.testing.assert_allclose(got["dead_fraction"][1][0], dead)
    assert dead[0] >= 2 / 16  # the units we killed are counted
    assert np.isnan(got["saturated_fraction"][1][0]).all()  # ReLU cannot saturate


def test_saturation_counts_sigmoid_outputs_near_bounds():
    torch.manual_seed(0)
    model = build_model(ModelSpec(depth=2, width=16, activation="sigmoid", init="normal", init_std=3.0), tiny_data())
    data = tiny_data()
    manager = every_step(model)
    ref = one_step(model, manager, torch.tensor(data.x_train) * 5, torch.tensor(data.y_train))
    got = manager.drain()
    expected = [float(((a < 0.01) | (a > 0.99)).float().mean()) for a in ref["activations"]]
    np.testing.assert_allclose(got["saturated_fraction"][1][0], expected, rtol=1e-6)
    assert max(expected) > 0.2  # a large init really does saturate
    assert np.isnan(got["dead_fraction"][1][0]).all()  # sigmoid units cannot die


def test_nonfinite_flags_the_poisoned_layer(relu_model):
    data = tiny_data()
    manager = every_step(relu_model)
    poisoned = relu_model.param_layers()[1][0]
    one_step(relu_model, manager, torch.tensor(data.x_train), torch.tensor(data.y_train), poison=poisoned)
    flags = manager.drain()["nonfinite"][1][0]
    assert flags.tolist() == [0.0, 1.0] + [0.0] * (len(flags) - 2)


def test_hooks_are_removed_after_the_step(relu_model):
    data = tiny_data()
    manager = every_step(relu_model)
    one_step(relu_model, manager, torch.tensor(data.x_train), torch.tensor(data.y_train))
    assert all(len(m._forward_hooks) == 0 for _, m, _ in relu_model.activation_layers())


def test_budget_spaces_out_expensive_probes(relu_model):
    """With a tiny budget, the planner picks intervals > 1 and says so."""
    manager = ProbeManager(relu_model, budget=0.001)
    data = tiny_data()
    x, y = torch.tensor(data.x_train), torch.tensor(data.y_train)
    opt = torch.optim.SGD(relu_model.parameters(), lr=0.01)
    state = SimpleNamespace(step=0)
    for step in range(1, 40):
        state.step = step
        manager.before_step(state)
        loss = torch.nn.functional.cross_entropy(relu_model(x), y)
        manager.after_forward(state)
        opt.zero_grad()
        loss.backward()
        manager.after_backward(state)
        opt.step()
        manager.after_step(state)
    manager.replan(40)  # the planner also re-plans on its own right after the warm-up
    plan = manager.schedule()
    assert all(n > 1 for n in plan["group_intervals"].values()), plan
    assert plan["step_ms"] > 0 and set(plan["intervals"]) | set(plan["at_eval"]) == set(names.PROBES.names())
