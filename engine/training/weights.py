"""A stored run's trained weights, loaded back into its recipe's model (nothing unpickled).

Training saves ``final.safetensors`` at the end of a run and ``best.safetensors`` at its best
validation loss (:mod:`engine.training.checkpoint`). Whatever reads a run's model again
(``gradclinic explain``, compression, transfer) loads it here, so the checks live in one place.
"""

from __future__ import annotations

from engine.config.errors import RecipeError
from engine.config.recipe import Recipe
from engine.control.sources import FILES
from engine.training import session


def load_weights(store, run_id: str, checkpoint: str) -> session.Prepared:
    """The run's data and model with the weights of ``checkpoint`` ("last" or "best") loaded."""
    from safetensors.torch import load_file

    run = store.get_run(run_id)
    recipe = Recipe.from_dict(run["recipe"])
    path = store.runs_dir(run_id) / FILES[checkpoint]
    if not path.is_file():
        when = "the end of training" if checkpoint == "last" else "a best validation loss"
        raise RecipeError(
            f"--checkpoint {checkpoint}: run {run_id} has no weights from {when} ({path.name} is missing)"
        )
    # The run's own weights replace whatever it started from: no need for its source or teacher
    # (which may be gone since).
    model = recipe.model.model_copy(update={"init_from": None, "freeze": (), "init_lr_scale": 1.0})
    prepared = session.prepare(recipe.model_copy(update={"model": model, "distill": None}))
    state = load_file(str(path), device=str(prepared.device))
    missing, unexpected = prepared.model.load_state_dict(state, strict=False)
    if [k for k in missing if not k.endswith("num_batches_tracked")] or unexpected:
        raise RecipeError(f"run {run_id}: {path.name} does not match its recipe's model")
    prepared.model.eval()
    return prepared
