"""The Launch page's logic: URL state, the recipe gallery's order, resolving toggles, CSV uploads.

Plain functions over plain values (no Streamlit), so they are tested without a
browser; :mod:`app.widgets.launch` draws the widgets that use them.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

from app.logic import toggles
from engine import datasets
from engine.config.errors import RecipeError
from engine.config.recipe import Recipe, list_recipe_names, load_recipe

DEFAULT_RECIPE = "vanishing-sigmoid"
CUSTOM = "custom"  # the built-in defaults, which an uploaded CSV starts from
MAX_UPLOAD_MB = 20
MAX_SEEDS = 10  # runs per variant from the Compare button (each is a full run)
ADVANCED_HINT = (
    "seed",
    "train.steps",
    "train.eval_every",
    "train.optimizer",
    "train.clip_value",
    "data.val_fraction",
    "data.train_limit",
    "data.params.<name>",
    "model.init_std",
    "probes.intervals.<probe>",
    "train.device",
)
_SAFE = re.compile(r"[^A-Za-z0-9_-]+")  # no dots or slashes: the stem can never climb out
# The order a course would take the lessons in; lessons not listed follow, by name.
CURRICULUM = (
    "vanishing-sigmoid",
    "exploding-residual",
    "exploding-rnn",
    "long-range-memory",
    "overfitting-small-data",
    "lr-schedules",
    "batch-norm",
    "optimizers",
    "batch-size-lr",
    "model-capacity",
    "mlp-vs-cnn",
    "rnn-vs-transformer",
    "autoencoder-anomaly",
    "gan-2d",
)


# --- URL state ------------------------------------------------------------------


def from_query(params: Mapping) -> tuple[str, list[str]]:
    """(recipe name, ``key=value`` overrides) from the URL's query parameters."""
    name = params.get("recipe") or DEFAULT_RECIPE
    sets = params.get_all("set") if hasattr(params, "get_all") else list(params.get("set") or [])
    return str(name), [str(s) for s in sets]


def base_recipe(name: str) -> tuple[Recipe | None, str | None]:
    """The recipe before any toggle, or (None, message)."""
    try:
        return (load_recipe(None) if name == CUSTOM else load_recipe(name)), None
    except RecipeError as exc:
        return None, str(exc)


def resolve(base: Recipe, toggle_sets: dict[str, Any], advanced_text: str) -> tuple[Recipe | None, str | None]:
    """Apply toggles then the Advanced lines; (recipe, None) or (None, the engine's message)."""
    try:
        return base.with_overrides({**toggle_sets, **advanced_sets(advanced_text, strict=True)}), None
    except RecipeError as exc:
        return None, str(exc)


def advanced_sets(text: str, strict: bool = False) -> dict[str, Any]:
    """The Advanced box's ``key=value`` lines; malformed lines raise only when ``strict``."""
    try:
        return toggles.decode((text or "").splitlines())
    except RecipeError:
        if strict:
            raise
        return {}


def baseline_of(base: Recipe, advanced_text: str) -> Recipe:
    """A comparison's baseline: the recipe plus the Advanced settings, without the toggles."""
    return base.with_overrides(advanced_sets(advanced_text, strict=True))


def variant_options(base: Recipe, toggle_sets: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """What Compare can run against the baseline: each changed toggle alone, then the recipe's remedies."""
    options = {f"{k}={toggles.format_choice(v)}": {k: v} for k, v in toggle_sets.items()}
    for v in base.compare:
        options.setdefault(v.label, dict(v.set))
    return options


def describe_changes(sets: dict[str, Any]) -> str:
    return ", ".join(f"`{k}={toggles.format_choice(v)}`" for k, v in sets.items())


def run_name(base: Recipe, sets: dict[str, Any]) -> str:
    """A run's display name: the recipe, or the recipe plus what the user changed."""
    if not sets:
        return base.name
    return f"{base.name}: " + ", ".join(f"{k.split('.')[-1]}={toggles.format_choice(v)}" for k, v in sets.items())[:70]


def save_upload(home, filename: str, data: bytes):
    """Store an upload under ``home/uploads`` with a content-hash name (never the user's path)."""
    folder = home / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    stem = _SAFE.sub("_", filename.rsplit(".", 1)[0])[:40] or "data"
    path = folder / f"{hashlib.sha256(data).hexdigest()[:10]}-{stem}.csv"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    return path


def check_csv(sets: dict[str, Any]) -> str | None:
    """Load the CSV the way a run would (torch-free), so a bad file is refused before launch."""
    try:
        recipe = load_recipe(None, sets)
        datasets.prepare(recipe.data, recipe.seed)
    except RecipeError as exc:  # DataError is a RecipeError
        return f"This CSV cannot be used: {exc}"
    return None


def recipe_cards() -> dict[str, dict[str, Any]]:
    """{recipe name: title, summary, whether it is a lesson} for the gallery, in course order."""
    out = {}
    for n in list_recipe_names():
        try:
            r = load_recipe(n)
        except RecipeError:
            continue  # a broken recipe file must not take the gallery down; `gradclinic recipes` names it
        out[n] = {"title": r.title or n, "summary": r.summary, "lesson": r.is_lesson}
    return dict(sorted(out.items(), key=lambda kv: course_order(kv[0])))


def course_order(name: str) -> tuple[int, str]:
    """Sort key: lessons in :data:`CURRICULUM` order, then everything else by name."""
    return (CURRICULUM.index(name) if name in CURRICULUM else len(CURRICULUM), name)


def is_image_data(recipe: Recipe) -> bool:
    """Whether the recipe's dataset is images (augmentation applies only there)."""
    return datasets.kind(recipe.data.name) == "image"
