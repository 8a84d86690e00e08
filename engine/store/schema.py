"""SQLite schema of the run store: the DDL, its version, the SQL the hot paths run, the blob format.

Torch-free. :mod:`engine.store.store` is the public API;
:mod:`engine.store.connection` opens a file and :mod:`engine.store.migrations`
converts older files.

Layout notes (see "Performance design" in docs/architecture.md):

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
* ``stat_names.scope`` says which layer catalogue a statistic's values follow:
  ``param`` (weight layers) or ``activation`` (activation layers). The writer
  (the probe that made it) says so; schema version 3 added the column.
* ``layer_stats`` has no extra ``(run, step)`` index on purpose: its key
  ``(run, stat, step)`` already serves "statistic S since step N", and reading
  every statistic is one such range scan per statistic. ``scalars`` (a few rows
  per step) does have a ``(run, step)`` index, for "every scalar since step N".
* NaN cannot be stored in a REAL column (binding a NaN stores NULL), so a NULL
  scalar ``value`` means NaN and is read back as NaN. ±Inf are stored as REAL.
* Rewriting an existing (run, name, step) or (run, stat, step) replaces the
  value (upsert), so a resumed worker may flush a step again.
* ``runs.tags`` and ``runs.notes`` are what a person writes on a run (checked by
  :mod:`engine.store.annotations`); ``runs.paused`` and ``runs.pace_ms`` ask its
  worker to wait, which it reads at each flush beside ``stop_requested``.
  Schema version 4 added the four columns.
"""

from __future__ import annotations

import numpy as np

SCHEMA_VERSION = 4

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
    stop_requested INTEGER NOT NULL DEFAULT 0,
    tags           TEXT NOT NULL DEFAULT '',
    notes          TEXT NOT NULL DEFAULT '',
    paused         INTEGER NOT NULL DEFAULT 0,
    pace_ms        INTEGER NOT NULL DEFAULT 0
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
    id    INTEGER PRIMARY KEY,
    name  TEXT NOT NULL UNIQUE,
    scope TEXT NOT NULL DEFAULT 'param' CHECK (scope IN ('param', 'activation'))
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
    "INSERT INTO scalars (run, name, step, value) VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET value = excluded.value"
)
UPSERT_LAYER_STAT = (
    "INSERT INTO layer_stats (run, stat, step, vals) VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET vals = excluded.vals"
)
#: How ``layer_stats.vals`` is encoded: one little-endian float64 per layer.
LAYER_VALUES = np.dtype("<f8")
INSERT_EVENT = "INSERT INTO events (run, step, time, kind, payload) VALUES (?, ?, ?, ?, ?)"


def decode_rows(rows: list[tuple[int, bytes]]) -> tuple[np.ndarray, np.ndarray]:
    """(steps[S], values[S, L]) from ``(step, vals)`` rows of ``layer_stats``.

    Raises ValueError naming the step of a row that is not whole float64 values.
    """
    if not rows:
        return np.zeros(0, np.int64), np.zeros((0, 0))
    steps, blobs = zip(*rows)
    for step, blob in rows:  # a tampered or truncated row: say which, instead of numpy's words
        if not isinstance(blob, bytes) or len(blob) % LAYER_VALUES.itemsize:
            size = f"{len(blob)} bytes" if isinstance(blob, bytes) else f"a {type(blob).__name__}"
            raise ValueError(f"its row at step {step} holds {size}, not whole float64 values")
    widths = {len(b) for b in blobs}
    if len(widths) == 1:  # the usual case: one frombuffer for the whole read
        values = np.frombuffer(b"".join(blobs), dtype=LAYER_VALUES).reshape(len(blobs), -1)
    else:
        values = np.full((len(blobs), max(widths) // LAYER_VALUES.itemsize), np.nan)
        for i, b in enumerate(blobs):
            row = np.frombuffer(b, dtype=LAYER_VALUES)
            values[i, : row.size] = row
    return np.array(steps, np.int64), values.astype(np.float64)
