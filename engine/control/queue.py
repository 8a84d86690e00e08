"""The run queue: start queued runs while slots are free, mark dead workers crashed. Torch-free.

A run is a separate OS process (``python -m engine.worker RUN_ID``) in its
own session, so it survives Streamlit reruns and browser refreshes, and its
crash takes nothing else down. There is no daemon: whoever touches the
queue (a launch, a worker that finishes, a reader listing runs) calls
:func:`schedule`, which marks dead workers ``crashed`` and starts queued
runs, oldest first, while slots are free. A claim is one SQLite write
transaction, so two schedulers never start the same run.

Readers never need the write lock: :func:`observed` says a run whose worker
is gone is ``crashed`` without writing it, and a reader's :func:`schedule`
(``wait_s`` given) skips its writes when another process holds the lock.
"""

from __future__ import annotations

import glob
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import pandas as pd

from engine.config.errors import RecipeError
from engine.control import warm, watched
from engine.store import Store, StoreBusy
from engine.store.connection import LOCK_WAIT_S
from engine.worker import log_path

ROOT = Path(__file__).resolve().parent.parent.parent
STALE_HEARTBEAT_S = 120.0  # alive pid but silent this long: treat as hung
CPU_RUNS_CAP = 8  # more CPU runs at once than this only divide the same cores (and memory) finer
MAX_RUNS_LIMIT = 64  # $GRADCLINIC_MAX_RUNS above this is a typo, not a plan: each run is a process


def default_concurrency() -> int:
    """One run per GPU; on CPU, one per core, at most :data:`CPU_RUNS_CAP`. ``$GRADCLINIC_MAX_RUNS`` (1..64) overrides.

    The runs of a lesson are small: on a 2-core laptop two of them side by side, one
    thread each, finish a lesson sooner than one at a time on two threads, since a
    small model's matrix products gain little from a second thread.

    Raises :class:`RecipeError` naming the variable when it is not such a number.
    """
    env = os.environ.get("GRADCLINIC_MAX_RUNS")
    if env is not None and env.strip():
        try:
            limit = int(env.strip())
        except ValueError:
            limit = 0
        if not 1 <= limit <= MAX_RUNS_LIMIT:
            raise RecipeError(
                f"GRADCLINIC_MAX_RUNS: must be a whole number from 1 to {MAX_RUNS_LIMIT} "
                f"(how many runs may train at once), got {env[:40]!r}"
            )
        return limit
    gpus = len(glob.glob("/dev/nvidia[0-9]*"))  # counted without importing torch
    return gpus if gpus else max(1, min(os.cpu_count() or 1, CPU_RUNS_CAP))


def pid_alive(pid: Any) -> bool:
    """True when ``pid`` is a live process (a zombie counts as dead); a missing pid (None, NA) is not."""
    try:
        pid = int(pid)
    except (TypeError, ValueError):  # None, pandas' NA or NaN: no worker recorded
        return False
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{int(pid)}/stat") as f:
            return f.read().split(") ")[-1][:1] != "Z"
    except OSError:
        return True


def _missing(value: Any) -> bool:
    return value is None or bool(pd.isna(value))  # a table row says NA or NaN where the store says NULL


def _gone_error(run: Mapping[str, Any]) -> str:
    step: Any = run.get("step")
    return f"the worker process disappeared (last flushed step {0 if _missing(step) else int(step)})"


def observed(run: Mapping[str, Any]) -> dict[str, Any]:
    """The run as a reader should report it: ``running`` with its worker gone reads as ``crashed``.

    Nothing is written, so a status read answers even while another process
    holds the write lock; :func:`reap` records the same verdict when it can.
    """
    out = dict(run)
    if out.get("status") == "running" and not pid_alive(out.get("pid")):
        out["status"], out["error"] = "crashed", out.get("error") or _gone_error(out)
    return out


def _waiting(store: Store, wait_s: float | None):
    return nullcontext() if wait_s is None else store.lock_wait(wait_s)


def reap(store: Store, wait_s: float | None = None) -> list[str]:
    """Mark runs whose worker is gone as ``crashed``; returns their ids.

    With ``wait_s``, a store whose write lock another process holds longer is
    left as it is (readers report it through :func:`observed` anyway).
    """
    crashed = []
    now = time.time()
    try:
        with _waiting(store, wait_s):
            for run in store.list_runs(status="running").to_dict("records"):
                gone = not pid_alive(run.get("pid"))
                beat = run.get("heartbeat")
                hung = not _missing(beat) and now - float(beat) > STALE_HEARTBEAT_S
                if hung and not gone:  # re-read: a worker that just got the lock back has beaten since
                    fresh = store.get_run(run["id"])
                    beat = fresh["heartbeat"]
                    hung = not _missing(beat) and time.time() - float(beat) > STALE_HEARTBEAT_S
                    # A watched run's process is the user's own loop (a debugger, a long evaluation): never killed.
                    hung = hung and not watched.is_watched(fresh)
                if gone or hung:
                    why = _gone_error(run) if gone else f"no heartbeat for {now - float(beat):.0f}s"
                    if hung and not gone:
                        kill_group(run.get("pid"))
                        why += f" (last flushed step {run.get('step')})"
                    if store.mark_crashed(run["id"], run.get("pid"), why):  # not if it ended meanwhile
                        crashed.append(run["id"])
    except StoreBusy:
        if wait_s is None:
            raise
    return crashed


def schedule(store: Store, max_running: int | None = None, wait_s: float | None = None) -> list[str]:
    """Reap dead workers, then start queued runs FIFO while fewer than the limit run.

    With ``wait_s`` (a reader's call: ``ls``, a page refresh), every write waits at most
    that long for another process's lock, and a busy store is skipped rather than waited on.
    """
    limit = max_running or default_concurrency()  # a bad $GRADCLINIC_MAX_RUNS is refused before any write
    reap(store, wait_s)
    started: list[str] = []
    try:
        with _waiting(store, wait_s):
            while True:
                run_id = store.claim_next(limit)
                if run_id is None:
                    return started
                spawn(store, run_id)
                started.append(run_id)
    except StoreBusy:
        if wait_s is None:
            raise
    return started


def spawn(store: Store, run_id: str) -> None:
    """Start the worker of a claimed run: forked by the warm server when one runs, else a fresh interpreter."""
    log = log_path(store, run_id)
    pid = _spawn_warm(store, run_id, log)
    if pid is None:
        pid = _spawn_cold(store, run_id, log)
        warm.ensure_started()  # the next run starts warm
    if not pid:
        return  # sent to the warm server, which did not answer: the worker records its own pid
    # The claim holds the claimer's pid until this write; a reader's short wait is not enough for it.
    try:
        with store.lock_wait(max(store.lock_wait_s, LOCK_WAIT_S)):
            store.update_run(run_id, pid=pid, heartbeat=time.time())
    except StoreBusy:
        pass  # the worker records its own pid as it starts


def _worker_env(store: Store) -> dict[str, str]:
    return {**os.environ, "GRADCLINIC_HOME": str(store.home), "PYTHONUNBUFFERED": "1"}


def _spawn_warm(store: Store, run_id: str, log: Path) -> int | None:
    return warm.request(run_id, log, _worker_env(store))


def _spawn_cold(store: Store, run_id: str, log: Path) -> int:
    env = _worker_env(store)
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
    return proc.pid


def kill_group(pid: int | None) -> None:
    if not pid:
        return
    try:
        os.killpg(int(pid), signal.SIGKILL)
    except (ProcessLookupError, PermissionError, ValueError):
        pass
