"""Trials as the run queue's background workers: ``--parallel K`` of them at once, on this machine.

Each trial is launched like any run (warm-forked when the fork server is up), so it
shows in the dashboard's Live view as it trains; the driver only reads the store.
"""

from __future__ import annotations

import time

from engine.config.recipe import Recipe
from engine.control import lifecycle, queue


class LocalExecutor:
    """``slots`` trials at a time in worker processes."""

    def __init__(self, parallel: int):
        self.slots = parallel
        self.run_ids: list[str] = []

    def submit(self, sweep, recipe: Recipe, name: str) -> str:
        run_id = lifecycle.launch(sweep.store, recipe, group=sweep.group, name=name, max_running=self.slots)
        self.run_ids.append(run_id)
        return run_id

    def wait(self, sweep, timeout: float) -> None:
        time.sleep(timeout)
        # A worker starts the next queued run as it ends; this covers one that died before it could.
        queue.schedule(sweep.store, self.slots, wait_s=0.2)

    def close(self) -> None:
        pass
