"""The tuning lessons as experiments: one sweep per arm, in this process, into a store of their own.

Each lesson recipe (``recipes/tuning-*.yaml``) holds a ``sweep:`` block; an arm
changes only the sampler or the pruner, and every arm of a seed uses that seed
for both the training and the sampler, so two arms differ in how they search and
nothing else. The three measures:

- :func:`best_value`: the best metric a sweep found (grid against random, same budget);
- :func:`trials_to_reach`: how many trials a sweep needed to reach a target (TPE against random);
- :func:`steps_trained`: the training steps a sweep spent, pruned trials' shortened runs included.

``benchmarks/tuning_lessons.py`` prints them at seeds 0-4 for the README; the
tests in ``tests/lessons/test_tuning_*.py`` check each claim at seeds 0, 1 and 2.
"""

from __future__ import annotations

import tempfile
from typing import Any

from engine.config.recipe import Recipe, load_recipe
from engine.store import Store
from engine.tuning import results
from engine.tuning.executors.inline import InlineExecutor
from engine.tuning.sweep import Sweep, plan


def run_arm(
    recipe: str | Recipe, seed: int, until: float | None = None, store: Store | None = None, **changes: Any
) -> results.SweepResult:
    """One arm: the recipe's sweep at ``seed`` with ``changes`` to its settings (sampler=..., pruner=...).

    ``until``: stop starting trials once one reaches this value (for :func:`trials_to_reach`).
    """
    base = load_recipe(recipe, {"seed": seed}) if isinstance(recipe, str) else recipe.with_overrides({"seed": seed})
    if base.sweep is None:
        raise ValueError(f"{base.name} has no sweep: block")
    spec = base.sweep.model_copy(update={"seed": seed, **changes})
    store = store or Store(tempfile.mkdtemp(prefix="gc-tuning-"))
    checked = plan(base, spec)
    maximise = checked.direction == "maximize"
    stop = None if until is None else (lambda v: v >= until) if maximise else (lambda v: v <= until)
    group = Sweep(store, checked, InlineExecutor(), executor_name="inline").run(until=stop)
    return results.load(store, group)


def best_value(result: results.SweepResult) -> float:
    """The best value any finished trial reached (NaN when none finished)."""
    best = result.best()
    return float("nan") if best is None else float(best["value"])


def trials_to_reach(result: results.SweepResult, target: float) -> int | None:
    """The 1-based count of trials run until one reached ``target`` (None: none did within the budget)."""
    maximise = result.direction == "maximize"
    for row in result.trials.sort_values("number").to_dict("records"):
        value = row["value"]
        if row["state"] == "COMPLETE" and value is not None and (value >= target if maximise else value <= target):
            return int(row["number"]) + 1
    return None


def steps_trained(result: results.SweepResult) -> int:
    """Every training step the sweep's runs took: the compute it spent."""
    return int(result.trials["trained"].fillna(0).sum())
