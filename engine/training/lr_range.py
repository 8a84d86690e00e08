"""The learning-rate range test's training: one geometric ramp per seed on the recipe's own model and data.

Each seed prepares the recipe as a run would (:func:`engine.training.session.prepare`:
its data split, its seeded model, its device) and trains it with the run's own
:class:`~engine.training.trainer.Trainer`, so the ramp uses the recipe's optimizer,
batches, loss, clipping and AMP. A callback sets the rate before each step, one
ramp value per step, and stops the ramp once the smoothed loss diverges. The
curve, the suggestion and the result across seeds are torch-free
(:mod:`engine.tuning.lr_find`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from engine.config.errors import RecipeError
from engine.config.recipe import Recipe
from engine.training.events import Callback
from engine.training.session import prepare
from engine.training.trainer import Trainer, TrainState
from engine.tuning import lr_find

#: ``progress(seed index, step, steps)`` after every few steps.
Progress = Callable[[int, int, int], None]
PROGRESS_EVERY = 10


class _Ramp(Callback):
    """Sets the ramp's rate before each step; after it, keeps the loss and stops at divergence."""

    def __init__(self, lrs: list[float], on_step: Callable[[int], None] | None = None):
        self.lrs = lrs
        self.raw: list[float] = []
        self.diverged = False
        self.on_step = on_step
        self._avg, self._best = 0.0, math.inf

    def before_step(self, state: TrainState) -> None:
        lr = self.lrs[state.step - 1]
        for group in state.optimizer.param_groups:
            group["lr"] = lr

    def after_step(self, state: TrainState) -> None:
        assert state.loss is not None, "a plain training step keeps its loss"
        loss = float(state.loss)  # a host sync every step: the test is a few hundred steps, not a run
        self.raw.append(loss)
        n = len(self.raw)
        # The same debiased EMA as lr_find.smooth, kept incrementally to decide the stop here.
        self._avg = lr_find.BETA * self._avg + (1 - lr_find.BETA) * loss
        smoothed = self._avg / (1 - lr_find.BETA**n)
        if not math.isfinite(smoothed) or smoothed > lr_find.DIVERGE * self._best:
            self.diverged = True
            state.request_stop("diverged", step=state.step, what="lr range test")
        else:
            self._best = min(self._best, smoothed)
            if n >= len(self.lrs):
                state.request_stop("stopped", step=state.step, what="end of the ramp")
        if self.on_step is not None and (n % PROGRESS_EVERY == 0 or state.stop_reason is not None):
            self.on_step(n)


def ramp_recipe(recipe: Recipe, seed: int, steps: int, start: float) -> Recipe:
    """The recipe the ramp trains at ``seed``: constant schedule, no evaluation and no early stop before its end."""
    return recipe.with_overrides(
        {
            "seed": seed,
            "train.lr": start,
            "train.schedule": "constant",  # the ramp is the schedule
            "train.steps": steps + 1,  # one more than the ramp, so the trainer's last-step evaluation never runs
            "train.eval_every": steps + 1,
            "train.early_stopping": None,
        }
    )


def one_seed(
    recipe: Recipe,
    seed: int,
    steps: int = lr_find.DEFAULT_STEPS,
    start: float = lr_find.DEFAULT_START,
    end: float = lr_find.DEFAULT_END,
    on_step: Callable[[int], None] | None = None,
) -> lr_find.SeedCurve:
    """Ramp the rate from ``start`` to ``end`` over ``steps`` steps at ``seed``; stops early at divergence."""
    prepared = prepare(ramp_recipe(recipe, seed, steps, start))
    if getattr(prepared.model, "training_step", None) is not None:
        raise RecipeError(
            f"model.arch: {recipe.model.arch} trains two players with their own updates; "
            "a range test needs one loss under one learning rate"
        )
    lrs = lr_find.ramp(start, end, steps)
    ramp = _Ramp(lrs, on_step)
    trainer = Trainer(prepared.recipe, prepared.data, prepared.model, prepared.device, [ramp])
    try:
        trainer.fit()
    finally:
        trainer.batches.close()
    return lr_find.SeedCurve.measure(seed, lrs, ramp.raw, ramp.diverged)


def range_test(
    recipe: Recipe,
    seeds: int = lr_find.DEFAULT_SEEDS,
    steps: int = lr_find.DEFAULT_STEPS,
    start: float = lr_find.DEFAULT_START,
    end: float = lr_find.DEFAULT_END,
    progress: Progress | None = None,
) -> lr_find.LrFindResult:
    """The range test at seeds ``recipe.seed`` .. ``recipe.seed + seeds - 1``: a suggestion and its band."""
    lr_find.check_settings(seeds, steps, start, end)
    t0 = time.perf_counter()
    curves = []
    for i in range(seeds):
        on_step = (lambda n, i=i: progress(i, n, steps)) if progress is not None else None
        curves.append(one_seed(recipe, recipe.seed + i, steps, start, end, on_step))
    return lr_find.LrFindResult.from_curves(recipe.to_dict(), curves, steps, start, end, time.perf_counter() - t0)
