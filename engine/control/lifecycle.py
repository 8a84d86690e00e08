"""A run's life from the outside: launch, stop, pause, slow motion, resume, delete, status. Torch-free.

The CLI and the app call these; :mod:`engine.control.queue` starts the
worker processes. A run is a row in the store first (``queued``), so a
refused or crashed start never loses what was asked for.

Pause and slow motion are requests in the run's row, which its worker reads at
each flush (about twice a second): a paused worker waits between two steps until
it is unpaused or stopped, and slow motion waits a fixed time after every step.
Neither changes a result: the same seed trains the same numbers, and the time
waited counts in no measurement (``samples_per_s``, the probe budget).
"""

from __future__ import annotations

import time
from typing import Any

import pandas as pd

from engine.config import limits
from engine.config.errors import RecipeError, excerpt
from engine.config.recipe import Recipe
from engine.control import queue, sources, watched
from engine.store import Store

#: The slow-motion settings the pages offer, ms per step (0: full speed; at most limits.MAX_PACE_MS).
PACE_CHOICES_MS = (0, 5, 10, 20, 50, 100, 200, 500, 1000)
STOP_GRACE_S = 10.0  # a worker that ignores the stop flag this long is killed
READ_WAIT_S = 0.5  # a status read or a listing writes (reaps, schedules) only if the lock is this free


def launch(
    store: Store,
    recipe: Recipe,
    group: str | None = None,
    name: str | None = None,
    max_running: int | None = None,
    pace_ms: int = 0,
) -> str:
    """Record ``recipe`` as a queued run and start it when a slot is free; returns the run id.

    ``pace_ms`` starts it in slow motion (:func:`set_pace`); it is not part of the recipe.
    """
    max_running = max_running or queue.default_concurrency()  # a bad $GRADCLINIC_MAX_RUNS queues nothing
    pace_ms = check_pace(pace_ms)
    from engine.control import budget

    budget.check_fits(recipe)  # a run that cannot fit in memory is refused before it has a row
    sources.check(store, recipe)  # and so is one whose model.init_from or distill.teacher is missing
    run_id = store.create_run(recipe.to_dict(), name=name, group=group, total_steps=recipe.train.steps, pace_ms=pace_ms)
    # The run is recorded: a store locked past the usual wait leaves it queued for the next scheduler.
    queue.schedule(store, max_running, wait_s=store.lock_wait_s)
    return run_id


def stop(store: Store, run_id: str, wait: float = 0.0) -> str:
    """Ask a run to stop; a queued run is stopped at once. Returns the status."""
    run = store.get_run(run_id)
    if run["status"] == "queued":
        store.set_status(run_id, "stopped", error="stopped before it started")
        return "stopped"
    if run["status"] != "running":
        return run["status"]
    store.request_stop(run_id)
    deadline = time.time() + wait
    while time.time() < deadline:
        status = store.get_run(run_id)["status"]
        if status != "running":
            return status
        time.sleep(0.1)
    return store.get_run(run_id)["status"]


def check_pace(pace_ms: object) -> int:
    """Slow motion in whole milliseconds per step, 0 to :data:`~engine.config.limits.MAX_PACE_MS`.

    Accepts an int or its text (``"50"``); anything else is one :class:`RecipeError`.
    """
    value: object = pace_ms
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= limits.MAX_PACE_MS:
        raise RecipeError(
            f"pace: give a whole number of milliseconds per step from 0 (full speed) to {limits.MAX_PACE_MS} "
            f"(got {excerpt(pace_ms)})"
        )
    return value


def _live(store: Store, run_id: str, doing: str) -> str:
    """The run's status; a finished run is refused (RecipeError), as there is nothing to pause or slow."""
    status = queue.observed(store.get_run(run_id))["status"]
    if status not in ("queued", "running"):
        raise RecipeError(f"run {run_id} is {status}: only a queued or running run can {doing}")
    return status


def pause(store: Store, run_id: str) -> str:
    """Ask the run to wait before its next step (a queued run waits from its first); returns its status."""
    status = _live(store, run_id, "pause")
    store.set_paused(run_id, True)
    return status


def unpause(store: Store, run_id: str) -> str:
    """Let a paused run go on from the step it waited at; returns its status."""
    status = _live(store, run_id, "continue")
    store.set_paused(run_id, False)
    return status


def set_pace(store: Store, run_id: str, pace_ms: object) -> int:
    """Slow motion: the run waits ``pace_ms`` after every step from its next flush on (0: full speed).

    Returns the pace set; a bad value or a finished run is one :class:`RecipeError`.
    """
    pace = check_pace(pace_ms)
    _live(store, run_id, "change pace")
    store.set_pace(run_id, pace)
    return pace


def enforce_stop(store: Store, run_id: str, grace: float = STOP_GRACE_S) -> str:
    """Stop a run and, if it ignores the flag for ``grace`` seconds, kill it (never a watched run's process)."""
    status = stop(store, run_id, wait=grace)
    if status == "running" and watched.is_watched(store.get_run(run_id)):
        return status  # the user's own process: its next clinic.step ends the loop; it is never killed
    if status == "running":
        queue.kill_group(store.get_run(run_id).get("pid"))
        store.set_status(run_id, "stopped", error=f"killed: the worker did not stop within {grace:.0f}s")
        status = "stopped"
    queue.schedule(store)
    return status


def resume(store: Store, run_id: str, max_running: int | None = None) -> str:
    """Queue a stopped or crashed run again; its worker continues from the last checkpoint."""
    queue.reap(store)  # a run a status read already showed crashed may not be recorded so yet
    run = store.get_run(run_id)
    if watched.is_watched(run):
        raise ValueError(f"run {run_id} was watched in your own loop: run its script again to train it again")
    if run["status"] not in ("stopped", "crashed", "failed"):
        raise ValueError(f"run {run_id} is {run['status']}: only stopped, crashed or failed runs can resume")
    if not (store.runs_dir(run_id) / "state.pt").is_file():
        raise ValueError(f"run {run_id} has no checkpoint to resume from")
    store.update_run(run_id, error=None)
    store.set_paused(run_id, False)  # a run stopped while paused goes on when resumed
    store.set_status(run_id, "queued")
    queue.schedule(store, max_running, wait_s=store.lock_wait_s)
    return run_id


def delete(store: Store, run_id: str) -> None:
    """Stop a run if it is alive, then remove it and its files."""
    run = store.get_run(run_id)
    if run["status"] == "running":
        enforce_stop(store, run_id, grace=2.0)
    store.delete_run(run_id)


def status(store: Store, run_id: str) -> dict[str, Any]:
    """The run's row as it really is: a dead worker reads as crashed, even while the store is locked."""
    queue.reap(store, wait_s=READ_WAIT_S)
    return queue.observed(store.get_run(run_id))


def list_runs(store: Store, **filters: Any) -> pd.DataFrame:
    """All runs (newest first), after reaping and starting what the queue allows (skipped while locked)."""
    queue.schedule(store, wait_s=READ_WAIT_S)
    return store.list_runs(**filters)
