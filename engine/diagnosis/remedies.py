"""Remedy registry: a name -> the recipe overrides it applies, and why.

The trainer knows nothing of remedies; a remedy is only a set of dotted
overrides. Some depend on the run (a lower learning rate is the current one
divided by ten, a residual connection only where the architecture has one),
so each entry is a function of the resolved recipe. A remedy the run already
uses (applying it would change nothing), or that its architecture cannot
honour, is never suggested. Rules name their remedies; those names are
checked against :data:`REMEDIES` when a rule is defined. Which of them a
finding is offered, and in what order, is measured: :func:`ranked` reads the
fault-injection benchmark's table (engine.diagnosis.evidence) and the run's
own trials. A remedy computed from a measurement on the run's own recipe (``find_lr``: the
learning-rate range test) carries that measurement as its evidence until a benchmark or a trial
says more.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine.config.recipe import EarlyStopping
from engine.config.registry import Registry
from engine.diagnosis.findings import Remedy

REMEDIES = Registry("remedy")

Overrides = dict[str, Any]


@dataclass(frozen=True)
class RemedyEntry:
    """A registered remedy: ``overrides(recipe)`` (empty where it does not apply) and why it helps."""

    name: str
    overrides: Callable[[dict[str, Any]], Overrides]
    why: str
    #: What measured this remedy on the recipe itself (a range test), in words; None when nothing did.
    own_evidence: Callable[[dict[str, Any]], str | None] | None = None


def remedy(
    name: str, why: str, own_evidence: Callable[[dict[str, Any]], str | None] | None = None
) -> Callable[[Callable[[dict[str, Any]], Overrides]], Callable[[dict[str, Any]], Overrides]]:
    """Register the decorated ``fn(recipe dict) -> overrides`` as the remedy ``name``."""

    def add(fn: Callable[[dict[str, Any]], Overrides]) -> Callable[[dict[str, Any]], Overrides]:
        REMEDIES.register(name)(RemedyEntry(name, fn, why, own_evidence))
        return fn

    return add


def names() -> list[str]:
    """Every remedy's name, sorted."""
    return REMEDIES.names()


def _get(recipe: dict[str, Any], dotted: str) -> Any:
    node: Any = recipe
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def build(name: str, recipe: dict[str, Any]) -> Remedy | None:
    """The remedy ``name`` for this recipe, or None when the run already uses it (or it does not apply)."""
    entry: RemedyEntry = REMEDIES.get(name)
    overrides = entry.overrides(recipe)
    if not overrides or all(_get(recipe, k) == v for k, v in overrides.items()) or not _fits(recipe, overrides):
        return None
    return Remedy(name, overrides, entry.why)


def _fits(recipe: dict[str, Any], overrides: Overrides) -> bool:
    """Whether the remedied model is one its architecture honours (leaky ReLU is no option for nn.RNN)."""
    from pydantic import ValidationError

    from engine.config.recipe import ModelSpec

    model = dict(recipe.get("model") or {})
    model.update({k.removeprefix("model."): v for k, v in overrides.items() if k.startswith("model.")})
    try:
        spec = ModelSpec(**model)
    except ValidationError:
        return False
    return _caps({"model": model}).spec_error(spec) is None


def ranked(
    names_in_order: list[str],
    recipe: dict[str, Any],
    trials: dict[str, Any] | None = None,
    code: str | None = None,
    *,
    syndrome: str | None = None,
) -> list[Remedy]:
    """The applicable remedies for finding ``code``, ranked by what was measured, each with its evidence.

    First, remedies whose trial on this run (a ``trial_results`` ranking, engine.control.trials)
    removed the finding. Then those the fault-injection benchmark saw remove it in similar runs
    (engine.diagnosis.evidence: runs with the same ``syndrome`` of findings where it has them), most
    often first. Last, those the benchmark never tried here but a measurement on this recipe
    chose (the range test's rate). A remedy whose trial still showed the finding, that the benchmark
    tried here and never saw work, or that nothing has measured yet, is not offered. Ties keep the
    rule's order of preference. Without ``code``: every applicable remedy, unranked (what the benchmark tries).
    """
    from engine.diagnosis import evidence

    built = [r for r in (build(n, recipe) for n in names_in_order) if r is not None]
    if code is None:
        return built
    trials = trials or {}
    by_name = {t["remedy"]: t for t in trials.get("trials", [])}
    proven, suite, own = [], [], []
    for r in built:
        t = by_name.get(r.name)
        seen = evidence.measured(code, r.name, syndrome)
        if t is not None and code in t["fixed"]:
            r.evidence = f"removed it in a {trials.get('steps', '?')}-step trial on this run"
            proven.append(r)
        elif t is not None and code in t["still"]:
            continue
        elif seen is not None and seen.fixed:
            r.evidence = seen.words()
            suite.append((seen, r))
        elif seen is None and (words := _own_evidence(r.name, recipe)):
            r.evidence = words
            own.append(r)
    suite.sort(key=lambda pair: (-pair[0].rate, -pair[0].fixed))
    return proven + [r for _, r in suite] + own


def _own_evidence(name: str, recipe: dict[str, Any]) -> str | None:
    entry: RemedyEntry = REMEDIES.get(name)
    return entry.own_evidence(recipe) if entry.own_evidence is not None else None


def as_flags(overrides: dict[str, Any]) -> str:
    """The overrides as the CLI takes them: ``--set model.init="he_normal" --set model.residual=true``."""
    return " ".join(f"--set {k}={json.dumps(v)}" for k, v in overrides.items())


def _caps(recipe: dict[str, Any]) -> Any:
    from engine.models import capabilities

    return capabilities(str(_get(recipe, "model.arch") or "mlp"))


def _is_image(recipe: dict[str, Any]) -> bool:
    from engine import datasets

    return datasets.kind(str(_get(recipe, "data.name") or "digits")) == "image"


def _lr(recipe: dict[str, Any]) -> float:
    return float(_get(recipe, "train.lr") or 0.001)


@remedy("he_relu", "ReLU passes gradients at full strength and He init keeps their scale through depth")
def _he_relu(r: dict[str, Any]) -> Overrides:
    return {"model.init": "he_normal", "model.activation": "relu"}


@remedy("residual", "skip connections give the gradient a short path to the early layers")
def _residual(r: dict[str, Any]) -> Overrides:
    return {"model.residual": True} if _caps(r).residual else {}


@remedy("batch_norm", "normalising each layer's inputs keeps activations and gradients in a healthy range")
def _batch_norm(r: dict[str, Any]) -> Overrides:
    return {"model.norm": "batch"} if "batch" in _caps(r).norms else {}


@remedy("adam", "Adam scales each weight's step by its own gradient history, so tiny gradients still move weights")
def _adam(r: dict[str, Any]) -> Overrides:
    return {"train.optimizer": "adam", "train.lr": 0.001}


@remedy("clip_norm", "clipping caps the gradient's length, so one bad batch cannot throw the weights away")
def _clip(r: dict[str, Any]) -> Overrides:
    return {"train.clip_norm": 1.0}


@remedy("lower_lr", "a smaller step stops the optimizer from overshooting the minimum")
def _lower_lr(r: dict[str, Any]) -> Overrides:
    return {"train.lr": float(f"{_lr(r) / 10:.3g}")}


@remedy("leaky_relu", "leaky ReLU keeps a small slope for negative inputs, so a unit can come back to life")
def _leaky(r: dict[str, Any]) -> Overrides:
    return {"model.activation": "leaky_relu"}


@remedy("he_init", "He init sizes the weights for ReLU-family units, so fewer start out dead or exploding")
def _he_init(r: dict[str, Any]) -> Overrides:
    return {"model.init": "he_normal"}


@remedy("relu", "ReLU does not saturate for positive inputs, so its gradient stays 1")
def _relu(r: dict[str, Any]) -> Overrides:
    return {"model.activation": "relu"}


@remedy("xavier_init", "Xavier init keeps pre-activations small, away from the flat ends of sigmoid/tanh")
def _xavier(r: dict[str, Any]) -> Overrides:
    return {"model.init": "xavier_normal"}


@remedy("dropout", "dropout stops units from co-adapting to memorise the training set")
def _dropout(r: dict[str, Any]) -> Overrides:
    return {"model.dropout": 0.3} if (_get(r, "model.dropout") or 0) < 0.3 else {}


@remedy("weight_decay", "weight decay (L2) pulls weights toward zero, favouring simpler functions")
def _wd(r: dict[str, Any]) -> Overrides:
    return {"train.weight_decay": 0.001} if (_get(r, "train.weight_decay") or 0) < 0.001 else {}


@remedy("augmentation", "augmented images show the model new variations instead of the same few examples")
def _augment(r: dict[str, Any]) -> Overrides:
    return {"data.augment": ["affine", "noise"]} if _is_image(r) and not _get(r, "data.augment") else {}


@remedy("early_stopping", "stop when validation loss stops improving, and keep the best weights")
def _early(r: dict[str, Any]) -> Overrides:
    return {"train.early_stopping": EarlyStopping().model_dump()} if not _get(r, "train.early_stopping") else {}


@remedy("more_data", "train on all the data instead of a small subset")
def _more_data(r: dict[str, Any]) -> Overrides:
    return {"data.train_limit": None} if _get(r, "data.train_limit") else {}


@remedy("schedule", "a decaying learning rate takes big steps early and careful ones late")
def _schedule(r: dict[str, Any]) -> Overrides:
    return {"train.schedule": "cosine"} if _get(r, "train.schedule") == "constant" else {}


@remedy("higher_lr", "the steps are too small to make progress in the time given")
def _higher_lr(r: dict[str, Any]) -> Overrides:
    return {"train.lr": float(f"{min(_lr(r) * 10, 1.0):.3g}")}


@remedy("wider", "a wider model has the capacity to fit the data")
def _wider(r: dict[str, Any]) -> Overrides:
    # Four times as wide, and at least 32 units: doubling a 1-unit bottleneck still cannot fit (the benchmark
    # measured 1 fix in 33 tries at twice the width).
    return {"model.width": min(4096, max(32, int(_get(r, "model.width") or 64) * 4))}


@remedy("longer", "the run ended before the model converged")
def _longer(r: dict[str, Any]) -> Overrides:
    return {"train.steps": int(_get(r, "train.steps") or 1000) * 2}


def _loader(r: dict[str, Any]) -> dict[str, Any]:
    return _get(r, "data.loader") or {}


@remedy("more_workers", "worker processes prepare the next batches while the model trains on this one")
def _more_workers(r: dict[str, Any]) -> Overrides:
    loader = _loader(r)
    if loader.get("kind") != "dataloader":
        return {}
    workers = max(2, 2 * int(loader.get("num_workers") or 0))
    return {"data.loader.num_workers": min(workers, 32), "data.loader.persistent_workers": True}


@remedy("device_augment", "tensors in memory and augmentation on the whole batch at once skip the per-sample work")
def _device_augment(r: dict[str, Any]) -> Overrides:
    loader = _loader(r)
    if loader.get("kind") != "dataloader":
        return {}
    moved = [a for a in loader.get("cpu_augment") or [] if a not in (_get(r, "data.augment") or [])]
    # The whole section, so no worker setting is left behind for tensors in memory.
    return {"data.augment": [*(_get(r, "data.augment") or []), *moved], "data.loader": {"kind": "in_memory"}}


@remedy("pin_memory", "page-locked batches copy to the GPU without a wait, beside the computation")
def _pin_memory(r: dict[str, Any]) -> Overrides:
    loader = _loader(r)
    return {"data.loader.pin_memory": True} if loader.get("kind") == "dataloader" else {}


@remedy("bigger_batch", "a bigger batch spreads each step's fixed costs (a Python call, a copy) over more samples")
def _bigger_batch(r: dict[str, Any]) -> Overrides:
    return {"train.batch_size": min(8192, int(_get(r, "train.batch_size") or 64) * 4)}


def _range_test(r: dict[str, Any]) -> Any:
    """The cached learning-rate range test of this recipe in the run store ($GRADCLINIC_HOME), or None."""
    from engine.store import default_home
    from engine.tuning import lr_find

    return lr_find.load(default_home(), r)


def _range_test_words(r: dict[str, Any]) -> str | None:
    found = _range_test(r)
    if found is None or found.suggestion is None or not found.band:
        return None
    seeds = ", ".join(map(str, found.seeds))
    return (
        f"the lr range test on this recipe suggests {found.suggestion:g} "
        f"(band {found.band[0]:g} to {found.band[1]:g} over seeds {seeds})"
    )


@remedy(
    "find_lr",
    "the learning-rate range test ramped the rate on this very recipe and found where its loss falls fastest",
    own_evidence=_range_test_words,
)
def _find_lr(r: dict[str, Any]) -> Overrides:
    # Empty (not offered) until `gradclinic lr-find` or the Launch page's button has measured this recipe.
    found = _range_test(r)
    return {"train.lr": found.suggestion} if found is not None and found.suggestion is not None else {}
