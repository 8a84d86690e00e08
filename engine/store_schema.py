"""SQLite schema of the run store, opening a store file safely, and the connection plumbing.

Torch-free. :mod:`engine.store` is the public API. This module holds the DDL,
the schema version, :func:`connect` (PRAGMAs, creating the tables of a new
file, refusing a file it does not understand) and :class:`StoreBase`: the
lock, the short write transactions and the id caches the public API uses.

Layout notes (see "Performance design" in DESIGN.md):

* The hot tables (``scalars``, ``layer_stats``) are ``WITHOUT ROWID`` and keyed
  by integers (``runs.seq``, interned ``stat_names.id``), so "rows of run R
  since step N" is one range scan of the primary key.
* ``layer_stats`` holds one row per (run, stat, step): ``vals`` is every layer's
  value as little-endian float64, layer 0 first (schema version 2). Version 1
  had a row per layer; SQLite's cost is per row, so a 21-layer model's
  statistics now cost a 21st of the inserts (the 20-layer MLP with gradient
  statistics every step: 6% of its step time went to writing rows). NaN and
  ±Inf are stored as they are. A version-1 file is converted when opened.
* ``layer_stats`` has no extra ``(run, step)`` index on purpose: its key
  ``(run, stat, step)`` already serves "statistic S since step N", and reading
  every statistic is one such range scan per statistic. ``scalars`` (a few rows
  per step) does have a ``(run, step)`` index, for "every scalar since step N".
* NaN cannot be stored in a REAL column (binding a NaN stores NULL), so a NULL
  scalar ``value`` means NaN and is read back as NaN. ±Inf are stored as REAL.
* Rewriting an existing (run, name, step) or (run, stat, step) replaces the
  value (upsert), so a resumed worker may flush a step again.
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

from engine.errors import StoreError

SCHEMA_VERSION = 2

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS runs (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    id             TEXT NOT NULL UNIQUE,
    name           TEXT,
    recipe         TEXT,
    recipe_json    TEXT NOT NULL DEFAULT '{}',
    status         TEXT NOT NULL,
    group_id       TEXT,
    created        REAL NOT NULL,
    started        REAL,
    ended          REAL,
    device         TEXT,
    pid            INTEGER,
    heartbeat      REAL,
    step           INTEGER,
    total_steps    INTEGER,
    error          TEXT,
    summary_json   TEXT,
    stop_requested INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS runs_name ON runs(name);
CREATE INDEX IF NOT EXISTS runs_created ON runs(created);

CREATE TABLE IF NOT EXISTS layers (
    run    INTEGER NOT NULL REFERENCES runs(seq) ON DELETE CASCADE,
    kind   TEXT NOT NULL CHECK (kind IN ('param', 'activation')),
    idx    INTEGER NOT NULL,
    name   TEXT NOT NULL,
    family TEXT,
    PRIMARY KEY (run, kind, idx)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS stat_names (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);

CREATE TABLE IF NOT EXISTS scalars (
    run   INTEGER NOT NULL REFERENCES runs(seq) ON DELETE CASCADE,
    name  TEXT NOT NULL,
    step  INTEGER NOT NULL,
    value REAL,
    PRIMARY KEY (run, name, step)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS scalars_run_step ON scalars(run, step);

CREATE TABLE IF NOT EXISTS layer_stats (
    run   INTEGER NOT NULL REFERENCES runs(seq) ON DELETE CASCADE,
    stat  INTEGER NOT NULL,
    step  INTEGER NOT NULL,
    vals  BLOB NOT NULL,
    PRIMARY KEY (run, stat, step)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS findings (
    run        INTEGER NOT NULL REFERENCES runs(seq) ON DELETE CASCADE,
    code       TEXT NOT NULL,
    severity   TEXT NOT NULL,
    first_step INTEGER,
    layers     TEXT NOT NULL DEFAULT '[]',
    message    TEXT NOT NULL DEFAULT '',
    evidence   TEXT NOT NULL DEFAULT '{}',
    remedies   TEXT NOT NULL DEFAULT '[]',
    created    REAL NOT NULL,
    PRIMARY KEY (run, code)
);

CREATE TABLE IF NOT EXISTS events (
    id      INTEGER PRIMARY KEY,
    run     INTEGER NOT NULL REFERENCES runs(seq) ON DELETE CASCADE,
    step    INTEGER,
    time    REAL NOT NULL,
    kind    TEXT NOT NULL,
    payload TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS events_run_step ON events(run, step);
"""

PRAGMAS = (
    "PRAGMA busy_timeout = 10000",  # first, so the ones below wait too
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA foreign_keys = ON",
    "PRAGMA cache_size = -32000",  # 32 MiB page cache per connection
    "PRAGMA temp_store = MEMORY",
)

UPSERT_SCALAR = (
    "INSERT INTO scalars (run, name, step, value) VALUES (?, ?, ?, ?) "
    "ON CONFLICT DO UPDATE SET value = excluded.value"
)
UPSERT_LAYER_STAT = (
    "INSERT INTO layer_stats (run, stat, step, vals) VALUES (?, ?, ?, ?) "
    "ON CONFLICT DO UPDATE SET vals = excluded.vals"
)
#: How ``layer_stats.vals`` is encoded: one little-endian float64 per layer.
LAYER_VALUES = np.dtype("<f8")
INSERT_EVENT = "INSERT INTO events (run, step, time, kind, payload) VALUES (?, ?, ?, ?, ?)"


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
            raise StoreError(f"{path} is not a Gradient Clinic run store (SQLite says: {exc}); "
                             "move it away or point GRADCLINIC_HOME elsewhere") from None
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


def _version(conn: sqlite3.Connection, path: Path) -> int | None:
    """The file's schema version, None for an empty file."""
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not tables:
        return None
    if "meta" not in tables:
        raise StoreError(f"{path} is a SQLite file but not a Gradient Clinic run store (no meta table)")
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    if row is None:
        raise StoreError(f"{path} is a Gradient Clinic run store without a schema_version")
    try:
        return int(row[0])
    except ValueError:
        raise StoreError(f"{path} has an unreadable schema_version {row[0]!r}") from None


def _check_or_create(conn: sqlite3.Connection, path: Path) -> None:
    version = _version(conn, path)
    if version is None:
        conn.execute("BEGIN IMMEDIATE")  # several processes may create it at once
        try:
            if _version(conn, path) is None:
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
        version = _version(conn, path)
    if version == 1:
        _migrate_v1(conn, path)
        version = _version(conn, path)
    if version != SCHEMA_VERSION:
        raise StoreError(
            f"run store {path} has schema version {version}, but this version of Gradient Clinic "
            f"understands schema version {SCHEMA_VERSION} only; upgrade gradclinic or use another "
            "GRADCLINIC_HOME"
        )


def _migrate_v1(conn: sqlite3.Connection, path: Path) -> None:
    """Convert a version-1 file (a ``layer_stats`` row per layer) to version 2, in one transaction.

    If anything fails the file is left exactly as it was.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        if _version(conn, path) == 1:  # another process may have converted it meanwhile
            conn.execute("ALTER TABLE layer_stats RENAME TO layer_stats_v1")
            ddl = SCHEMA[SCHEMA.index("CREATE TABLE IF NOT EXISTS layer_stats"):]
            conn.execute(ddl[: ddl.index(";")])
            rows = conn.execute("SELECT run, stat, step, layer, value FROM layer_stats_v1 ORDER BY run, stat, step, layer")
            key, cells = None, {}

            def put():
                values = np.full(max(cells) + 1, np.nan, dtype=LAYER_VALUES)
                for layer, value in cells.items():
                    values[layer] = np.nan if value is None else value
                conn.execute(UPSERT_LAYER_STAT, (*key, values.tobytes()))

            while batch := rows.fetchmany(10_000):
                for run, stat, step, layer, value in batch:
                    if (run, stat, step) != key:
                        if key is not None:
                            put()
                        key, cells = (run, stat, step), {}
                    cells[layer] = value
            if key is not None:
                put()
            conn.execute("DROP TABLE layer_stats_v1")
            conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


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


def decode_rows(rows: list[tuple[int, bytes]]) -> tuple[np.ndarray, np.ndarray]:
    """(steps[S], values[S, L]) from ``(step, vals)`` rows of ``layer_stats``."""
    if not rows:
        return np.zeros(0, np.int64), np.zeros((0, 0))
    steps, blobs = zip(*rows)
    widths = {len(b) for b in blobs}
    if len(widths) == 1:  # the usual case: one frombuffer for the whole read
        values = np.frombuffer(b"".join(blobs), dtype=LAYER_VALUES).reshape(len(blobs), -1)
    else:
        values = np.full((len(blobs), max(widths) // LAYER_VALUES.itemsize), np.nan)
        for i, b in enumerate(blobs):
            row = np.frombuffer(b, dtype=LAYER_VALUES)
            values[i, : row.size] = row
    return np.array(steps, np.int64), values.astype(np.float64)


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
            bound = self._rows(f"SELECT step FROM {table} WHERE {key} ORDER BY step LIMIT 1 OFFSET ?",
                               (*params, chunk))
            with self._write() as c:
                if bound and c.execute(f"DELETE FROM {table} WHERE {key} AND step < ?",
                                       (*params, bound[0][0])).rowcount:
                    continue
                c.execute(f"DELETE FROM {table} WHERE {key}", params)
                return

    def _stat_rows(self, seq: int, sid: int | None, since_step: int) -> tuple[np.ndarray, np.ndarray]:
        """(steps[S], values[S, L]) of one statistic past ``since_step``, by step.

        Rows written with fewer layers than the widest are padded with NaN.
        """
        rows = [] if sid is None else self._rows(
            "SELECT step, vals FROM layer_stats WHERE run = ? AND stat = ? AND step > ? ORDER BY step",
            (seq, sid, since_step))
        return decode_rows(rows)

    def _layer_names(self, seq: int, kind: str, n: int) -> list[str]:
        """Names of layers 0..n-1 (at least the whole catalogue) of one kind; "layer<i>" where unknown."""
        names = dict(self._rows("SELECT idx, name FROM layers WHERE run = ? AND kind = ?", (seq, kind)))
        return [names.get(i, f"layer{i}") for i in range(max(n, len(names)))]
