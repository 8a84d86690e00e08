"""What the hardening and fault tests share: waiting, a lock held by another process, calling the CLI."""

from __future__ import annotations

import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from engine.cli import main

ROOT = Path(__file__).resolve().parents[2]
HOOKS = Path(__file__).resolve().parent / "faulthooks"
#: Another process takes the store's write lock, says so on stdout, holds it, and commits.
_HOLDER = (
    "import sqlite3, sys, time\n"
    "c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)\n"
    "c.execute('BEGIN IMMEDIATE')\n"
    "print('locked', flush=True)\n"
    "time.sleep(float(sys.argv[2]))\n"
    "c.execute('COMMIT')\n"
)


def wait_for(predicate, timeout: float = 60.0, every: float = 0.05):
    """Poll ``predicate`` until it returns something true; fail the test after ``timeout`` seconds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting")


@contextmanager
def lock_held(db: Path, seconds: float):
    """Another process holds ``db``'s write lock (``BEGIN IMMEDIATE``) for ``seconds``, or until the block ends.

    The block may ``proc.wait()`` for the whole hold; leaving it early kills the holder, which frees the lock.
    """
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, str(db), str(seconds)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        yield proc
    finally:
        proc.kill()
        proc.wait()


def cli(capsys, *args: str) -> tuple[int, str, str]:
    """Run ``gradclinic ARGS`` in this process: (exit code, stdout, stderr)."""
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def one_clear_line(err: str, *words: str) -> bool:
    """True when ``err`` ends in one ``gradclinic:`` line holding every word, with no traceback.

    (``run`` may say its up-front estimate on a ``gradclinic:`` line before it.)
    """
    lines = err.strip().splitlines()
    return (
        bool(lines)
        and all(line.startswith("gradclinic:") for line in lines)
        and "Traceback" not in err
        and len(lines[-1]) < 2048
        and all(w in lines[-1] for w in words)
    )
