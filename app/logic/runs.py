"""The Runs page's logic: one page of the history table, its group filter, saving tags and notes, downloads.

No Streamlit. Only one page of runs is read and decorated at a time, so a store
with thousands of runs renders as fast as one with ten. Every number in the
table is a number (float or int, NaN where a run has none), so sorting a column
by its header orders it by value, not as text.
"""

from __future__ import annotations

import io
import tempfile
import time
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from app.logic import common
from engine.config.errors import RecipeError, StoreError
from engine.config.names import SEVERITIES
from engine.control.export import export_run
from engine.store.annotations import check_notes, check_tags

#: The table's columns, in order: what tells runs apart first, where to find them last.
#: The final metrics come from the run's summary (a finished run).
COLUMNS = [
    "status",
    "name",
    "tags",
    "notes",
    "val accuracy",
    "val loss",
    "train loss",
    *SEVERITIES,  # how many findings of each severity: critical, warning, info
    "worst",
    "duration (s)",
    "progress",
    "step",
    "problem",
    "recipe",
    "group",
    "created",
    "id",
]
#: The columns a person edits in place; every other column is read-only.
EDITABLE = ("tags", "notes")
#: A paused run's status, shown instead of "running".
PAUSED_BADGE = common.PAUSED_BADGE


def page(store, *, page_size: int = 50, page: int = 1, now: float | None = None, **filters: Any) -> pd.DataFrame:
    """One page of the history, newest first: status, final metrics, duration, findings, and for a bad run, why."""
    runs = store.list_runs(limit=page_size, offset=(page - 1) * page_size, **filters)
    if runs.empty:
        return _typed(pd.DataFrame({c: [] for c in COLUMNS}))
    records = runs.to_dict("records")
    summaries = store.summaries(runs["id"])
    finals = [((summaries.get(r["id"]) or {}).get("final") or {}) for r in records]
    findings = [store.findings(r["id"]) if r["status"] != "queued" else [] for r in records]
    now = time.time() if now is None else now
    table = pd.DataFrame(
        {
            "status": [status_badge(r) for r in records],
            "name": runs["name"].fillna(""),
            "recipe": runs["recipe"],
            "group": runs["group_id"].fillna(""),
            "tags": runs["tags"].fillna(""),
            "notes": runs["notes"].fillna(""),
            "val accuracy": [f.get("val_accuracy") for f in finals],
            "val loss": [f.get("val_loss") for f in finals],
            "train loss": [f.get("train_loss") for f in finals],
            "duration (s)": [_duration(r, now) for r in records],
            "progress": [_progress(r["step"], r["total_steps"]) for r in records],
            "step": runs["step"],
            **{sev: [sum(f["severity"] == sev for f in fs) for fs in findings] for sev in SEVERITIES},
            "worst": [fs[0]["code"] if fs else "" for fs in findings],
            "problem": [problem(store, r, fs) for r, fs in zip(records, findings)],
            "created": pd.to_datetime(runs["created"], unit="s"),
            "id": runs["id"],
        }
    )
    return _typed(table[COLUMNS])


def _typed(table: pd.DataFrame) -> pd.DataFrame:
    """Numbers as numbers: floats (NaN where missing), whole counts as ints, the step as a nullable int."""
    for column in ("val accuracy", "val loss", "train loss", "duration (s)", "progress"):
        table[column] = pd.to_numeric(table[column], errors="coerce").astype(np.float64)
    for column in SEVERITIES:
        table[column] = table[column].astype(np.int64)
    table["step"] = table["step"].astype("Int64")
    table["created"] = pd.to_datetime(table["created"])
    return table


def status_badge(run: Mapping[str, Any]) -> str:
    """The status with its icon; a running run its worker was asked to pause reads "paused"."""
    return common.badge(run["status"], bool(run.get("paused")))


def problem(store, run: dict, findings: list[dict] | None = None) -> str:
    """Why a run went wrong: its error, else its most severe finding; empty for a healthy run."""
    error = run.get("error")
    if isinstance(error, str) and error:  # (a missing error is NaN in a DataFrame row)
        return f"{run['status']}: {error}"
    if findings is None:
        findings = store.findings(run["id"]) if run["status"] != "queued" else []  # a queued run has none yet
    if findings:
        f = findings[0]
        return f"{f['code']}: {f['message']}"
    return ""


def _duration(run: Mapping[str, Any], now: float) -> float:
    """Seconds from start to end (to now while it runs); NaN before it started."""
    started, ended = run.get("started"), run.get("ended")
    if started is None or pd.isna(started):
        return np.nan
    end = now if ended is None or pd.isna(ended) else float(ended)
    return max(end - float(started), 0.0)


def _progress(step, total) -> float:
    """The share of its planned steps a run has taken (0 to 1); NaN when it has no plan."""
    if pd.isna(total) or not total:
        return np.nan
    return min((0 if pd.isna(step) else int(step)) / int(total), 1.0)


def group_choices(store) -> dict[str, str]:
    """{group id: "recipe · N runs · created · id"} for the group filter, newest first."""
    groups = store.groups()
    when = pd.to_datetime(groups["created"], unit="s").dt.strftime("%Y-%m-%d %H:%M")
    return {
        str(g): f"{recipe} · {n} runs · {w} · {g}"
        for g, recipe, n, w in zip(groups["group_id"], groups["recipe"], groups["runs"], when)
    }


def save_edits(store, table: pd.DataFrame, edited_rows: Mapping[Any, Mapping[str, Any]]) -> tuple[int, list[str]]:
    """Store the tags and notes a person changed in the table: (cells saved, one message per refused cell).

    ``edited_rows`` is ``st.data_editor``'s ``{row position: {column: new value}}``. Only the
    :data:`EDITABLE` columns are saved, and only where they differ from the table (which was read
    from the store): so calling it again with every edit so far writes just the new ones.
    """
    saved, refused = 0, []
    for position, change in edited_rows.items():
        row = table.iloc[int(position)]
        for column in EDITABLE:
            if column not in change:
                continue
            value = "" if change[column] is None else str(change[column])
            check, setter = (check_tags, store.set_tags) if column == "tags" else (check_notes, store.set_notes)
            try:
                if check(value) == row[column]:  # as stored already ("a,b" is "a, b")
                    continue
                setter(row["id"], value)
                saved += 1
            except (RecipeError, StoreError) as exc:
                refused.append(f"{row['name'] or row['id']}: {exc}")
    return saved, refused


def download(store, run_id: str, fmt: str) -> tuple[Callable[[], bytes], str, str]:
    """(a callable building a zip of the run's tables, file name, mime type); built only on click."""
    run = store.get_run(run_id)
    name = f"{run['recipe_name']}-{run_id}-{fmt}.zip"

    def build() -> bytes:
        with tempfile.TemporaryDirectory() as tmp:
            paths = export_run(store, run_id, Path(tmp), fmt)
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
                for p in paths:
                    zf.write(p, arcname=p.name)
            return buf.getvalue()

    return build, name, "application/zip"
