"""``gradclinic doctor``: check a store file for damage, and copy its intact runs into a new store.

Torch-free. :func:`check` runs SQLite's ``PRAGMA integrity_check`` and then
reads every run back the way the commands do (its row, recipe and summary
JSON, layers, scalars, statistic blobs, findings, events), without writing
anything. A run is *intact* when all of that reads back cleanly.
:func:`salvage` copies the intact runs, with their folders (checkpoints, logs),
into a new store; the damaged file is never changed.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

from engine.config.errors import RecipeError, StoreError
from engine.store.connection import default_home
from engine.store.store import Store

MAX_PROBLEMS = 10  # integrity_check lines kept in a report; the count says how many there were
_PROBE_LIMIT = 1_000_000  # run seqs tried one by one when the runs table cannot be scanned


def _home(home: str | Path | None) -> Path:
    return (Path(home) if home is not None else default_home()).expanduser()


def _integrity(conn: sqlite3.Connection) -> list[str]:
    """SQLite's own verdict: [] when the file is sound, else its first complaints."""
    try:
        rows = [r[0] for r in conn.execute(f"PRAGMA integrity_check({MAX_PROBLEMS + 1})")]
    except sqlite3.DatabaseError as exc:
        return [f"SQLite could not check the file: {exc}"]
    return [] if rows == ["ok"] else rows


def _run_ids(store: Store) -> tuple[list[str], str | None]:
    """Every run id that can be found, and why the list may be incomplete (None when it is not)."""
    try:
        return [r[0] for r in store._rows("SELECT id FROM runs ORDER BY seq")], None
    except StoreError as exc:
        scan_error = str(exc)
    top = 0  # the runs table cannot be scanned whole: look each seq up through what still reads
    for sql in ("SELECT seq FROM sqlite_sequence WHERE name = 'runs'", "SELECT MAX(seq) FROM runs"):
        try:
            rows = store._rows(sql)
        except StoreError:
            continue
        if rows and rows[0][0]:
            top = int(rows[0][0])
            break
    ids = []
    for seq in range(1, min(top, _PROBE_LIMIT) + 1):
        try:
            ids += [r[0] for r in store._rows("SELECT id FROM runs WHERE seq = ?", (seq,))]
        except StoreError:
            continue
    return ids, f"the runs table could not be read whole ({scan_error}); runs found one by one"


def _read_back(store: Store, run_id: str) -> str | None:
    """None when every row of the run reads back cleanly, else what failed (one line)."""
    try:
        store.get_run(run_id)
        store.layers(run_id)
        store.scalars(run_id)
        store.layer_stats(run_id)
        store.findings(run_id)
        store.events(run_id)
    except StoreError as exc:  # said without the run's id (the report names it) or the hint to run doctor
        return str(exc).split("; check it with")[0].removeprefix(f"run {run_id}: ")
    return None


def check(home: str | Path | None = None) -> dict[str, Any]:
    """What is wrong with the store at ``home``: SQLite's integrity check, and which runs read back.

    Returns {store, ok, integrity (SQLite's first complaints, [] when sound), problems (how many),
    runs: {total, intact: [ids], damaged: [{id, why}], note}}. Nothing is written.
    """
    path = _home(home) / "runs.db"
    if not path.is_file():
        raise StoreError(f"no run store at {path}")
    report: dict[str, Any] = {"store": str(path), "ok": False, "integrity": [], "problems": 0}
    try:
        store = Store(path.parent, readonly=True)
    except StoreError as exc:
        report["integrity"] = [str(exc)]
        report["problems"] = 1
        report["runs"] = {"total": None, "intact": [], "damaged": [], "note": "the store cannot be opened"}
        return report
    with store:
        problems = _integrity(store._c)
        ids, note = _run_ids(store)
        damaged = [{"id": i, "why": why} for i in ids if (why := _read_back(store, i)) is not None]
    bad = {d["id"] for d in damaged}
    report.update(
        ok=not problems and not damaged and note is None,
        integrity=problems[:MAX_PROBLEMS],
        problems=len(problems),
        runs={"total": len(ids), "intact": [i for i in ids if i not in bad], "damaged": damaged, "note": note},
    )
    return report


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]


def _copy_run(src: Store, dst: Store, run_id: str) -> None:
    """Copy one run's rows in one transaction of ``dst`` (all or nothing); a running run arrives crashed."""
    seq = src._seq(run_id)
    cols = [c for c in _columns(src._c, "runs") if c != "seq"]
    row = dict(zip(cols, src._rows(f"SELECT {', '.join(cols)} FROM runs WHERE seq = ?", (seq,))[0]))
    if row["status"] == "running":
        row.update(status="crashed", pid=None, error="it was running when `gradclinic doctor --salvage` copied it")
    scopes = dict(src._rows("SELECT name, scope FROM stat_names"))
    dst.declare_stats(scopes)
    stat_map = {sid: dst._stat_id(name) for sid, name in src._rows("SELECT id, name FROM stat_names")}
    tables = {t: [c for c in _columns(src._c, t) if c not in ("run", "id")] for t in ("layers", "findings", "events")}
    with dst._write() as c:
        new = c.execute(
            f"INSERT INTO runs ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", tuple(row.values())
        ).lastrowid
        for table, names in tables.items():
            rows = src._rows(f"SELECT {', '.join(names)} FROM {table} WHERE run = ?", (seq,))
            c.executemany(
                f"INSERT INTO {table} (run, {', '.join(names)}) VALUES (?, {', '.join('?' * len(names))})",
                [(new, *r) for r in rows],
            )
        scalars = src._rows("SELECT name, step, value FROM scalars WHERE run = ?", (seq,))
        c.executemany("INSERT INTO scalars (run, name, step, value) VALUES (?, ?, ?, ?)", [(new, *r) for r in scalars])
        stats = src._rows("SELECT stat, step, vals FROM layer_stats WHERE run = ?", (seq,))
        c.executemany(
            "INSERT INTO layer_stats (run, stat, step, vals) VALUES (?, ?, ?, ?)",
            [(new, stat_map[sid], step, vals) for sid, step, vals in stats],
        )


def salvage(home: str | Path | None, out: str | Path) -> dict[str, Any]:
    """Copy every intact run of the store at ``home`` (rows and folder) into a new store at ``out``.

    ``out`` must not hold a store yet. Returns {store, copied: [ids], skipped: [{id, why}]}.
    """
    src_home, out = _home(home), Path(out).expanduser()
    if (out / "runs.db").exists():
        raise RecipeError(f"--salvage {out}: already holds a run store; give a new folder")
    if out.exists() and not out.is_dir():
        raise RecipeError(f"--salvage {out}: is a file; give a new folder")
    if out.resolve() == src_home.resolve():
        raise RecipeError(f"--salvage {out}: is the damaged store itself; give a new folder")
    report = check(src_home)
    copied, skipped = [], list(report["runs"]["damaged"])
    if report["runs"]["total"] is None:
        raise StoreError(f"nothing to salvage: {report['integrity'][0]}")
    with Store(src_home, readonly=True) as src, Store(out) as dst:
        for run_id in report["runs"]["intact"]:
            try:
                _copy_run(src, dst, run_id)
            except StoreError as exc:  # damage the read-back did not reach (an index page, say)
                skipped.append({"id": run_id, "why": str(exc).split("; check it with")[0]})
                continue
            folder = src_home / "runs" / run_id
            if folder.is_dir():
                shutil.copytree(folder, out / "runs" / run_id, dirs_exist_ok=True)
            copied.append(run_id)
    return {"store": str(out / "runs.db"), "copied": copied, "skipped": skipped}


def describe(report: dict[str, Any], salvaged: dict[str, Any] | None = None) -> list[str]:
    """The lines ``gradclinic doctor`` prints for :func:`check` (and :func:`salvage`) results."""
    runs = report["runs"]
    lines = [f"run store {report['store']}: {'sound' if report['ok'] else 'DAMAGED'}"]
    if report["problems"]:
        lines.append(f"SQLite's integrity check found {report['problems']} problem(s), first ones:")
        lines += [f"  {p}" for p in report["integrity"]]
    if runs["note"]:
        lines.append(runs["note"])
    if runs["total"] is not None:
        lines.append(f"{runs['total']} run(s): {len(runs['intact'])} intact, {len(runs['damaged'])} damaged")
    lines += [f"  damaged {d['id']}: {d['why']}" for d in runs["damaged"]]
    if salvaged is not None:
        lines.append(f"copied {len(salvaged['copied'])} intact run(s) into {salvaged['store']}")
        lines += [f"  not copied {s['id']}: {s['why']}" for s in salvaged["skipped"]]
        lines.append(f"use it with --home {Path(salvaged['store']).parent} (or GRADCLINIC_HOME)")
    elif not report["ok"] and runs["intact"]:
        lines.append("copy the intact runs into a new store with `gradclinic doctor --salvage NEW_HOME`")
    return lines
