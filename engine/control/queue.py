"""The run queue: start queued runs while slots are free, mark dead workers crashed. Torch-free.

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

from engine.store import Store
from engine.worker import log_path

ROOT = Path(__file__).resolve().parent.parent.parent
STALE_HEARTBEAT_S = 120.0  # alive pid but silent this long: treat as hung


def default_concurrency() -> int:
    """One run per GPU; on CPU, one per two cores. ``$GRADCLINIC_MAX_RUNS`` overrides."""
    env = os.environ.get("GRADCLINIC_MAX_RUNS")
    if env:
        return max(1, int(env))
    gpus = len(glob.glob("/dev/nvidia[0-9]*"))  # counted without importing torch
    return gpus if gpus else max(1, (os.cpu_count() or 2) // 2)


def pid_alive(pid: int | None) -> bool:
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
                kill_group(run.get("pid"))
            store.set_status(run["id"], "crashed", error=f"{why} (last flushed step {run.get('step')})")
            crashed.append(run["id"])
    return crashed


def schedule(store: Store, max_running: int | None = None) -> list[str]:
    """Reap dead workers, then start queued runs FIFO while fewer than the limit run."""
    reap(store)
    limit = max_running or default_concurrency()
    started: list[str] = []
    while True:
        run_id = store.claim_next(limit)
        if run_id is None:
            return started
        spawn(store, run_id)
        started.append(run_id)


def spawn(store: Store, run_id: str) -> None:
    log = log_path(store, run_id)
    env = {**os.environ, "GRADCLINIC_HOME": str(store.home), "PYTHONUNBUFFERED": "1"}
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "engine.worker", run_id],
            cwd=str(ROOT),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: Ctrl-C in a terminal or a rerun never reaches it
        )
    store.update_run(run_id, pid=proc.pid, heartbeat=time.time())


def kill_group(pid: int | None) -> None:
    if not pid:
        return
    try:
        os.killpg(int(pid), signal.SIGKILL)
    except (ProcessLookupError, PermissionError, ValueError):
        pass
