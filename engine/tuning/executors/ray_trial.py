"""The Ray side of a sweep: the mailbox actor between driver and trials, and the task that trains a trial.

Plain class and function here; :mod:`engine.tuning.executors.ray` makes them a Ray
actor and a Ray task when it starts, so this module imports neither Ray nor torch
at import time (workers import it by reference, with the ``engine`` package the
driver ships them).

The mailbox holds each trial's forwarded store calls until the driver says it has
applied them (so a driver write that failed on a busy lock gets the same calls
again), and the driver's latest controls per trial (stop, prune, pause, pace).
Calls from one trial reach it in the order sent: Ray runs a synchronous actor's
calls from one caller in submission order.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import traceback
from typing import Any

from engine.tuning.executors.mirror import Call

CONTROL_WAIT_S = 10.0  # a control read waits this long for the mailbox, then trusts the local row
FIRST_CONTROL_S = 60.0  # a trial waits this long for the driver's first controls before its first step


class Mailbox:
    """Forwarded calls (trial to driver) and controls (driver to trial), per run id."""

    def __init__(self) -> None:
        self.calls: dict[str, list[Call]] = {}
        self.controls: dict[str, tuple] = {}

    def put(self, run_id: str, call: Call) -> None:
        """Keep one forwarded call of ``run_id`` until the driver has applied it."""
        self.calls.setdefault(run_id, []).append(call)

    def control(self, run_id: str) -> tuple | None:
        """The driver's latest RunControl fields for ``run_id``, or None before it sent any."""
        return self.controls.get(run_id)

    def exchange(self, applied: dict[str, int], controls: dict[str, tuple]) -> dict[str, list[Call]]:
        """Drop calls the driver has applied, take its controls, return every call it has not applied yet."""
        for run_id, seq in applied.items():
            kept = [c for c in self.calls.get(run_id, []) if c[0] > seq]
            if kept:
                self.calls[run_id] = kept
            else:
                self.calls.pop(run_id, None)
        self.controls.update(controls)
        for run_id in [r for r in self.controls if r not in controls and r not in self.calls]:
            del self.controls[run_id]  # a trial the driver no longer follows
        return {run_id: list(calls) for run_id, calls in self.calls.items()}


def train_trial(recipe_data: dict[str, Any], run_id: str, name: str, mailbox: Any) -> str:
    """Train one trial on this worker into a temporary store, every write also sent to ``mailbox``.

    Returns the run's final status. Before it returns (or raises), every call it sent has
    reached the mailbox, so the driver holds the whole run once it sees the task done.
    """
    import ray

    from engine.config.recipe import Recipe
    from engine.store.store import RunControl
    from engine.tuning.executors.mirror import MirrorStore

    last: list[Any] = [None]  # the latest put: waiting on it waits on all before it (in-order delivery)

    def send(call: Call) -> None:
        last[0] = mailbox.put.remote(run_id, call)

    def read() -> RunControl | None:
        try:
            fields = ray.get(mailbox.control.remote(run_id), timeout=CONTROL_WAIT_S)
        except ray.exceptions.GetTimeoutError:
            return None
        except ray.exceptions.RayActorError:  # the driver (which owns the mailbox) is gone: nobody records this run
            return RunControl(stop=True, paused=False, pace_ms=0)
        return None if fields is None else RunControl(*fields)

    home = tempfile.mkdtemp(prefix="gradclinic-trial-")
    store = MirrorStore(home, send, read)
    try:
        recipe = Recipe.from_dict(recipe_data)
        store.create_run(recipe_data, name=name, total_steps=recipe.train.steps, status="running", run_id=run_id)
        # The driver sends a trial's controls at its first wait after the submit. Waiting for them means
        # a Stop, a prune or a pause given before the trial started is obeyed from its first step.
        deadline = time.monotonic() + FIRST_CONTROL_S
        while read() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        return _train(store, run_id, recipe)
    finally:
        try:
            if last[0] is not None:
                ray.get(last[0])
        except ray.exceptions.RayError:  # the mailbox is gone with its driver: nothing left to deliver to
            pass
        store.close()
        shutil.rmtree(home, ignore_errors=True)  # checkpoints too: a Ray trial is not resumed


def _train(store: Any, run_id: str, recipe: Any) -> str:
    from engine.training import session

    try:
        prepared = session.prepare(recipe)
    except Exception as exc:  # the data or the model would not build: the trial fails, the sweep goes on
        store.set_status(run_id, "failed", error=f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=8)}")
        return "failed"
    # A failure inside is recorded (and forwarded) as failed by the session, then raised to the driver.
    return str(session.train(store, run_id, prepared)["status"])
