"""Transfer learning: start a model from an earlier run's weights (``model.init_from``).

Pre-trained weights cannot be downloaded here, so the source is one of the store's own runs
(its ``final.safetensors``) or a ``.safetensors`` file a user gives; either is read with
``safetensors`` (nothing unpickled). Weights load by name and shape. The head (the model's last
weight layer) starts afresh when its shape differs, which is what a new task with another
number of outputs needs; any other difference is refused, naming the layers, before training.

``model.freeze`` keeps the named layers (names or dotted prefixes) as loaded: they leave the
optimizer and the gradient probes, whose zero gradients would otherwise read as vanishing.
``model.init_lr_scale`` lets the loaded layers learn more gently than a fresh head
(:func:`param_groups`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from engine.config.errors import RecipeError
from engine.control import sources

NAMED = 6  # mismatched layers named in the message; the rest are counted


def _read(path: Path, label: str) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise RecipeError(f"model.init_from: {label} is not a readable safetensors file ({exc})") from None


def _shape(t: torch.Tensor) -> str:
    return "(" + ", ".join(str(d) for d in t.shape) + ")"


def load_into(model: nn.Module, spec, store) -> dict[str, Any]:
    """Load ``spec.init_from`` into ``model``, freeze ``spec.freeze``; what was done, for the run's record."""
    path = sources.init_from_path(spec.init_from, store)
    label = spec.init_from if not spec.init_from.endswith(".safetensors") else path.name
    source = _read(path, label)
    own = model.state_dict()
    head = model.param_layers()[-1][0]  # type: ignore[operator]
    is_head = lambda key: key.startswith(head + ".")  # noqa: E731
    skip = lambda key: key.endswith("num_batches_tracked")  # noqa: E731
    problems, fresh, loaded = [], [], {}
    for key, mine in own.items():
        theirs = source.get(key)
        if skip(key):
            continue
        if is_head(key) and spec.fresh_head:
            fresh.append(key)
        elif theirs is not None and theirs.shape == mine.shape:
            loaded[key] = theirs.to(mine.dtype)
        elif is_head(key):
            fresh.append(key)  # a new task's head: its own fresh initialisation
        elif theirs is None:
            problems.append(f"{key} is missing there")
        else:
            problems.append(f"{key} is {_shape(theirs)} there and {_shape(mine)} here")
    extra = [k for k in source if k not in own and not skip(k) and not is_head(k)]
    problems += [f"{k} is there and not here" for k in extra]
    if problems:
        more = f"; and {len(problems) - NAMED} more" if len(problems) > NAMED else ""
        raise RecipeError(f"model.init_from: {label} does not fit this model: " + "; ".join(problems[:NAMED]) + more)
    model.load_state_dict(loaded, strict=False)
    frozen = _freeze(model, spec.freeze)
    names = {name for name, _ in model.named_parameters()}
    # Which parameters came from the source: param_groups gives them init_lr_scale.
    object.__setattr__(model, "transferred", {k for k in loaded if k in names})
    return {
        "source": spec.init_from,
        "loaded": sorted({k.rsplit(".", 1)[0] for k in loaded}),
        "fresh": sorted({k.rsplit(".", 1)[0] for k in fresh}),
        "frozen": frozen,
        "lr_scale": spec.init_lr_scale,
    }


def _freeze(model: nn.Module, prefixes: tuple[str, ...]) -> list[str]:
    """Turn off the gradients of every parameter under ``prefixes``; the layers frozen."""
    params = dict(model.named_parameters())
    layers = sorted({name.rsplit(".", 1)[0] for name in params})
    frozen: set[str] = set()
    for prefix in prefixes:
        hits = [n for n in params if n == prefix or n.startswith(prefix + ".")]
        if not hits:
            raise RecipeError(f"model.freeze: {prefix!r} names no layer of this model ({', '.join(layers[:12])})")
        for n in hits:
            params[n].requires_grad_(False)
            frozen.add(n.rsplit(".", 1)[0])
    if params and not any(p.requires_grad for p in params.values()):
        raise RecipeError("model.freeze: every layer is frozen, so there is nothing left to train")
    return sorted(frozen)


def param_groups(model: nn.Module, lr: float, lr_scale: float) -> Any:
    """What the optimizer trains: every parameter, or (after a transfer) the trainable ones, the
    loaded at ``lr * lr_scale`` and the fresh at ``lr``, the fresh first (the lr the run reports)."""
    transferred = getattr(model, "transferred", None)
    if transferred is None:
        return model.parameters()
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    fresh = [p for n, p in named if n not in transferred]
    loaded = [p for n, p in named if n in transferred]
    groups = [{"params": fresh, "lr": lr}] if fresh else []
    if loaded:
        groups.append({"params": loaded, "lr": lr * lr_scale})
    if not groups:
        raise RecipeError("model.freeze: every layer is frozen, so there is nothing left to train")
    return groups
