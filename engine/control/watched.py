"""A watched run (``gradclinic.watch``: the user's own training loop) as the store, the queue and the pages see it.

Torch-free. A watched run is a row like any other: ``running`` under the pid of the user's
process, then ``completed``, ``stopped``, ``diverged`` or ``failed``; ``crashed`` when that
process dies (the queue's reaper reads a dead pid, as for a worker). What differs:

* Its stored recipe is no :class:`~engine.config.recipe.Recipe`: its name is
  :data:`RECIPE_NAME`, and a ``watch`` section holds what was inferred from the module and the
  optimizer (:mod:`engine.watch.facts`). A strict recipe can never have a ``watch`` key, so that
  section is what marks a run as watched (:func:`is_watched`).
* Its process is the user's own (a script, a notebook's kernel). Nothing here may kill it: a
  stop is a request its next ``clinic.step`` honours, and a watched run whose process is alive
  is never treated as hung, however long it goes without a step (a debugger, a long evaluation).
* Nothing can relaunch it: no Apply, no trials, no resume. Its remedies are code changes
  (:mod:`engine.diagnosis.code_remedies`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: The recipe name every watched run is stored under (the Runs page's "Recipe" filter lists it).
RECIPE_NAME = "watch"


def is_watched(run_or_recipe: Mapping[str, Any] | None) -> bool:
    """Whether a run (a ``Store.get_run`` dict) or its stored recipe is a watched run's."""
    if not isinstance(run_or_recipe, Mapping):
        return False
    recipe = run_or_recipe.get("recipe")
    if not isinstance(recipe, Mapping):
        recipe = run_or_recipe
    return isinstance(recipe.get("watch"), Mapping)


def stored_recipe(
    facts: Mapping[str, Any],
    *,
    steps: int | None,
    batch_size: int | None,
    budget: float,
    script: str | None = None,
) -> dict[str, Any]:
    """The recipe row of a watched run: its facts in ``watch``, and the recipe keys they stand for.

    ``model``, ``train`` and ``probes`` hold the keys a recipe run's pages read (the batch size
    for the Live page's epochs axis, the optimizer and learning rate for Compare's table), with
    None where nothing could be inferred.
    """
    short = str(facts.get("model_class") or "model").rsplit(".", 1)[-1]
    return {
        "name": RECIPE_NAME,
        "title": f"{short} in your own loop",
        "seed": None,
        "watch": {**facts, "script": script},
        "model": {
            # No registered architecture (``model.arch`` None): the module's class and what it holds.
            "arch": None,
            "module": short,
            "description": facts.get("description"),
            "activation": facts.get("activation"),
            "init": facts.get("init"),
            "norm": facts.get("norm"),
            "dropout": facts.get("dropout"),
        },
        "train": {
            "optimizer": facts.get("optimizer") or facts.get("optimizer_class"),
            "lr": facts.get("lr"),
            "weight_decay": facts.get("weight_decay"),
            "batch_size": batch_size,
            "steps": steps,
        },
        "probes": {"budget": budget},
    }


def caption(run_or_recipe: Mapping[str, Any]) -> str:
    """One line for the Live page: what was watched, and what was inferred (or not) about it."""
    recipe = run_or_recipe.get("recipe") if isinstance(run_or_recipe.get("recipe"), Mapping) else run_or_recipe
    w: Mapping[str, Any] = recipe.get("watch") or {}  # type: ignore[union-attr]
    where = f" ({w['script']})" if w.get("script") else ""
    act = (
        f"activations nn.{w['activation_module']} ({w.get('activation_family')})"
        if w.get("activation_module")
        else "activations: none a hook could see, or several kinds"
        if not w.get("activation_layers")
        else "activations: several kinds"
    )
    init = f"init looks like {INIT_WORDS.get(w['init'], w['init'])}" if w.get("init") else "init: not recognised"
    lr = f", lr {w['lr']:g}" if isinstance(w.get("lr"), (int, float)) else ""
    return (
        f"👀 Watched in your own loop{where}: {w.get('description') or 'a module'}. "
        f"{act}; {init}; {w.get('optimizer_class') or 'optimizer'}{lr}."
    )


#: How a caption names an init that :mod:`engine.watch.facts` recognised.
INIT_WORDS = {
    "default": "PyTorch's default (kaiming_uniform_ with a=√5)",
    "he_normal": "kaiming_normal_",
    "he_uniform": "kaiming_uniform_",
    "xavier_normal": "xavier_normal_",
    "xavier_uniform": "xavier_uniform_",
}
