"""What can go wrong with a store file, said in one line: busy, full, damaged.

Torch-free. SQLite reports these as ``sqlite3.OperationalError`` or
``DatabaseError`` with terse texts ("database is locked", "database or disk is
full", "database disk image is malformed"). :func:`translate` turns each into a
:class:`engine.config.errors.StoreError` subclass whose message names the file
and says what to do, so the CLI and the app never show a traceback for them.
Anything else SQLite says (a bad SQL statement: a bug) is left as it is.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from engine.config.errors import StoreError

_MAX_DETAIL = 200  # characters of SQLite's or the decoder's own words quoted in a message


class StoreBusy(StoreError):
    """Another process held the store's write lock for longer than this one would wait."""


class StoreFull(StoreError):
    """The disk (or the file's size cap) holding the store is full; nothing of the failed write was kept."""


class StoreDamaged(StoreError):
    """Pages or rows of the store cannot be read back: the file is damaged or was tampered with."""


def doctor_hint(home: Path) -> str:
    """How to check a damaged store and copy its intact runs out."""
    return (
        f"check it with `gradclinic --home {home} doctor`, and copy its intact runs into a new store "
        f"with `gradclinic --home {home} doctor --salvage NEW_HOME`"
    )


def _name(exc: sqlite3.Error) -> str:
    return getattr(exc, "sqlite_errorname", "") or ""  # (Python >= 3.11)


def is_locked(exc: BaseException) -> bool:
    """True for SQLite's "database is locked" / busy errors."""
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    return _name(exc).startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in str(exc) or "busy" in str(exc)


def translate(exc: sqlite3.Error, path: Path, waited_s: float | None = None) -> StoreError | None:
    """The :class:`StoreError` that says what ``exc`` means for the store at ``path``, or None for a bug."""
    if isinstance(exc, sqlite3.IntegrityError):
        return None  # a constraint the caller handles (a run id drawn twice, say)
    text, name = str(exc), _name(exc)
    if is_locked(exc):
        held = f" for {waited_s:.0f} s" if waited_s is not None else ""
        return StoreBusy(
            f"the run store {path} is busy: another process has held its write lock{held}; try again when it is done"
        )
    if name.startswith("SQLITE_FULL") or "disk is full" in text:
        return StoreFull(f"the disk holding the run store {path} is full (SQLite: {text})")
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or "malformed" in text or "not a database" in text:
        return StoreDamaged(f"the run store {path} is damaged (SQLite: {text}); {doctor_hint(path.parent)}")
    if name.startswith("SQLITE_IOERR") or "disk I/O error" in text:
        return StoreError(f"cannot read or write the run store {path}: {text} (is its disk full, gone or failing?)")
    if name.startswith("SQLITE_READONLY") or "readonly" in text:
        return StoreError(f"the run store {path} is read-only here ({text}); use a writable GRADCLINIC_HOME")
    return None


def loads(text: Any, run_id: str, what: str, home: Path) -> Any:
    """``json.loads(text)`` of one stored column; a damaged value raises :class:`StoreDamaged` naming it."""
    try:
        return json.loads(text)
    except (TypeError, ValueError) as exc:
        detail = str(exc)[:_MAX_DETAIL]
        raise StoreDamaged(
            f"run {run_id}: its stored {what} is damaged (not JSON: {detail}); {doctor_hint(home)}"
        ) from None
