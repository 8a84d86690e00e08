"""``python -m engine.worker RUN_ID``: train one stored run in this process.

Started by :mod:`engine.control.queue` in its own process session, with its
output going to the run's ``worker.log`` (:func:`log_path`). It reads the
resolved recipe from the store, beats a heartbeat from a side thread (so a
long evaluation never looks like a hang), trains, and on the way out starts
whatever the queue allows next. A user error (bad data, say) ends the run as
``failed`` with a readable message; so does a store problem (a full disk,
a damaged file, a refused checkpoint), by its one-line message; any other
exception too, with its traceback in the store and in the log. A transient
lock held by another process is waited out (the heartbeat skips a beat).
Nothing is swallowed: every way out is logged.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import traceback
from pathlib import Path

from engine.config.errors import RecipeError, StoreError
from engine.store import Store

HEARTBEAT_S = 1.0
log = logging.getLogger("gradclinic.worker")


def log_path(store: Store, run_id: str) -> Path:
    """Where the worker of ``run_id`` writes its log (its stdout and stderr)."""
    return store.runs_dir(run_id) / "worker.log"


def _heartbeat(home: Path, run_id: str, done: threading.Event) -> None:
    store = Store(home)  # its own connection: SQLite connections are not shared across threads
    store.lock_wait_s = HEARTBEAT_S  # a locked store skips a beat; the flushes beat too
    failing: str | None = None
    try:
        while not done.wait(HEARTBEAT_S):
            try:
                store.heartbeat(run_id)
                failing = None
            except StoreError as exc:  # locked, full: the next beat may pass; said once per spell
                if failing is None:
                    log.warning("heartbeat skipped: %s", exc)
                failing = str(exc)
    except Exception:  # the main thread goes on; a missing heartbeat shows as a hung run
        log.exception("heartbeat thread stopped")
    finally:
        store.close()


def main(argv: list[str]) -> int:
    """Train the run named by ``argv[0]``; the exit code is 0, 2 for a user error, 1 otherwise."""
    if len(argv) != 1:
        sys.stderr.write("usage: python -m engine.worker RUN_ID\n")
        return 2
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s"
    )
    run_id = argv[0]
    store = Store()
    run = store.get_run(run_id)
    resume = (store.runs_dir(run_id) / "state.pt").is_file()
    log.info("run %s (%s): %s", run_id, run["recipe_name"], "resuming from its checkpoint" if resume else "starting")
    done = threading.Event()
    beat = threading.Thread(target=_heartbeat, args=(store.home, run_id, done), daemon=True)
    beat.start()
    code = 0
    try:
        import torch

        from engine.config.recipe import Recipe
        from engine.control import queue
        from engine.training import session

        torch.set_num_threads(max(1, (os.cpu_count() or 2) // queue.default_concurrency()))
        recipe = Recipe.from_dict(run["recipe"])
        prepared = session.prepare(recipe, store)
        summary = session.train(store, run_id, prepared, resume=resume)
        log.info(
            "run %s ended %s after %s steps in %.1fs", run_id, summary["status"], summary["steps"], summary["seconds"]
        )
    except RecipeError as exc:
        log.error("run %s refused: %s", run_id, exc)
        _record_failure(store, run_id, str(exc))
        code = 2
    except StoreError as exc:  # session.train recorded it when the store could take it
        log.error("run %s failed: %s", run_id, exc)
        _record_failure(store, run_id, str(exc))
        code = 1
    except Exception:  # session.train stored the error and the traceback; the log gets them too
        log.exception("run %s failed", run_id)
        _record_failure(store, run_id, traceback.format_exc(limit=8))
        code = 1
    finally:
        done.set()
        beat.join(timeout=2)
        from engine.control import queue

        try:
            queue.schedule(store, wait_s=store.lock_wait_s)  # the next queued run, if the store lets us
        except (StoreError, RecipeError) as exc:
            log.warning("could not start the next queued run: %s", exc)
        store.close()
    return code


def _record_failure(store: Store, run_id: str, error: str) -> None:
    """Mark the run failed unless session.train already ended it; a store that cannot take it is logged."""
    try:
        if store.get_run(run_id)["status"] in ("running", "queued"):
            store.set_status(run_id, "failed", error=error)
    except StoreError as exc:
        log.error("run %s: could not record the failure: %s", run_id, exc)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
