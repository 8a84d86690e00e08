"""Opening a store file safely, and the connection plumbing the public API stands on.

Torch-free. :func:`connect` sets the PRAGMAs, creates the tables of a new file,
converts an older one (:mod:`engine.store.migrations`) and refuses a file it
does not understand. :class:`StoreBase` holds the lock, the short write
transactions and the id caches :class:`engine.store.Store` uses.

A write waits :data:`LOCK_WAIT_S` for another process's lock, then raises
``StoreBusy`` (:mod:`engine.store.errors`); reads never wait (WAL). A
:data:`RESERVE_BYTES` file beside the store is deleted when the disk fills,
so the write that records why a run stopped still has room.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from engine.config.errors import StoreError
from engine.store import migrations
from engine.store.errors import StoreDamaged, StoreFull, doctor_hint, is_locked, translate
from engine.store.schema import PRAGMAS, SCHEMA, SCHEMA_VERSION, decode_rows

#: How long a write waits for another process's write lock before giving up with
#: :class:`engine.store.errors.StoreBusy`. Training raises it (``Store.lock_wait``)
#: so a run outlives a transient lock; a listing does not write at all.
LOCK_WAIT_S = 10.0
#: A file this big is kept beside every writable store and deleted when the disk fills,
#: so that a run stopped by a full disk can still record that it failed, and why.
RESERVE_BYTES = 256 * 1024
RESERVE = ".space-reserve"


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating if new) the store database at ``path``.

    Raises :class:`StoreError` when the file is not SQLite, is SQLite but not
    a Gradient Clinic store, or has a schema version this code does not know.
    """
    try:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10.0)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open run store {path}: {exc}") from None
    try:
        for pragma in PRAGMAS:
            _execute_retrying(conn, pragma)
        _check_or_create(conn, path)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise _open_error(exc, path) from None
    except BaseException:
        conn.close()
        raise
    return conn


def connect_readonly(path: Path) -> sqlite3.Connection:
    """Open an existing store file to read only: nothing is created, converted or written (``doctor``)."""
    if not path.is_file():
        raise StoreError(f"no run store at {path}")
    try:
        conn = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
        )
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open run store {path}: {exc}") from None
    try:
        conn.execute("PRAGMA busy_timeout = 10000")
        version = migrations.version(conn, path)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise _open_error(exc, path) from None
    except BaseException:
        conn.close()
        raise
    if version != SCHEMA_VERSION:
        conn.close()
        raise StoreError(
            f"run store {path} has schema version {version}; open it once with this version of Gradient Clinic "
            f"(which converts it) before checking it"
        )
    return conn


def _open_error(exc: sqlite3.DatabaseError, path: Path) -> StoreError:
    name = getattr(exc, "sqlite_errorname", "")  # (Python >= 3.11)
    if name == "SQLITE_NOTADB" or "not a database" in str(exc):
        return StoreError(
            f"{path} is not a Gradient Clinic run store (SQLite says: {exc}); "
            "move it away or point GRADCLINIC_HOME elsewhere"
        )
    if name == "SQLITE_CORRUPT" or "malformed" in str(exc):
        return StoreDamaged(
            f"{path} is damaged, or is not a Gradient Clinic run store (SQLite says: {exc}); "
            f"{doctor_hint(path.parent)}, or move it away"
        )
    return translate(exc, path) or StoreError(f"cannot open run store {path}: {exc}")


def _execute_retrying(conn: sqlite3.Connection, sql: str, wait_s: float = 10.0) -> None:
    """``conn.execute(sql)``, retried while the database is locked.

    Switching a new file to WAL takes a lock without calling SQLite's busy handler,
    so several processes opening a fresh store at once could fail with "database is
    locked" (about 1 in 15 tries with 8 threads) instead of waiting their turn.
    """
    deadline = time.monotonic() + wait_s
    while True:
        try:
            conn.execute(sql)
            return
        except sqlite3.OperationalError as exc:
            if not is_locked(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _check_or_create(conn: sqlite3.Connection, path: Path) -> None:
    version = migrations.version(conn, path)
    if version is None:
        conn.execute("BEGIN IMMEDIATE")  # several processes may create it at once
        try:
            if migrations.version(conn, path) is None:
                for statement in SCHEMA.split(";"):  # not executescript: it would COMMIT
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(
                    "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
                    (str(SCHEMA_VERSION),),
                )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        version = migrations.version(conn, path)
    if version is not None and version < SCHEMA_VERSION:
        migrations.upgrade(conn, path, version)
        version = migrations.version(conn, path)
    if version != SCHEMA_VERSION:
        raise StoreError(
            f"run store {path} has schema version {version}, but this version of Gradient Clinic "
            f"understands schema version {SCHEMA_VERSION} only; upgrade gradclinic or use another "
            "GRADCLINIC_HOME"
        )


def keep_reserve(home: Path) -> None:
    """Set :data:`RESERVE_BYTES` aside in ``home`` unless it is already (or there is no room for it)."""
    path = home / RESERVE
    if path.exists():
        return
    tmp = home / f"{RESERVE}.tmp"
    try:
        with open(tmp, "wb") as f:
            f.write(b"\0" * RESERVE_BYTES)  # written, not sparse: the blocks are really taken
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)  # no room (or read-only): the store works without it


def default_home() -> Path:
    """``$GRADCLINIC_HOME`` if set, else ``./.gradclinic``."""
    return Path(os.environ.get("GRADCLINIC_HOME") or ".gradclinic")


def _plain(obj: Any) -> Any:
    if hasattr(obj, "tolist"):  # numpy scalars and arrays
        return obj.tolist()
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")


def dumps(obj: Any) -> str:
    """JSON text of ``obj``; numpy values, sets and paths are turned into plain JSON."""
    return json.dumps(obj, default=_plain)


def as_int(value: Any) -> int | None:
    return None if value is None else int(value)


class StoreBase:
    """One connection to ``home/runs.db``, a lock around it and the helpers the public API uses.

    Every SQLite error that means busy, full or damaged leaves here as a
    :class:`StoreError` subclass (:mod:`engine.store.errors`) naming the file.
    """

    def __init__(self, home: str | os.PathLike | None = None, *, readonly: bool = False):
        self.home = (Path(home) if home is not None else default_home()).expanduser()
        self.path = self.home / "runs.db"
        if not readonly:
            try:
                (self.home / "runs").mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create the run store folder {self.home}: {exc}") from None
        self._conn: sqlite3.Connection | None = connect_readonly(self.path) if readonly else connect(self.path)
        if not readonly:
            keep_reserve(self.home)
        self._lock = threading.RLock()
        self.lock_wait_s = LOCK_WAIT_S
        self._busy_ms = 10_000  # the busy_timeout PRAGMAS set
        self._seqs: dict[str, int] = {}  # run id -> runs.seq; seqs are never reused (AUTOINCREMENT)
        self._stat_ids: dict[str, int] = {}
        self._scopes: dict[str, str] = {}  # statistic name -> "param" | "activation"

    @property
    def _c(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"the run store {self.path} is closed")
        return self._conn

    def _raise(self, exc: sqlite3.Error, waited_s: float | None = None) -> NoReturn:
        translated = translate(exc, self.path, waited_s)
        if translated is None:
            raise exc
        raise translated from None

    def _query(self, sql: str, params: Iterable = ()) -> tuple[list[str], list[tuple]]:
        """(column names, rows) of one read; never takes the write lock (WAL readers do not wait for writers)."""
        with self._lock:
            try:
                cur = self._c.execute(sql, tuple(params))
                return [d[0] for d in cur.description or ()], cur.fetchall()
            except sqlite3.Error as exc:
                self._raise(exc)

    def _rows(self, sql: str, params: Iterable = ()) -> list[tuple]:
        return self._query(sql, params)[1]

    @contextmanager
    def lock_wait(self, seconds: float):
        """Within this block, writes wait up to ``seconds`` for another process's write lock."""
        old, self.lock_wait_s = self.lock_wait_s, float(seconds)
        try:
            yield self
        finally:
            self.lock_wait_s = old

    def _begin(self, conn: sqlite3.Connection, wait_s: float) -> None:
        ms = max(0, int(wait_s * 1000))
        if ms != self._busy_ms:  # SQLite's busy handler does the waiting; only its limit changes
            conn.execute(f"PRAGMA busy_timeout = {ms}")
            self._busy_ms = ms
        t0 = time.monotonic()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            self._raise(exc, waited_s=time.monotonic() - t0)

    @contextmanager
    def _write(self, wait_s: float | None = None):
        """One short ``BEGIN IMMEDIATE`` transaction: committed on success, rolled back on error.

        It waits up to ``wait_s`` (default :attr:`lock_wait_s`) for the write lock, then
        raises :class:`engine.store.errors.StoreBusy`; a full disk raises ``StoreFull``
        and nothing of the transaction is kept.
        """
        with self._lock:
            conn = self._c
            self._begin(conn, self.lock_wait_s if wait_s is None else wait_s)
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException as exc:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:  # SQLite already rolled back (a full disk does)
                    pass
                if isinstance(exc, sqlite3.Error):
                    if isinstance(translate(exc, self.path), StoreFull):
                        # room for what comes next: the run's failed status and its one-line reason
                        (self.home / RESERVE).unlink(missing_ok=True)
                    self._raise(exc)
                raise

    def _seq(self, run_id: str) -> int:
        seq = self._seqs.get(run_id)
        if seq is None:
            rows = self._rows("SELECT seq FROM runs WHERE id = ?", (str(run_id),))
            if not rows:
                raise StoreError(f"no run {run_id!r}")
            seq = self._seqs[run_id] = rows[0][0]
        return seq

    def _update(self, run_id: str, sql: str, params: tuple) -> None:
        with self._write() as c:
            if c.execute(f"UPDATE runs SET {sql} WHERE seq = ?", (*params, self._seq(run_id))).rowcount == 0:
                raise StoreError(f"run {run_id!r} was deleted")

    def _stat_id(self, name: str, create: bool = True, wait_s: float | None = None) -> int | None:
        """The interned id of a statistic name (added if new, unless ``create`` is false)."""
        sid = self._stat_ids.get(name)
        if sid is None:
            rows = self._rows("SELECT id FROM stat_names WHERE name = ?", (name,))
            if not rows and not create:
                return None
            if not rows:
                with self._write(wait_s) as c:
                    c.execute("INSERT OR IGNORE INTO stat_names (name) VALUES (?)", (name,))
                rows = self._rows("SELECT id FROM stat_names WHERE name = ?", (name,))
            sid = self._stat_ids[name] = rows[0][0]
        return sid

    def close(self) -> None:
        """Close the connection; further calls raise :class:`StoreError`."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.home)!r})"

    def _delete_chunked(self, table: str, key: str, params: tuple, chunk: int = 200_000) -> None:
        """Delete the rows of ``table`` matching ``key``, oldest steps first, one short transaction per chunk."""
        while True:
            bound = self._rows(f"SELECT step FROM {table} WHERE {key} ORDER BY step LIMIT 1 OFFSET ?", (*params, chunk))
            with self._write() as c:
                if (
                    bound
                    and c.execute(f"DELETE FROM {table} WHERE {key} AND step < ?", (*params, bound[0][0])).rowcount
                ):
                    continue
                c.execute(f"DELETE FROM {table} WHERE {key}", params)
                return

    def _stat_rows(self, seq: int, sid: int | None, since_step: int) -> tuple[np.ndarray, np.ndarray]:
        """(steps[S], values[S, L]) of one statistic past ``since_step``, by step.

        Rows written with fewer layers than the widest are padded with NaN.
        """
        rows = (
            []
            if sid is None
            else self._rows(
                "SELECT step, vals FROM layer_stats WHERE run = ? AND stat = ? AND step > ? ORDER BY step",
                (seq, sid, since_step),
            )
        )
        return self._decode(rows, seq, sid)

    def _decode(self, rows: list[tuple], seq: int, sid: int | None) -> tuple[np.ndarray, np.ndarray]:
        """:func:`decode_rows`, with a damaged row said as :class:`StoreDamaged` naming the run and statistic."""
        try:
            return decode_rows(rows)
        except ValueError as exc:
            run = self._rows("SELECT id FROM runs WHERE seq = ?", (seq,))
            stat = self._rows("SELECT name FROM stat_names WHERE id = ?", (sid,))
            raise StoreDamaged(
                f"run {run[0][0] if run else seq}: statistic {stat[0][0] if stat else sid!r} is damaged ({exc}); "
                f"{doctor_hint(self.home)}"
            ) from None

    def _layer_names(self, seq: int, kind: str, n: int) -> list[str]:
        """Names of layers 0..n-1 (at least the whole catalogue) of one kind; "layer<i>" where unknown."""
        names = dict(self._rows("SELECT idx, name FROM layers WHERE run = ? AND kind = ?", (seq, kind)))
        return [names.get(i, f"layer{i}") for i in range(max(n, len(names)))]
