"""Fault hooks for the worker processes of tests/engine/test_faults.py (imported at start-up via PYTHONPATH).

Nothing here runs unless the test sets ``GC_FAULT_DIR``. Then, in that worker:

* ``GC_FAULT_CHECKPOINT_S=S``: checkpoint every ``S`` seconds of evaluations (the default is 10 s).
* ``GC_FAULT_PAUSE=flush:N``: stop forever inside the N-th flush's write transaction, before its COMMIT.
* ``GC_FAULT_PAUSE=ckpt-inside:N``: stop inside the N-th ``state.pt`` write, its temporary file written.
* ``GC_FAULT_PAUSE=ckpt-between:N``: stop before the N-th ``state.pt`` write (after ``best.safetensors``).
* ``GC_FAULT_FULL_AFTER=N``: after N flushes, the store file may not grow (SQLite's ``max_page_count``),
  which SQLite reports exactly as a full disk.

A pause writes ``$GC_FAULT_DIR/paused`` (JSON) first, so the test knows where the worker stands and kills it.
"""

import json
import os
import threading
import time
from contextlib import contextmanager
from pathlib import Path

_DIR = os.environ.get("GC_FAULT_DIR")


def _pause(where: str) -> None:
    marker = Path(_DIR) / "paused"
    tmp = marker.with_suffix(".tmp")
    tmp.write_text(json.dumps({"where": where, "pid": os.getpid()}))
    os.replace(tmp, marker)
    while True:
        time.sleep(60)


def _install() -> None:
    from engine.store.connection import StoreBase
    from engine.store.store import Store
    from engine.training import checkpoint

    where, _, nth = os.environ.get("GC_FAULT_PAUSE", "").partition(":")
    nth_i = int(nth or 0)
    every = os.environ.get("GC_FAULT_CHECKPOINT_S")
    if every is not None:
        checkpoint.Checkpointer.__init__.__defaults__ = (float(every),)
    flushes = {"n": 0}
    inside = threading.local()
    full_after = int(os.environ.get("GC_FAULT_FULL_AFTER", "0"))
    original_flush, original_write = Store.flush, StoreBase._write

    def flush(self, run_id, **kw):
        flushes["n"] += 1
        if full_after and flushes["n"] == full_after:
            pages = self._c.execute("PRAGMA page_count").fetchone()[0]
            self._c.execute(f"PRAGMA max_page_count = {pages}")
        inside.n = flushes["n"]
        try:
            return original_flush(self, run_id, **kw)
        finally:
            inside.n = 0

    @contextmanager
    def write(self, wait_s=None):
        with original_write(self, wait_s) as conn:
            yield conn
            if where == "flush" and getattr(inside, "n", 0) == nth_i:
                _pause(f"flush:{nth_i}")

    Store.flush, StoreBase._write = flush, write
    original_atomic = checkpoint._atomic
    states = {"n": 0}

    def atomic(path, write_file, step):
        if path.name != checkpoint.STATE:
            return original_atomic(path, write_file, step)
        states["n"] += 1
        if where == "ckpt-between" and states["n"] == nth_i:
            _pause(f"ckpt-between:{nth_i}")

        def write_then_maybe_pause(tmp):
            write_file(tmp)
            if where == "ckpt-inside" and states["n"] == nth_i:
                _pause(f"ckpt-inside:{nth_i}")

        return original_atomic(path, write_then_maybe_pause, step)

    checkpoint._atomic = atomic


if _DIR:
    _install()
