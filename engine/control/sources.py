"""Weights a recipe starts from or learns from: ``model.init_from`` and ``distill.teacher``.

Torch-free, so a launch refuses a missing source before the run has a row (the dashboard's
Launch shows the message inline), and the training side finds the file through the same rules.
A run is named by its id or its name; a file by a path ending in ``.safetensors``.
"""

from __future__ import annotations

from pathlib import Path

from engine.config.errors import RecipeError, StoreError

MAX_FILE_BYTES = 2 * 1024**3  # a safetensors file larger than this is not a model the clinic trains
FILES = {"last": "final.safetensors", "best": "best.safetensors"}


def saved_weights(home: str | Path, run_id: str, checkpoint: str = "last") -> Path:
    """Where run ``run_id`` keeps its ``checkpoint`` weights (the file may not exist); creates nothing."""
    return Path(home) / "runs" / run_id / FILES[checkpoint]


def run_weights(store, ref: str, key: str, checkpoint: str = "last") -> Path:
    """The saved weights of the run ``ref`` names, or one message naming ``key``."""
    if store is None:
        raise RecipeError(f"{key}: run {ref} needs its run store, and none was given here")
    try:
        run_id = store.resolve(ref)
    except StoreError as exc:
        raise RecipeError(f"{key}: {exc}; train that run first") from None
    path = store.runs_dir(run_id) / FILES[checkpoint]
    if not path.is_file():
        when = "yet (it has not finished)" if checkpoint == "last" else "from a best validation loss"
        raise RecipeError(f"{key}: run {run_id} has no saved weights {when}")
    return path


def init_from_path(init_from: str, store) -> Path:
    """The weights file ``model.init_from`` names: a run's final weights, or a given file."""
    if not init_from.endswith(".safetensors"):
        return run_weights(store, init_from, "model.init_from")
    path = Path(init_from).expanduser()
    if not path.is_file():
        raise RecipeError(f"model.init_from: no file {init_from}")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise RecipeError(f"model.init_from: {path.name} is over {MAX_FILE_BYTES // 1024**3} GiB")
    return path


def check(store, recipe) -> None:
    """Refuse a recipe whose source weights or teacher cannot be found, naming the key."""
    if recipe.model.init_from is not None:
        init_from_path(recipe.model.init_from, store)
    if recipe.distill is not None:
        run_weights(store, recipe.distill.teacher, "distill.teacher", recipe.distill.checkpoint)
