"""The probes' fast paths agree with brute force: CPU shape-grouped gradient stats, nonfinite on weights."""

from types import SimpleNamespace

import numpy as np
import torch

from engine.config import names
from engine.training.probing.manager import ProbeManager


class Interleaved(torch.nn.Module):
    """Weight shapes in the order A, B, A, B, C: the grouped path must put the rows back in layer order."""

    def __init__(self):
        super().__init__()
        self.layers = torch.nn.ModuleList(
            [
                torch.nn.Linear(8, 8),
                torch.nn.Linear(8, 5),
                torch.nn.Linear(5, 8),
                torch.nn.Linear(8, 5),
                torch.nn.Linear(5, 3),
            ]
        )
        self.act = torch.nn.ReLU()

    def forward(self, x):
        for layer in self.layers[:-1]:
            x = self.act(layer(x))
        return self.layers[-1](x)

    def param_layers(self):
        return [(f"layers.{i}", m.weight) for i, m in enumerate(self.layers)]

    def activation_layers(self):
        return []


def drive(model, manager, poison_weight=None, steps=2):
    state = SimpleNamespace(step=0)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(16, 8), torch.randint(0, 3, (16,))
    ref = {}
    for step in range(1, steps + 1):
        state.step = step
        if poison_weight is not None and step == steps:
            with torch.no_grad():
                model.param_layers()[poison_weight][1][0, 0] = float("inf")
        manager.before_step(state)
        loss = torch.nn.functional.cross_entropy(model(x), y)
        manager.after_forward(state)
        opt.zero_grad()
        loss.backward()
        grads = [p.grad for _, p in model.param_layers()]
        ref = {"grad_norm": [g.norm().item() for g in grads], "grad_max_abs": [g.abs().max().item() for g in grads]}
        manager.after_backward(state)
        opt.step()
        manager.after_step(state)
    return ref


def test_grouped_gradient_stats_keep_layer_order():
    torch.manual_seed(0)
    model = Interleaved()
    manager = ProbeManager(model, fixed={n: 1 for n in names.PROBES.names()})
    ref = drive(model, manager, steps=1)
    got = manager.drain()
    for stat in ("grad_norm", "grad_max_abs"):
        np.testing.assert_allclose(got[stat][1][-1], ref[stat], rtol=1e-5, err_msg=stat)


def test_nonfinite_reads_weight_norms_only_when_known():
    from engine.training.probes.nonfinite import NonFinite

    def flags(ctx):  # what the probe keeps per step, flagged on the host at the flush
        probe = NonFinite()
        return probe.on_host(probe.compute(ctx).numpy()[None])[0].tolist()

    grads = torch.tensor([1.0, 2.0, float("nan")])
    known = SimpleNamespace(grad_norms=grads, known_weight_norms=lambda: torch.tensor([float("inf"), 1.0, 1.0]))
    assert flags(known) == [1.0, 0.0, 1.0]
    unknown = SimpleNamespace(grad_norms=grads, known_weight_norms=lambda: None)
    assert flags(unknown) == [0.0, 0.0, 1.0]


def test_weight_norms_carry_to_the_next_step_only():
    torch.manual_seed(0)
    model = Interleaved()
    fixed = {n: 10**6 for n in names.PROBES.names()} | {"weight_norm": 1}
    manager = ProbeManager(model, fixed=fixed)
    drive(model, manager, steps=1)
    ctx = manager.ctx
    after = [p.norm().item() for _, p in model.param_layers()]
    ctx.new_step(2)
    np.testing.assert_allclose(ctx.known_weight_norms().tolist(), after, rtol=1e-6)
    ctx.new_step(3)
    assert ctx.known_weight_norms() is None


def test_activation_stats_match_per_layer_reference_on_a_cnn():
    from engine.config.recipe import ModelSpec
    from engine.datasets.base import Dataset
    from engine.models import build_model
    from engine.training.probes.dead_fraction import dead_units

    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 1, 8, 8)).astype("float32")
    y = rng.integers(0, 3, size=16).astype("int64")
    data = Dataset(x, y, x, y, task="classification", kind="image", input_shape=(1, 8, 8), n_classes=3)
    torch.manual_seed(0)
    model = build_model(ModelSpec(arch="cnn", depth=3, width=4), data)  # conv.0 is 8x8, the others 4x4 (pooled)
    manager = ProbeManager(model, fixed={n: 1 for n in names.PROBES.names()})
    seen = {}
    hooks = [
        m.register_forward_hook(lambda mod, i, o, k=k: seen.__setitem__(k, o.detach().clone()))
        for k, (_, m, _) in enumerate(model.activation_layers())
    ]
    state = SimpleNamespace(step=1)
    manager.before_step(state)
    loss = torch.nn.functional.cross_entropy(model(torch.tensor(x)), torch.tensor(y))
    manager.after_forward(state)
    for h in hooks:
        h.remove()
    got = manager.drain()
    acts = [seen[k] for k in range(len(seen))]
    np.testing.assert_allclose(got["act_mean"][1][0], [a.mean().item() for a in acts], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(got["act_std"][1][0], [a.std(unbiased=False).item() for a in acts], rtol=1e-5)
    np.testing.assert_allclose(got["dead_fraction"][1][0], [dead_units(a).item() for a in acts], rtol=1e-6)
    assert np.isnan(got["saturated_fraction"][1][0]).all()  # relu: no bounds
    del loss


def test_packed_rows_give_each_tensor_its_own_norm_and_max_in_the_given_order():
    from engine.training.probing.packed import PackedRows

    torch.manual_seed(0)
    # Sizes that need three buckets, given out of size order, so results must be put back in order.
    tensors = [torch.randn(3, 4), torch.randn(40, 25), torch.randn(12), torch.randn(30, 33), torch.randn(1000)]
    packer = PackedRows(tensors)
    assert len(packer.buckets) > 1
    rows = packer.fill(tensors)
    norms = packer.in_layer_order([torch.linalg.vector_norm(m, dim=1) for m in rows])
    maxes = packer.in_layer_order([m.abs().amax(dim=1) for m in rows])  # zero padding never wins a max |x|
    torch.testing.assert_close(norms, torch.stack([t.norm() for t in tensors]))
    torch.testing.assert_close(maxes, torch.stack([t.abs().max() for t in tensors]))
    for view, t in zip(packer.views, tensors):  # each tensor's slot, shaped like it
        assert torch.equal(view, t)
    tensors[1].mul_(2)  # a second fill overwrites the first
    packer.fill(tensors)
    torch.testing.assert_close(packer.row_norms()[1], tensors[1].norm())
