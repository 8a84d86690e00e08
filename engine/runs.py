"""Background runs: launch, queue, stop, resume, reap. Torch-free.

A run is a separate OS process (``python -m engine.worker RUN_ID``) in its
own session, so it survives Streamlit reruns and browser refreshes, and its
crash takes nothing else down. There is no daemon: whoever touches the
queue (a launch, a worker that finishes, a reader listing runs) calls
:func:`schedule`, which marks dead workers ``crashed`` and starts queued
runs, oldest first, while slots are free. A claim is one SQLite write
transaction, so two schedulers never start the same run.
"""
from __future__ import annotations

import glob
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Optional

from engine.recipe import Recipe
from engine.store import Store

ROOT = Path(__file__).resolve().parent.parent
STOP_GRACE_S = 10.0  # a worker that ignores the stop flag this long is killed
STALE_HEARTBEAT_S = 120.0  # alive pid but silent this long: treat as hung


def default_concurrency() -> int:
    """One run per GPU; on CPU, one per two cores. ``$GRADCLINIC_MAX_RUNS`` overrides."""
    env = os.environ.get("GRADCLINIC_MAX_RUNS")
    if env:
        return max(1, int(env))
    gpus = len(glob.glob("/dev/nvidia[0-9]*"))  # counted without importing torch
    return gpus if gpus else max(1, (os.cpu_count() or 2) // 2)


def launch(store: Store, recipe: Recipe, group: Optional[str] = None, name: Optional[str] = None,
           max_running: Optional[int] = None) -> str:
    """Record ``recipe`` as a queued run and start it when a slot is free; returns the run id."""
    run_id = store.create_run(recipe.to_dict(), name=name, group=group, total_steps=recipe.train.steps)
    schedule(store, max_running)
    return run_id


def pid_alive(pid: Optional[int]) -> bool:
    """True when ``pid`` is a live process (a zombie counts as dead)."""
    if not pid:
        return False
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, ValueError):
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{int(pid)}/stat") as f:
            return f.read().split(") ")[-1][:1] != "Z"
    except OSError:
        return True


def reap(store: Store) -> list[str]:
    """Mark runs whose worker is gone as ``crashed``; returns their ids."""
    crashed = []
    now = time.time()
    for run in store.list_runs(status="running").to_dict("records"):
        gone = not pid_alive(run.get("pid"))
        hung = run.get("heartbeat") and now - float(run["heartbeat"]) > STALE_HEARTBEAT_S
        if gone or hung:
            why = "the worker process disappeared" if gone else f"no heartbeat for {now - float(run['heartbeat']):.0f}s"
            if hung and not gone:
                _kill_group(run.get("pid"))
            store.set_status(run["id"], "crashed", error=f"{why} (last flushed step {run.get('step')})")
            crashed.append(run["id"])
    return crashed


def schedule(store: Store, max_running: Optional[int] = None) -> list[str]:
    """Reap dead workers, then start queued runs FIFO while fewer than the limit run."""
    reap(store)
    limit = max_running or default_concurrency()
    started = []
    while True:
        run_id = store.claim_next(limit)
        if run_id is None:
            return started
        _spawn(store, run_id)
        started.append(run_id)


def _spawn(store: Store, run_id: str) -> None:
    log = store.runs_dir(run_id) / "worker.log"
    env = {**os.environ, "GRADCLINIC_HOME": str(store.home), "PYTHONUNBUFFERED": "1"}
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "engine.worker", run_id],
            cwd=str(ROOT), env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: Ctrl-C in a terminal or a rerun never reaches it
        )
    store.update_run(run_id, pid=proc.pid, heartbeat=time.time())


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
        _kill_group(store.get_run(run_id).get("pid"))
        store.set_status(run_id, "stopped", error=f"killed: the worker did not stop within {grace:.0f}s")
        status = "stopped"
    schedule(store)
    return status


def _kill_group(pid: Optional[int]) -> None:
    if not pid:
        return
    try:
        os.killpg(int(pid), signal.SIGKILL)
    except (ProcessLookupError, PermissionError, ValueError):
        pass


def resume(store: Store, run_id: str, max_running: Optional[int] = None) -> str:
    """Queue a stopped or crashed run again; its worker continues from the last checkpoint."""
    run = store.get_run(run_id)
    if run["status"] not in ("stopped", "crashed", "failed"):
        raise ValueError(f"run {run_id} is {run['status']}: only stopped, crashed or failed runs can resume")
    if not (store.runs_dir(run_id) / "state.pt").is_file():
        raise ValueError(f"run {run_id} has no checkpoint to resume from")
    store.update_run(run_id, error=None)
    store.set_status(run_id, "queued")
    schedule(store, max_running)
    return run_id


def delete(store: Store, run_id: str) -> None:
    """Stop a run if it is alive, then remove it and its files."""
    run = store.get_run(run_id)
    if run["status"] == "running":
        enforce_stop(store, run_id, grace=2.0)
    store.delete_run(run_id)


def status(store: Store, run_id: str) -> dict[str, Any]:
    """The run's row, after reaping, so a dead worker reads as crashed."""
    reap(store)
    return store.get_run(run_id)


def list_runs(store: Store, **filters: Any):
    """All runs (newest first), after reaping and starting what the queue allows."""
    schedule(store)
    return store.list_runs(**filters)
