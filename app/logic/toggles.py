"""The Launch view's remedy toggles, as data: which recipe key each one sets.

Plain Python, so the mapping from widget values to recipe overrides is
unit-tested without a browser. Adding a toggle is one entry in :data:`TOGGLES`.
Every override is expressed in the recipe's dotted keys, the same language
as ``--set`` and a finding's remedies.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from engine.config import limits, names
from engine.config.errors import RecipeError
from engine.config.recipe import EarlyStopping, Recipe, parse_override

LR_VALUES = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0)
SIZES = (8, 16, 32, 64, 128, 256, 512, 1024)
EARLY_STOPPING = EarlyStopping().model_dump()  # what the Early stopping switch turns on


@dataclass(frozen=True)
class Toggle:
    """One widget. ``kind``: select | toggle | slider | choice (a slider over ``options``) | multiselect | early."""

    key: str
    label: str
    kind: str
    options: tuple = ()
    help: str = ""
    log: bool = False  # show a choice slider's values as powers of ten

    def choices(self, current: Any) -> list:
        """The options, with the recipe's own value added so a recipe never falls off the list."""
        opts = list(self.options)
        if self.kind in ("select", "choice") and current not in opts:
            opts.append(current)
            if all(isinstance(o, (int, float)) for o in opts if o is not None):
                opts = sorted(opts, key=lambda o: -1.0 if o is None else float(o))
        return opts


TOGGLES: tuple[Toggle, ...] = (
    Toggle(
        "model.init",
        "Weight init",
        "select",
        tuple(names.inits()),
        "He init suits ReLU; Xavier suits tanh and sigmoid.",
    ),
    Toggle("model.activation", "Activation", "select", tuple(names.activations())),
    Toggle(
        "model.residual", "Residual connections", "toggle", help="Skip connections carry the gradient past each block."
    ),
    Toggle("model.norm", "Normalisation", "select", ("none", "batch", "layer")),
    Toggle("model.dropout", "Dropout", "slider", (0.0, 0.8, 0.05)),
    Toggle("train.optimizer", "Optimizer", "select", tuple(names.optimizers())),
    Toggle("train.lr", "Learning rate", "choice", LR_VALUES, log=True),
    Toggle("train.schedule", "LR schedule", "select", tuple(names.schedules())),
    Toggle("train.clip_norm", "Clip gradient norm", "choice", (None, 0.1, 0.5, 1.0, 5.0)),
    Toggle("train.weight_decay", "Weight decay (L2)", "choice", (0.0, 1e-5, 1e-4, 1e-3, 1e-2, 0.1)),
    Toggle("train.l1", "L1 penalty", "choice", (0.0, 1e-6, 1e-5, 1e-4, 1e-3)),
    Toggle("data.augment", "Augmentation (images)", "multiselect", tuple(names.augmentations())),
    Toggle(
        "train.early_stopping",
        "Early stopping",
        "early",
        help=f"Stop when val loss stops improving (patience {EARLY_STOPPING['patience']}).",
    ),
    Toggle("train.batch_size", "Batch size", "choice", SIZES),
    Toggle("model.depth", "Depth (layers)", "slider", (1, 40, 1)),
    Toggle("model.width", "Width (units)", "choice", SIZES),
    Toggle(
        "probes.budget",
        "Probe budget (share of step time)",
        "choice",
        (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0),
        "Trade fidelity for speed: the probes' intervals are chosen to stay under this share.",
    ),
)
TOGGLE_KEYS = frozenset(t.key for t in TOGGLES)


def widget_value(toggle: Toggle, recipe: Recipe) -> Any:
    """What the widget shows for ``recipe`` (early stopping is a plain on/off)."""
    value = recipe.get(toggle.key)
    if toggle.kind == "early":
        return value is not None
    if toggle.kind == "multiselect":
        return list(value)
    return value


def recipe_value(toggle: Toggle, widget: Any) -> Any:
    """The recipe value a widget's state stands for."""
    if toggle.kind == "early":
        return dict(EARLY_STOPPING) if widget else None
    if toggle.kind == "multiselect":
        return list(widget)
    return widget


def overrides_from_widgets(base: Recipe, widgets: dict[str, Any]) -> dict[str, Any]:
    """The dotted overrides the toggles make against ``base``: only keys whose value changed."""
    out = {}
    for toggle in TOGGLES:
        if toggle.key not in widgets:
            continue
        value = recipe_value(toggle, widgets[toggle.key])
        current = base.get(toggle.key)
        if toggle.kind == "early" and (value is None) == (current is None):
            continue
        if value != current:
            out[toggle.key] = value
    return out


def format_choice(value: Any, toggle: Toggle | None = None) -> str:
    """How a choice is labelled, never as a Python repr.

    ``on``/``off`` for booleans and None (and a choice's 0), ``1e-3`` for small
    numbers, ``5%`` for a budget, ``hflip, affine`` for a list and
    ``patience 5, min_delta 0`` for a mapping such as early stopping's.
    """
    if isinstance(value, bool):  # before the numbers: True == 1
        return "on" if value else "off"
    if value is None or (toggle is not None and toggle.kind == "choice" and value == 0):
        return "off"
    if isinstance(value, (list, tuple)):
        return ", ".join(format_choice(v) for v in value) or "none"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_plain_number(v)}" for k, v in value.items()) or "none"
    if toggle is not None and toggle.key == "probes.budget":
        return f"{value:.0%}"
    if isinstance(value, float) and (abs(value) < 0.01 or (toggle is not None and toggle.log)):
        return f"{value:g}"
    return str(value)


def _plain_number(value: Any) -> str:
    # 0.0 reads as 0 inside a mapping ("min_delta 0"); everything else as format_choice labels it.
    if isinstance(value, float):
        return f"{value:g}"
    return format_choice(value)


# --- overrides as text: URL query parameters and the Advanced box ----------------


def encode(key: str, value: Any) -> str:
    """``key=value`` with the value in JSON, which is valid YAML, so parse_override reads it back."""
    return f"{key}={json.dumps(value)}"


def decode(items: list[str]) -> dict[str, Any]:
    """Parse ``key=value`` strings (YAML values); a malformed item raises RecipeError naming it."""
    if len(items) > limits.MAX_OVERRIDES:
        raise RecipeError(f"{len(items):,} overrides; at most {limits.MAX_OVERRIDES} may be given at once")
    out: dict[str, Any] = {}
    for item in items:
        item = item.strip()
        if item and not item.startswith("#"):
            key, value = parse_override(item)
            out[key] = value
    return out


def split_advanced(overrides: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(toggle overrides, everything else): the rest goes in the Advanced box."""
    toggles = {k: v for k, v in overrides.items() if k in TOGGLE_KEYS}
    return toggles, {k: v for k, v in overrides.items() if k not in TOGGLE_KEYS}
