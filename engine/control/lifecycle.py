"""A run's life from the outside: launch, stop, resume, delete, status. Torch-free.

The CLI and the app call these; :mod:`engine.control.queue` starts the
worker processes. A run is a row in the store first (``queued``), so a
refused or crashed start never loses what was asked for.
"""

from __future__ import annotations

import time
from typing import Any

import pandas as pd

from engine.config.recipe import Recipe
from engine.control import queue
from engine.store import Store

STOP_GRACE_S = 10.0  # a worker that ignores the stop flag this long is killed
READ_WAIT_S = 0.5  # a status read or a listing writes (reaps, schedules) only if the lock is this free


def launch(
    store: Store, recipe: Recipe, group: str | None = None, name: str | None = None, max_running: int | None = None
) -> str:
    """Record ``recipe`` as a queued run and start it when a slot is free; returns the run id."""
    max_running = max_running or queue.default_concurrency()  # a bad $GRADCLINIC_MAX_RUNS queues nothing
    from engine.control import budget

    budget.check_fits(recipe)  # a run that cannot fit in memory is refused before it has a row
    run_id = store.create_run(recipe.to_dict(), name=name, group=group, total_steps=recipe.train.steps)
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


def enforce_stop(store: Store, run_id: str, grace: float = STOP_GRACE_S) -> str:
    """Stop a run and, if it ignores the flag for ``grace`` seconds, kill it."""
    status = stop(store, run_id, wait=grace)
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
    if run["status"] not in ("stopped", "crashed", "failed"):
        raise ValueError(f"run {run_id} is {run['status']}: only stopped, crashed or failed runs can resume")
    if not (store.runs_dir(run_id) / "state.pt").is_file():
        raise ValueError(f"run {run_id} has no checkpoint to resume from")
    store.update_run(run_id, error=None)
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
