"""Launch's "Start from an earlier run": which runs can be started from, and what that sets.

Transfer learning is four recipe keys (``model.init_from``, ``model.freeze``,
``model.init_lr_scale``, ``model.fresh_head``); this module only chooses them for the page. Torch-free:
a run's layer names come from its safetensors header, read with ``safetensors`` and numpy.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from app.logic import toggles
from app.logic.explain import run_label
from engine.config.recipe import Recipe
from engine.control import sources

KEYS = ("model.init_from", "model.freeze", "model.init_lr_scale", "model.fresh_head")
#: What must match for a run's hidden layers to fit this setup's by shape. The head may differ (it
#: starts afresh), and so may the data's params: half a and half b of the digits are one input shape.
SHAPE_KEYS = ("model.arch", "model.width", "model.depth", "data.name")
MAX_GROUPS = 60  # layer choices offered; a model with more is frozen by prefix in the Advanced box


def final_weights(home: str | Path, run_id: str) -> Path:
    """Where run ``run_id`` keeps the weights ``model.init_from`` loads (its last ones)."""
    return sources.saved_weights(home, run_id)


def startable(home: str | Path, runs: pd.DataFrame) -> dict[str, str]:
    """{run id: label} of the finished runs with final weights, newest first (as ``runs`` is ordered)."""
    out: dict[str, str] = {}
    for run in runs.to_dict("records"):
        if run["status"] == "completed" and final_weights(home, run["id"]).is_file():
            out[run["id"]] = run_label(run)
    return out


def layer_groups(path: str | Path) -> list[str]:
    """The layer names ``model.freeze`` takes: ``layers``, ``layers.0``, ``layers.1``, ``head``.

    Read from the file's header (its tensors' names), so nothing is loaded. A block and its
    numbered children are offered (``conv``, ``conv.0``); parts inside a block (``conv.0.norm``)
    are not, since freezing half a block is rarely meant. The head comes last, as in the model.
    """
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as fh:
        names = list(fh.keys())
    groups: set[str] = set()
    for name in names:
        parts = name.split(".")[:-1]  # "layers.0.layer.weight" -> layers, layers.0
        groups.update(".".join(parts[:i]) for i in range(1, min(len(parts), 2) + 1))
    return sorted(groups, key=_model_order)[:MAX_GROUPS]


def _model_order(group: str) -> tuple:
    top, _, rest = group.partition(".")
    return (top == "head", top, int(rest) if rest.isdigit() else -1, rest)


def fit_warning(source_recipe: Mapping[str, Any], recipe: Recipe) -> str | None:
    """Why the source's layers may not fit this setup's, or None when the shapes should match."""
    mine = recipe.to_dict()
    differ = []
    for key in SHAPE_KEYS:
        theirs, ours = _get(source_recipe, key), _get(mine, key)
        if theirs != ours:
            differ.append(f"`{key}` {toggles.format_choice(theirs)} there, {toggles.format_choice(ours)} here")
    if not differ:
        return None
    return (
        "The source differs: "
        + "; ".join(differ)
        + ". Layers load by name and shape, and a layer that does not fit is refused by name when the run starts."
    )


def use_sets(sets: Mapping[str, Any], run_id: str, freeze: list[str], lr_scale: float, fresh_head: bool) -> list[str]:
    """The page's overrides with the transfer keys set, as the URL's ``set=key=value`` items."""
    chosen: dict[str, Any] = {"model.init_from": run_id}
    if freeze:
        chosen["model.freeze"] = list(freeze)
    if lr_scale != 1.0:
        chosen["model.init_lr_scale"] = lr_scale
    if fresh_head:
        chosen["model.fresh_head"] = True
    kept = {k: v for k, v in sets.items() if k not in KEYS}
    return [toggles.encode(k, v) for k, v in {**kept, **chosen}.items()]


def scratch_sets(sets: Mapping[str, Any]) -> list[str]:
    """The page's overrides without any transfer key: the setup trains from scratch again."""
    return [toggles.encode(k, v) for k, v in sets.items() if k not in KEYS]


def _get(tree: Mapping[str, Any], dotted: str) -> Any:
    node: Any = tree
    for part in dotted.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node
