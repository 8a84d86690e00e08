"""``python -m engine.worker RUN_ID``: train one stored run in this process.

Started by :mod:`engine.runs` in its own process session. It reads the
resolved recipe from the store, beats a heartbeat from a side thread (so a
long evaluation never looks like a hang), trains, and on the way out starts
whatever the queue allows next. A user error (bad data, say) ends the run
as ``failed`` with a readable message; any other exception too, with its
traceback stored.
"""
from __future__ import annotations

import os
import sys
import threading

from engine.errors import RecipeError
from engine.store import Store

HEARTBEAT_S = 1.0


def _heartbeat(home, run_id: str, done: threading.Event) -> None:
    store = Store(home)  # its own connection: SQLite connections are not shared across threads
    try:
        while not done.wait(HEARTBEAT_S):
            store.heartbeat(run_id)
    finally:
        store.close()


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        sys.stderr.write("usage: python -m engine.worker RUN_ID\n")
        return 2
    run_id = argv[0]
    store = Store()
    run = store.get_run(run_id)
    resume = (store.runs_dir(run_id) / "state.pt").is_file()
    done = threading.Event()
    beat = threading.Thread(target=_heartbeat, args=(store.home, run_id, done), daemon=True)
    beat.start()
    code = 0
    try:
        from engine import runs, session
        from engine.recipe import Recipe

        import torch

        torch.set_num_threads(max(1, (os.cpu_count() or 2) // runs.default_concurrency()))
        recipe = Recipe.from_dict(run["recipe"])
        prepared = session.prepare(recipe)
        session.train(store, run_id, prepared, resume=resume)
    except RecipeError as exc:
        store.set_status(run_id, "failed", error=str(exc))
        code = 2
    except Exception:  # session.train stored the error and the traceback
        if store.get_run(run_id)["status"] in ("running", "queued"):
            import traceback

            store.set_status(run_id, "failed", error=traceback.format_exc(limit=8))
        code = 1
    finally:
        done.set()
        beat.join(timeout=2)
        from engine import runs

        runs.schedule(store)
        store.close()
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
