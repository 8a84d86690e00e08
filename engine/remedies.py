"""Remedy registry: a name -> the recipe overrides it applies, and why.

The trainer knows nothing of remedies; a remedy is only a set of dotted
overrides. Some depend on the run (a lower learning rate is the current one
divided by ten), so each entry is a function of the resolved recipe. A
remedy the run already uses (applying it would change nothing) is never
suggested.
"""
from __future__ import annotations

from typing import Any, Callable

from engine.findings import Remedy

_REMEDIES: dict[str, tuple[Callable[[dict], dict[str, Any]], str]] = {}


def remedy(name: str, why: str):
    def add(fn: Callable[[dict], dict[str, Any]]):
        _REMEDIES[name] = (fn, why)
        return fn

    return add


def names() -> list[str]:
    return sorted(_REMEDIES)


def _get(recipe: dict, dotted: str) -> Any:
    node: Any = recipe
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def build(name: str, recipe: dict) -> Remedy | None:
    """The remedy ``name`` for this recipe, or None when the run already uses it."""
    fn, why = _REMEDIES[name]
    overrides = fn(recipe)
    if not overrides or all(_get(recipe, k) == v for k, v in overrides.items()):
        return None
    return Remedy(name, overrides, why)


def ranked(names_in_order: list[str], recipe: dict) -> list[Remedy]:
    """The applicable remedies, in the rule's order of preference."""
    return [r for r in (build(n, recipe) for n in names_in_order) if r is not None]


def _is_image(recipe: dict) -> bool:
    return _get(recipe, "data.name") == "digits"


def _lr(recipe: dict) -> float:
    return float(_get(recipe, "train.lr") or 0.001)


@remedy("he_relu", "ReLU passes gradients at full strength and He init keeps their scale through depth")
def _he_relu(r):
    return {"model.init": "he_normal", "model.activation": "relu"}


@remedy("residual", "skip connections give the gradient a short path to the early layers")
def _residual(r):
    return {"model.residual": True} if _get(r, "model.arch") in ("mlp", "cnn") else {}


@remedy("batch_norm", "normalising each layer's inputs keeps activations and gradients in a healthy range")
def _batch_norm(r):
    return {"model.norm": "batch"} if _get(r, "model.arch") in ("mlp", "cnn") else {}


@remedy("adam", "Adam scales each weight's step by its own gradient history, so tiny gradients still move weights")
def _adam(r):
    return {"train.optimizer": "adam", "train.lr": 0.001}


@remedy("clip_norm", "clipping caps the gradient's length, so one bad batch cannot throw the weights away")
def _clip(r):
    return {"train.clip_norm": 1.0}


@remedy("lower_lr", "a smaller step stops the optimizer from overshooting the minimum")
def _lower_lr(r):
    return {"train.lr": float(f"{_lr(r) / 10:.3g}")}


@remedy("leaky_relu", "leaky ReLU keeps a small slope for negative inputs, so a unit can come back to life")
def _leaky(r):
    return {"model.activation": "leaky_relu"}


@remedy("he_init", "He init sizes the weights for ReLU-family units, so fewer start out dead or exploding")
def _he_init(r):
    return {"model.init": "he_normal"}


@remedy("relu", "ReLU does not saturate for positive inputs, so its gradient stays 1")
def _relu(r):
    return {"model.activation": "relu"}


@remedy("xavier_init", "Xavier init keeps pre-activations small, away from the flat ends of sigmoid/tanh")
def _xavier(r):
    return {"model.init": "xavier_normal"}


@remedy("dropout", "dropout stops units from co-adapting to memorise the training set")
def _dropout(r):
    return {"model.dropout": 0.3} if (_get(r, "model.dropout") or 0) < 0.3 else {}


@remedy("weight_decay", "weight decay (L2) pulls weights toward zero, favouring simpler functions")
def _wd(r):
    return {"train.weight_decay": 0.001} if (_get(r, "train.weight_decay") or 0) < 0.001 else {}


@remedy("augmentation", "augmented images show the model new variations instead of the same few examples")
def _augment(r):
    return {"data.augment": ["affine", "noise"]} if _is_image(r) and not _get(r, "data.augment") else {}


@remedy("early_stopping", "stop when validation loss stops improving, and keep the best weights")
def _early(r):
    return {"train.early_stopping": {"patience": 5, "min_delta": 0.0}} if not _get(r, "train.early_stopping") else {}


@remedy("more_data", "train on all the data instead of a small subset")
def _more_data(r):
    return {"data.train_limit": None} if _get(r, "data.train_limit") else {}


@remedy("schedule", "a decaying learning rate takes big steps early and careful ones late")
def _schedule(r):
    return {"train.schedule": "cosine"} if _get(r, "train.schedule") == "constant" else {}


@remedy("higher_lr", "the steps are too small to make progress in the time given")
def _higher_lr(r):
    return {"train.lr": float(f"{min(_lr(r) * 10, 1.0):.3g}")}


@remedy("wider", "a wider model has the capacity to fit the data")
def _wider(r):
    return {"model.width": int(_get(r, "model.width") or 64) * 2}


@remedy("longer", "the run ended before the model converged")
def _longer(r):
    return {"train.steps": int(_get(r, "train.steps") or 1000) * 2}
