"""Trials as Ray tasks: on a local Ray (loopback only) by default, or on the cluster at ``$RAY_ADDRESS``.

The driver keeps the store and the study; a trial trains on a Ray worker into a
temporary store of its own, and every write is sent back through a mailbox actor
(:mod:`engine.tuning.executors.ray_trial`) that :meth:`RayExecutor.wait` drains
into the real store, so the SQLite file never sits on a network filesystem.
Stop, prune, pause and pace travel the other way: each wait copies the run's
controls from the store to the mailbox, and the trial reads them at each flush.

In the store a Ray trial is ``running`` from its submission, with the driver's pid:
the driver is the process that records it, so a dead driver reads as a crashed
run, and no local scheduler takes it for a queued run of its own.

A local Ray is started for the sweep and shut down after it: it listens on
127.0.0.1 only, keeps its files in a temporary folder, sends no usage statistics,
and (unless ``RAY_AUTH_MODE`` or a token is set) asks a random token of every
client, held in this process's environment, so nothing is written to ``~/.ray``.
The ``engine`` package is shipped to the workers (``py_modules``), so they run the
driver's code; the project's dependencies must be installed where they run (docs/ray.md).
"""

from __future__ import annotations

import importlib
import logging
import os
import secrets
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from engine.config.errors import RecipeError, StoreError
from engine.config.recipe import Recipe
from engine.store.errors import StoreBusy
from engine.tuning.executors.mirror import replay

log = logging.getLogger(__name__)
INSTALL_HINT = "--executor ray needs Ray: pip install 'gradclinic[ray]'"
#: A local Ray's settings, each unless already set: loopback only (read when ray is imported, so set
#: before), no usage statistics sent anywhere. Token authentication is added in _local_auth.
LOCAL_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}
AUTH_VARS = ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")
_TOKEN = ""  # the local Ray's token, made at the first local sweep of this process
EXCHANGE_WAIT_S = 30.0  # one mailbox round trip; far more than it takes, short of hanging the sweep


class RayExecutor:
    """``slots`` trials at a time as Ray tasks (one CPU each), their writes replayed into the driver's store."""

    def __init__(self, parallel: int):
        self.slots = parallel
        self.address = os.environ.get("RAY_ADDRESS") or None
        self._saved_env: dict[str, str | None] = {}
        if self.address is None:  # before Ray is imported: it reads these then
            self._set_env(LOCAL_ENV)
            self._local_auth()
        try:
            import ray
        except ImportError as exc:
            self._restore_env()
            if (exc.name or "").split(".")[0] != "ray":
                raise
            raise RecipeError(INSTALL_HINT) from None
        self.ray = ray
        if self.address is None:
            _reread_auth_mode()
        self.started = False  # this executor called ray.init (and shuts it down)
        self.temp_dir: str | None = None
        self.mailbox: Any = None
        self.task: Any = None
        self.store: Any = None  # the sweep's store, for close()
        self.futures: dict[Any, str] = {}  # ObjectRef -> run id, until the run is final in the store
        self.applied: dict[str, int] = {}  # run id -> the last forwarded call replayed
        self.backlog: dict[str, int] = {}  # run id -> calls waiting in the mailbox after the last exchange

    # -- the Executor interface ---------------------------------------------
    def submit(self, sweep, recipe: Recipe, name: str) -> str:
        """Record the trial as a running run of the driver's, and hand it to Ray."""
        self._connect()
        data = recipe.to_dict()
        store = self.store = sweep.store
        run_id = store.create_run(data, name=name, group=sweep.group, total_steps=recipe.train.steps, status="running")
        store.update_run(run_id, pid=os.getpid(), heartbeat=time.time(), device="ray")
        self.futures[self.task.remote(data, run_id, name, self.mailbox)] = run_id
        self.applied[run_id] = 0
        return run_id

    def wait(self, sweep, timeout: float) -> None:
        """Up to ``timeout`` for a trial to end, then replay what the trials sent and settle the ended ones."""
        if not self.futures:
            return
        refs = list(self.futures)
        try:
            self._exchange(sweep.store)  # controls out first: a prune or a Stop is read at the trial's next flush
            ready, _ = self.ray.wait(refs, num_returns=1, timeout=timeout)
            if ready:
                ready, _ = self.ray.wait(refs, num_returns=len(refs), timeout=0)
            self._exchange(sweep.store)  # what the trials sent meanwhile, the ended ones' last calls included
        except StoreBusy:  # the calls stay in the mailbox for the next wait
            return
        for ref in ready:
            run_id = self.futures[ref]
            if self.backlog.get(run_id):  # its last writes are not in the store yet
                continue
            self._settle(sweep.store, run_id, ref)
            del self.futures[ref]
        for run_id in self.futures.values():
            if self.applied.get(run_id) == 0:  # still waiting for a worker: the driver vouches for it
                store_beat(sweep.store, run_id)

    def close(self) -> None:
        """Cancel what still runs (a sweep cut short), mark it stopped, and shut down a Ray this executor started."""
        try:
            if self.futures and self.mailbox is not None:
                self._abandon()
        finally:
            if self.started:
                self.ray.shutdown()
                if self.temp_dir:
                    shutil.rmtree(self.temp_dir, ignore_errors=True)
            self.started, self.futures = False, {}
            self._restore_env()

    # -- the parts ------------------------------------------------------------
    def _connect(self) -> None:
        if self.mailbox is not None:
            return
        ray = self.ray
        if not ray.is_initialized():
            import engine

            kwargs: dict[str, Any] = {}
            if self.address is None:
                self._check_loopback()
                self.temp_dir = tempfile.mkdtemp(prefix="gradclinic-ray-")
                kwargs = {"num_cpus": self.slots, "_temp_dir": self.temp_dir}
            package = str(Path(engine.__file__).parent)
            self.started = True  # before: a start that fails half-way is shut down (and its folder removed) too
            ray.init(
                address=self.address,
                include_dashboard=False,
                log_to_driver=False,  # the workers' logs stay in Ray's session folder; stderr is the sweep's
                logging_level=logging.WARNING,
                runtime_env={"py_modules": [package], "excludes": ["__pycache__", "*.pyc"]},
                **kwargs,
            )
        from engine.tuning.executors import ray_trial

        # Free of CPUs: the mailbox must never wait for a slot a trial holds. max_retries=0: a trial
        # started again would send its calls again under new numbers; a lost one is marked crashed.
        self.mailbox = ray.remote(num_cpus=0)(ray_trial.Mailbox).remote()
        self.task = ray.remote(num_cpus=1, max_retries=0)(ray_trial.train_trial)

    def _check_loopback(self) -> None:
        # Ray reads RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER once, at import: imported earlier without it, a local
        # Ray would listen on this machine's network address. Refuse rather than open it.
        from ray._private import ray_constants

        if getattr(ray_constants, "ENABLE_RAY_CLUSTER", False):
            raise RecipeError(
                "--executor ray: a local Ray would listen beyond 127.0.0.1: set RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 "
                "before Ray is imported, or give RAY_ADDRESS to use a cluster"
            )

    def _local_auth(self) -> None:
        # Ray's default for a new local cluster is a token saved in ~/.ray; a token only in this process's
        # environment (inherited by the Ray it starts) keeps other users of this machine out, writing nothing.
        # One token per process: Ray's client caches the first it reads, so a second sweep here reuses it.
        global _TOKEN
        if not any(os.environ.get(k) for k in AUTH_VARS):
            _TOKEN = _TOKEN or secrets.token_hex(32)
            self._set_env({"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": _TOKEN})

    def _exchange(self, store) -> None:
        """One round trip: controls out, calls in; replay them and note what each run still has waiting."""
        controls: dict[str, tuple] = {}
        for run_id in self.futures.values():
            try:
                controls[run_id] = tuple(store.control(run_id))
            except StoreError:  # deleted from the dashboard: control() of a missing row reads as a stop
                controls[run_id] = (True, False, 0, False)
        calls = self.ray.get(self.mailbox.exchange.remote(dict(self.applied), controls), timeout=EXCHANGE_WAIT_S)
        self.backlog = {}
        pid = os.getpid()
        for run_id, items in calls.items():
            if run_id not in self.applied:
                continue  # not a trial of this sweep: refused, never written
            try:
                self.applied[run_id] = replay(store, run_id, items, self.applied[run_id], pid=pid)
            finally:
                self.backlog[run_id] = sum(1 for c in items if c[0] > self.applied[run_id])

    def _settle(self, store, run_id: str, ref: Any) -> None:
        """A finished task: a trial that raised is failed, one Ray lost is crashed, unless its run already ended."""
        ray = self.ray
        error: tuple[str, str] | None = None
        try:
            ray.get(ref, timeout=0)
        except ray.exceptions.RayTaskError as exc:  # the trial's code raised
            error = ("failed", f"{type(exc.cause).__name__}: {exc.cause}" if exc.cause else str(exc))
        except ray.exceptions.RayError as exc:  # a worker or node died, the task was cancelled
            error = ("crashed", f"lost on Ray: {type(exc).__name__}: {str(exc)[:500]}")
        from engine.config.names import TERMINAL

        status = store.get_run(run_id)["status"]
        if status in TERMINAL:
            return
        if error is None:
            error = ("crashed", "the Ray task ended without recording an end to its run")
        store.set_status(run_id, error[0], error=error[1])

    def _abandon(self) -> None:
        """Cancel every unfinished trial; its run, unless already ended, is stopped."""
        ray = self.ray
        try:
            for ref in self.futures:
                ray.cancel(ref, force=True)
        except ray.exceptions.RayError:
            pass
        store = self.store
        if store is None:
            return
        from engine.config.names import TERMINAL

        for run_id in self.futures.values():
            try:
                if store.get_run(run_id)["status"] not in TERMINAL:
                    store.set_status(run_id, "stopped", error="stopped: the sweep ended before it")
            except StoreError:
                pass

    def _set_env(self, values: dict[str, str]) -> None:
        for key, value in values.items():
            if os.environ.get(key) is None:
                self._saved_env.setdefault(key, None)
                os.environ[key] = value

    def _restore_env(self) -> None:
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env = {}


def _reread_auth_mode() -> None:
    """Make an already imported Ray see RAY_AUTH_MODE as set now (it reads its config at import)."""
    try:  # what Ray itself calls after it turns token mode on (ray._raylet is compiled: no stubs)
        raylet = importlib.import_module("ray._raylet")
        raylet.Config.initialize("")
        raylet.AuthenticationTokenLoader.instance().reset_cache()  # a token read before is read again
    except (ImportError, AttributeError):  # another Ray version: its own import read the environment
        pass


def store_beat(store, run_id: str) -> None:
    """Beat ``run_id``'s heartbeat for a trial Ray has not started yet (a reaper would call it hung)."""
    try:
        with store.lock_wait(0.2):
            store.heartbeat(run_id)
    except StoreError:  # a later wait beats again
        pass
