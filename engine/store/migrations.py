"""Converting a store file written by an older version, one step per version, in place.

Each step runs in one transaction, so a failed conversion rolls back and
leaves the file exactly as it was. :func:`upgrade` applies every step from the
file's version to :data:`engine.store.schema.SCHEMA_VERSION`.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from pathlib import Path

import numpy as np

from engine.config.errors import StoreError
from engine.store.schema import LAYER_VALUES, SCHEMA, UPSERT_LAYER_STAT


def version(conn: sqlite3.Connection, path: Path) -> int | None:
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


def upgrade(conn: sqlite3.Connection, path: Path, found: int) -> None:
    """Apply every step from version ``found`` up; a version with no step is left for the caller to refuse."""
    while found in STEPS:
        _in_transaction(conn, path, found, STEPS[found])
        found += 1


def _in_transaction(
    conn: sqlite3.Connection, path: Path, source: int, step: Callable[[sqlite3.Connection], None]
) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        if version(conn, path) == source:  # another process may have converted it meanwhile
            step(conn)
            conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(source + 1),))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def v1_to_v2(conn: sqlite3.Connection) -> None:
    """Version 1 had a ``layer_stats`` row per layer; version 2 has one per step, every layer in a blob."""
    conn.execute("ALTER TABLE layer_stats RENAME TO layer_stats_v1")
    ddl = SCHEMA[SCHEMA.index("CREATE TABLE IF NOT EXISTS layer_stats") :]
    conn.execute(ddl[: ddl.index(";")])
    rows = conn.execute("SELECT run, stat, step, layer, value FROM layer_stats_v1 ORDER BY run, stat, step, layer")
    key: tuple[int, int, int] | None = None
    cells: dict[int, float | None] = {}

    def put() -> None:
        values = np.full(max(cells) + 1, np.nan, dtype=LAYER_VALUES)
        for layer, value in cells.items():
            values[layer] = np.nan if value is None else value
        conn.execute(UPSERT_LAYER_STAT, (*key, values.tobytes()))  # type: ignore[misc]

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


#: Statistics of versions 1 and 2 that followed the activation layers. Those versions guessed a
#: statistic's catalogue from its name; version 3 stores what the probe declared.
V2_ACTIVATION_STATS = ("act_mean", "act_std", "dead_fraction", "saturated_fraction")


def v2_to_v3(conn: sqlite3.Connection) -> None:
    """Version 3 records each statistic's scope (which layer catalogue it follows) in ``stat_names``."""
    conn.execute(
        "ALTER TABLE stat_names ADD COLUMN scope TEXT NOT NULL DEFAULT 'param' CHECK (scope IN ('param', 'activation'))"
    )
    conn.execute(
        f"UPDATE stat_names SET scope = 'activation' WHERE name LIKE 'act\\_%' ESCAPE '\\'"
        f" OR name IN ({', '.join('?' * len(V2_ACTIVATION_STATS))})",
        V2_ACTIVATION_STATS,
    )


#: The columns version 4 added to ``runs``: what a person sets on a run (tags, notes) and
#: what asks its worker to wait (pause, slow motion).
V4_RUN_COLUMNS = ("tags", "notes", "paused", "pace_ms")


def column_ddl(table: str, column: str) -> str:
    """The definition of ``table.column`` as :data:`SCHEMA` writes it (``"tags TEXT NOT NULL DEFAULT ''"``)."""
    body = SCHEMA[SCHEMA.index(f"CREATE TABLE IF NOT EXISTS {table} (") :]
    body = body[: body.index(");")]
    match = re.search(rf"^\s*({re.escape(column)}\s[^,\n]*)", body, re.MULTILINE)
    if match is None:
        raise KeyError(f"{table}.{column} is not in the schema")
    return match.group(1).strip()


def v3_to_v4(conn: sqlite3.Connection) -> None:
    """Version 4 gives each run its tags and notes, and the pause and slow-motion controls."""
    have = {row[1] for row in conn.execute("PRAGMA table_info(runs)")}
    for column in V4_RUN_COLUMNS:
        if column not in have:  # (a file rebuilt by hand may have some already)
            conn.execute(f"ALTER TABLE runs ADD COLUMN {column_ddl('runs', column)}")


#: The step that converts a file of version N (the key) to N + 1.
STEPS: dict[int, Callable[[sqlite3.Connection], None]] = {1: v1_to_v2, 2: v2_to_v3, 3: v3_to_v4}
