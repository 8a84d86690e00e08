"""Opening a store file safely, and the connection plumbing the public API stands on.

Torch-free. :func:`connect` sets the PRAGMAs, creates the tables of a new file,
converts an older one (:mod:`engine.store.migrations`) and refuses a file it
does not understand. :class:`StoreBase` holds the lock, the short write
transactions and the id caches :class:`engine.store.Store` uses.
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
from typing import Any

import numpy as np

from engine.config.errors import StoreError
from engine.store import migrations
from engine.store.schema import PRAGMAS, SCHEMA, SCHEMA_VERSION, decode_rows


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
        not_a_db = getattr(exc, "sqlite_errorname", "") in ("SQLITE_NOTADB", "SQLITE_CORRUPT")
        if not_a_db or "not a database" in str(exc):  # (sqlite_errorname is Python >= 3.11)
            raise StoreError(
                f"{path} is not a Gradient Clinic run store (SQLite says: {exc}); "
                "move it away or point GRADCLINIC_HOME elsewhere"
            ) from None
        raise StoreError(f"cannot open run store {path}: {exc}") from None
    except BaseException:
        conn.close()
        raise
    return conn


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
            if "locked" not in str(exc) or time.monotonic() > deadline:
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
    """One connection to ``home/runs.db``, a lock around it and the helpers the public API uses."""

    def __init__(self, home: str | os.PathLike | None = None):
        self.home = (Path(home) if home is not None else default_home()).expanduser()
        try:
            (self.home / "runs").mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the run store folder {self.home}: {exc}") from None
        self.path = self.home / "runs.db"
        self._conn: sqlite3.Connection | None = connect(self.path)
        self._lock = threading.RLock()
        self._seqs: dict[str, int] = {}  # run id -> runs.seq; seqs are never reused (AUTOINCREMENT)
        self._stat_ids: dict[str, int] = {}
        self._scopes: dict[str, str] = {}  # statistic name -> "param" | "activation"

    @property
    def _c(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"the run store {self.path} is closed")
        return self._conn

    def _rows(self, sql: str, params: Iterable = ()) -> list[tuple]:
        with self._lock:
            return self._c.execute(sql, tuple(params)).fetchall()

    @contextmanager
    def _write(self):
        """One short ``BEGIN IMMEDIATE`` transaction: committed on success, rolled back on error."""
        with self._lock:
            conn = self._c
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

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

    def _stat_id(self, name: str, create: bool = True) -> int | None:
        """The interned id of a statistic name (added if new, unless ``create`` is false)."""
        sid = self._stat_ids.get(name)
        if sid is None:
            rows = self._rows("SELECT id FROM stat_names WHERE name = ?", (name,))
            if not rows and not create:
                return None
            if not rows:
                with self._write() as c:
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
        return decode_rows(rows)

    def _layer_names(self, seq: int, kind: str, n: int) -> list[str]:
        """Names of layers 0..n-1 (at least the whole catalogue) of one kind; "layer<i>" where unknown."""
        names = dict(self._rows("SELECT idx, name FROM layers WHERE run = ? AND kind = ?", (seq, kind)))
        return [names.get(i, f"layer{i}") for i in range(max(n, len(names)))]
