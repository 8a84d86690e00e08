"""Any ``nn.Module`` as the probes' model: its trained layers and its activation layers, found from its modules.

:class:`~engine.training.probing.manager.ProbeManager` and
:class:`~engine.training.recorder.Recorder` read a model through the two methods of the
ClinicModel contract (``engine/models/base.py``): ``param_layers()`` and ``activation_layers()``.
A user's module has neither; :class:`WatchedModel` provides them from what :class:`Discovery`
saw of the model's first training forward:

* **Trained layers**: every parameter of two or more dimensions (a Linear's or a conv's weight, an
  LSTM's ``weight_ih_l0``) that the optimizer updates and that the first training forward used
  (its module ran, or it has a gradient), named as ClinicModel's default names them (``net.0``
  for ``net.0.weight``), in the order their modules first ran: input to output, whatever order
  the model registered them in. Biases and norm scales still train; they are not charted.
* **Activation layers**: each call of an activation module (``nn.ReLU``, ``nn.Sigmoid``, ... with
  the family of :mod:`engine.training.activations`: ``relu``, ``saturating`` or ``smooth``) in
  that forward, in call order. A module the forward calls several times (one ``self.act``
  applied after every layer, as tutorials write it) is one layer per call, named ``act#1``,
  ``act#2``, ...: each call is its own layer of the network.

The manager hooks an activation layer with ``register_forward_hook``, on the steps its schedule
picks. Here each layer is a :class:`CallSlot`: one forward hook on the real module hands the
k-th call of a training forward (training mode, gradients on) to the slot of call k, and
nothing else: an evaluation's forward (``model.eval()`` or ``torch.no_grad()``) between two
steps, or the later micro-batches of gradient accumulation, are not mixed into the step's
activations. A slot answers ``isinstance`` as its module (so the manager reads a sigmoid's
bounds as (0, 1)).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import torch
import torch.nn as nn

#: Activation modules outside engine.training.activations' registry, by family. A ReLU6 unit can die
#: like a ReLU; Hardtanh (at its default -1..1) and Softsign saturate at -1 and 1 as tanh does.
EXTRA_FAMILIES: dict[type[nn.Module], str] = {
    nn.ReLU6: "relu",
    nn.SiLU: "smooth",
    nn.Mish: "smooth",
    nn.Softplus: "smooth",
    nn.PReLU: "smooth",
    nn.RReLU: "smooth",
    nn.CELU: "smooth",
    nn.Hardswish: "smooth",
    nn.Hardsigmoid: "smooth",
    nn.Softsign: "saturating",
}


@functools.cache
def _registered_families() -> dict[type[nn.Module], tuple[str, str]]:
    """{module class: (registry name, family)} of every activation in engine.training.activations."""
    from engine.training import activations

    out = {}
    for name in activations.ACTIVATIONS.names():
        act = activations.get(name)
        out[type(act.factory())] = (name, act.family)
    return out


def activation_name(module: nn.Module) -> str | None:
    """The registry name of ``module``'s activation ("sigmoid", "relu", ...), or None when it has none."""
    found = _registered_families().get(type(module))
    return found[0] if found else None


def family_of(module: nn.Module) -> str | None:
    """``module``'s activation family ("relu", "saturating", "smooth"), or None when it is no activation module."""
    found = _registered_families().get(type(module))
    if found is not None:
        return found[1]
    if isinstance(module, nn.Hardtanh) and not isinstance(module, nn.ReLU6):
        return "saturating" if (module.min_val, module.max_val) == (-1.0, 1.0) else "smooth"
    return EXTRA_FAMILIES.get(type(module))


def _training_forward(module: nn.Module) -> bool:
    return module.training and torch.is_grad_enabled()


class Discovery:
    """What the model's first training forward shows: the order its modules run in, how often each
    activation module runs, and the batch size.

    Its hooks are on every module for that one forward only (:meth:`remove` takes them off), and
    only a forward in training mode with gradients on counts: an evaluation before the first
    step teaches nothing about training.
    """

    def __init__(self, model: nn.Module):
        self.model = model
        self.order: dict[int, int] = {}  # id(module) -> the index of its first call in the first training forward
        self.calls: list[nn.Module] = []  # the activation modules' calls in that forward, in order
        self.batch_size: int | None = None
        self.input_shape: tuple[int, ...] | None = None
        self.seen = False  # the first training forward of the model itself has finished
        self._inside = False
        self._activations = {id(m) for m in model.modules() if m is not model and family_of(m) is not None}
        self._handles = [model.register_forward_pre_hook(self._root_pre, with_kwargs=True)]
        self._handles += [m.register_forward_pre_hook(self._pre) for m in model.modules() if m is not model]
        self._handles.append(model.register_forward_hook(self._root_post))

    def _root_pre(self, module: nn.Module, args: tuple, kwargs: dict) -> None:
        if self.seen or self._inside or not _training_forward(module):
            return
        self._inside = True
        self.order.setdefault(id(module), 0)
        first = next((a for a in (*args, *kwargs.values()) if isinstance(a, torch.Tensor)), None)
        if first is not None and first.ndim >= 1:
            self.batch_size, self.input_shape = int(first.shape[0]), tuple(int(n) for n in first.shape[1:])

    def _pre(self, module: nn.Module, args: tuple) -> None:
        if not self._inside:
            return
        self.order.setdefault(id(module), len(self.order))
        if id(module) in self._activations:
            self.calls.append(module)

    def _root_post(self, module: nn.Module, args: tuple, output: Any) -> None:
        if self._inside:
            self._inside, self.seen = False, True

    def remove(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []


class _Calls:
    """One activation module's forward calls: the k-th call of a training forward goes to hook k."""

    def __init__(self, module: nn.Module, n: int):
        self.module = module
        self.hooks: list[Callable | None] = [None] * n
        self.seen = 0
        self._handle: Any = None

    def arm(self, index: int, fn: Callable) -> None:
        if self._handle is None:  # the first slot armed this step: count calls afresh
            self.seen = 0
            self._handle = self.module.register_forward_hook(self._fire)
        self.hooks[index] = fn

    def disarm(self, index: int) -> None:
        self.hooks[index] = None
        if self._handle is not None and all(h is None for h in self.hooks):
            self._handle.remove()
            self._handle = None

    def _fire(self, module: nn.Module, inputs: Any, output: Any) -> None:
        if not _training_forward(module):
            return
        i, self.seen = self.seen, self.seen + 1
        hook = self.hooks[i] if i < len(self.hooks) else None
        if hook is not None:
            hook(module, inputs, output)


class _SlotHandle:
    def __init__(self, calls: _Calls, index: int):
        self.calls, self.index = calls, index

    def remove(self) -> None:
        self.calls.disarm(self.index)


class CallSlot:
    """One call of an activation module, hooked as if it were a module of its own (see the module docstring)."""

    def __init__(self, calls: _Calls, index: int):
        self._calls, self._index = calls, index

    @property  # type: ignore[misc]  # isinstance(slot, nn.Sigmoid) answers for the module it stands for
    def __class__(self) -> type:
        return type(self._calls.module)

    @property
    def module(self) -> nn.Module:
        return self._calls.module

    def register_forward_hook(self, fn: Callable) -> _SlotHandle:
        self._calls.arm(self._index, fn)
        return _SlotHandle(self._calls, self._index)


class WatchedModel:
    """A user's module seen through the ClinicModel contract (``param_layers``, ``activation_layers``)."""

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, seen: Discovery):
        self.module = model
        self._params = _param_layers(model, optimizer, seen)
        self._acts = _activation_layers(model, seen)

    def param_layers(self) -> list[tuple[str, nn.Parameter]]:
        return list(self._params)

    def activation_layers(self) -> list[tuple[str, Any, str]]:
        return list(self._acts)


def _param_layers(
    model: nn.Module, optimizer: torch.optim.Optimizer, seen: Discovery
) -> list[tuple[str, nn.Parameter]]:
    updated = {id(p) for g in optimizer.param_groups for p in g["params"]}
    found: list[tuple[float, int, str, nn.Parameter]] = []
    taken: set[int] = set()
    key = -1.0  # a parameter whose module never ran (used by its parent's forward) sorts after the last one that ran
    for mpath, module in model.named_modules():
        ran = id(module) in seen.order
        if ran:
            key = float(seen.order[id(module)])
        for pname, p in module.named_parameters(recurse=False):
            if p.ndim < 2 or not p.requires_grad or id(p) not in updated or id(p) in taken:
                continue
            if seen.seen and not ran and p.grad is None:
                continue  # the training forward did not use it: not trained by this loop
            taken.add(id(p))
            name = pname if not mpath else mpath if pname == "weight" else f"{mpath}.{pname}"
            found.append((key + (0.0 if ran else 0.5), len(found), name, p))
    return [(name, p) for _, _, name, p in sorted(found, key=lambda t: (t[0], t[1]))]


def _activation_layers(model: nn.Module, seen: Discovery) -> list[tuple[str, CallSlot, str]]:
    paths = {id(m): path for path, m in model.named_modules()}
    if seen.seen:
        calls = seen.calls
    else:  # no training forward of the model itself was seen: each activation module once, as registered
        calls = [m for m in model.modules() if m is not model and family_of(m) is not None]
    counts: dict[int, int] = {}
    for m in calls:
        counts[id(m)] = counts.get(id(m), 0) + 1
    routers = {i: _Calls(m, counts[i]) for i, m in {id(m): m for m in calls}.items()}
    done: dict[int, int] = {}
    out = []
    for m in calls:
        k = done.get(id(m), 0)
        done[id(m)] = k + 1
        path = paths.get(id(m)) or type(m).__name__
        name = path if counts[id(m)] == 1 else f"{path}#{k + 1}"
        family = family_of(m)
        assert family is not None
        out.append((name, CallSlot(routers[id(m)], k), family))
    return out
