"""Trials trained one after another in this process: no worker start-up, nothing in the background.

For lessons, tests and the overhead benchmark, where a sweep is one step of a
larger program; the runs are the same runs the queue's workers would record.
"""

from __future__ import annotations

import logging
import os
from collections import deque

from engine.config.recipe import Recipe

log = logging.getLogger(__name__)


class InlineExecutor:
    """One trial at a time, trained by :func:`engine.training.session.train` when the driver waits."""

    slots = 1

    def __init__(self) -> None:
        self.queued: deque[tuple[str, Recipe]] = deque()

    def submit(self, sweep, recipe: Recipe, name: str) -> str:
        # Running from the start, with this process as its worker: a queued row would be the run
        # queue's to claim, and a dashboard's refresh could start a second copy in a worker.
        run_id = sweep.store.create_run(
            recipe.to_dict(), name=name, group=sweep.group, total_steps=recipe.train.steps, status="running"
        )
        sweep.store.update_run(run_id, pid=os.getpid())
        self.queued.append((run_id, recipe))
        return run_id

    def wait(self, sweep, timeout: float) -> None:
        if not self.queued:
            return
        from engine.training import session

        run_id, recipe = self.queued.popleft()
        try:
            prepared = session.prepare(recipe, sweep.store)
        except Exception as exc:  # the data or the model would not build: the trial fails, the sweep goes on
            sweep.store.set_status(run_id, "failed", error=f"{type(exc).__name__}: {exc}")
            return
        every, seen = recipe.train.eval_every, [0]

        def on_flush(info: dict) -> None:
            # A flush after an evaluation reports it, so the pruner sees each one as it comes;
            # the flushes in between have nothing new for it.
            if info["step"] // every > seen[0]:
                seen[0] = info["step"] // every
                sweep.observe(run_id, settle=False)

        try:
            session.train(sweep.store, run_id, prepared, on_flush=on_flush)
        except Exception as exc:  # recorded as failed by the session; the sweep goes on with the next trial
            log.warning("trial run %s failed: %s", run_id, exc)

    def close(self) -> None:
        self.queued.clear()
