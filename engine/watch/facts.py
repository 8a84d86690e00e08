"""What a recipe would have said about a watched run, inferred from the modules, the weights and the optimizer.

A recipe run's rules and remedies read its recipe: ``model.activation``, ``model.init``,
``model.norm``, ``train.optimizer``... A watched run has no recipe, so :func:`recipe_facts`
infers what it can and says ``None`` for what it cannot (the rules and the code remedies then
say that they do not know):

* the **activation**: the one activation module class every activation layer uses (``nn.Sigmoid``:
  the registry's ``sigmoid``, family ``saturating``), or None when the layers mix kinds or use
  none a hook can see (``torch.sigmoid`` called in ``forward``);
* the **init**, read from the weights before the first step: a layer of fan-in n initialised by
  PyTorch's default (``kaiming_uniform_(a=sqrt(5))``) has std 1/sqrt(3n); He (``kaiming_*_``) has
  sqrt(2/n); Xavier (``xavier_*_``) sqrt(2/(n + fan-out)) times its gain. Uniform and normal
  draws are told apart by their kurtosis (1.8 against 3). A layer within 12% of one of them is
  that init; the model's init is the one at least three quarters of its layers share, else None;
* **norms** (a BatchNorm or LayerNorm module), **dropout** (the largest ``p``), the **optimizer**
  (its class, and the registry name where one matches: ``SGD`` with momentum is ``momentum``),
  its learning rate and weight decay, and the batch size of the first training forward.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import torch
import torch.nn as nn

from engine.watch.adapter import WatchedModel, activation_name

#: A layer's std within this share of an init's is that init.
INIT_TOLERANCE = 0.12
#: The model's init is the one this share of its layers have (else "mixed": None).
INIT_MAJORITY = 0.75
_CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_RECURRENT = {nn.LSTM: "lstm", nn.GRU: "gru", nn.RNN: "rnn"}
_BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
_LAYER_NORMS = (nn.LayerNorm, nn.GroupNorm)


def _fans(w: torch.Tensor) -> tuple[int, int]:
    receptive = int(w[0][0].numel()) if w.ndim > 2 else 1
    return int(w.shape[1]) * receptive, int(w.shape[0]) * receptive


def _candidates(fan_in: int, fan_out: int) -> dict[str, float]:
    """{init name as model.init says it: the std it draws weights with}, for one layer's fans."""
    xavier = math.sqrt(2.0 / (fan_in + fan_out))
    return {
        "default": 1.0 / math.sqrt(3.0 * fan_in),
        "he": math.sqrt(2.0 / fan_in),
        "xavier": xavier,
        "xavier_tanh": 5.0 / 3.0 * xavier,
    }


def layer_init(w: torch.Tensor) -> str | None:
    """The init that drew ``w`` ("default", "he_normal", "xavier_uniform", ...), or None when none fits."""
    if w.ndim < 2 or w.numel() < 16:
        return None
    x = w.detach().flatten()
    if x.numel() > 1_000_000:  # a strided sample tells the std and the shape as well
        x = x[:: x.numel() // 1_000_000 + 1]
    x = x.float()
    std = float(x.std())
    if not math.isfinite(std) or std <= 0:
        return None
    fan_in, fan_out = _fans(w)
    best, gap = None, INIT_TOLERANCE
    for name, target in _candidates(fan_in, fan_out).items():
        off = abs(math.log(std / target))
        if off < gap:
            best, gap = name, off
    if best is None:
        return None
    if best == "default":
        return "default"
    kurtosis = float(((x - x.mean()) ** 4).mean() / std**4)
    shape = "uniform" if kurtosis < 2.4 else "normal"
    return f"he_{shape}" if best == "he" else f"xavier_{shape}"


def weight_inits(module: nn.Module) -> dict[int, str | None]:
    """{id(weight): :func:`layer_init` of it} for every weight of ``module``: read before the first step."""
    with torch.no_grad():
        return {id(p): layer_init(p) for p in module.parameters() if p.ndim >= 2}


def model_init(model: WatchedModel, inits: dict[int, str | None]) -> str | None:
    """The init most of the trained layers share (see the module docstring), or None."""
    found = [inits.get(id(p)) for _, p in model.param_layers()]
    if not found:
        return None
    name, n = Counter(found).most_common(1)[0]
    return name if name is not None and n >= INIT_MAJORITY * len(found) else None


def optimizer_name(optimizer: torch.optim.Optimizer) -> str | None:
    """``train.optimizer``'s name for this optimizer (sgd, momentum, nesterov, adam, adamw, rmsprop), or None."""
    group = optimizer.param_groups[0] if optimizer.param_groups else {}
    if type(optimizer) is torch.optim.SGD:
        if group.get("nesterov"):
            return "nesterov"
        return "momentum" if group.get("momentum") else "sgd"
    return {torch.optim.Adam: "adam", torch.optim.AdamW: "adamw", torch.optim.RMSprop: "rmsprop"}.get(type(optimizer))


def arch_kind(module: nn.Module) -> str:
    """The registered architecture a watched model is most like (for the remedies' ranking): mlp, cnn, lstm..."""
    kinds = {type(m) for m in module.modules()}
    for cls, name in _RECURRENT.items():
        if cls in kinds:
            return name
    if any(issubclass(k, nn.MultiheadAttention) or issubclass(k, nn.TransformerEncoderLayer) for k in kinds):
        return "transformer"
    if any(issubclass(k, _CONV) for k in kinds):
        return "cnn"
    return "mlp"


def describe(module: nn.Module) -> str:
    """One line: "Net: 21 Linear, 20 Sigmoid; 22.7k parameters"."""
    leaves = Counter(type(m).__name__ for m in module.modules() if not any(True for _ in m.children()))
    n = sum(p.numel() for p in module.parameters() if p.requires_grad)
    parts = ", ".join(f"{k} {name}" for name, k in leaves.most_common(6))
    more = ", ..." if len(leaves) > 6 else ""
    size = f"{n / 1e6:.1f}M" if n >= 1e6 else f"{n / 1e3:.1f}k" if n >= 1e3 else str(n)
    return f"{type(module).__name__}: {parts}{more}; {size} parameters"


def recipe_facts(
    module: nn.Module, optimizer: torch.optim.Optimizer, watched: WatchedModel, init: str | None
) -> dict[str, Any]:
    """The ``watch`` section of a watched run's stored recipe: what was inferred (None where unknown)."""
    acts = watched.activation_layers()
    classes = Counter(type(slot.module).__name__ for _, slot, _ in acts)
    only = next(iter(classes)) if len(classes) == 1 else None
    module_of_only = next((slot.module for _, slot, _ in acts), None) if only else None
    group = optimizer.param_groups[0] if optimizer.param_groups else {}
    dropout = [float(m.p) for m in module.modules() if isinstance(m, nn.modules.dropout._DropoutNd)]
    return {
        "model_class": f"{type(module).__module__}.{type(module).__qualname__}",
        "description": describe(module),
        "arch_kind": arch_kind(module),
        "param_layers": len(watched.param_layers()),
        "activation_layers": len(acts),
        "activation_modules": dict(classes),
        "activation": activation_name(module_of_only) if module_of_only is not None else None,
        "activation_module": only,
        "activation_family": acts[0][2] if only else None,
        "init": init,
        "norm": "batch"
        if any(isinstance(m, _BATCH_NORMS) for m in module.modules())
        else "layer"
        if any(isinstance(m, _LAYER_NORMS) for m in module.modules())
        else "none",
        "dropout": max(dropout, default=0.0),
        "conv": any(isinstance(m, _CONV) for m in module.modules()),
        "optimizer_class": type(optimizer).__name__,
        "optimizer": optimizer_name(optimizer),
        "lr": float(group.get("lr", math.nan)) if isinstance(group.get("lr"), (int, float)) else None,
        "weight_decay": float(group.get("weight_decay") or 0.0),
    }
