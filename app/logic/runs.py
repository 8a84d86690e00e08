"""The Runs page's logic: one page of the history table, counts, and downloads. No Streamlit.

Only one page of runs is read and decorated at a time, so a store with
thousands of runs renders as fast as one with ten.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from app.logic import common
from engine.control.export import export_run


def page(store, *, page_size: int = 50, page: int = 1, **filters: Any) -> pd.DataFrame:
    """One page of the history, newest first: status badge, progress, and for a bad run, why."""
    runs = store.list_runs(limit=page_size, offset=(page - 1) * page_size, **filters)
    if runs.empty:
        return pd.DataFrame(columns=["status", "name", "recipe", "progress", "problem", "group", "created", "id"])
    return pd.DataFrame(
        {
            "status": runs["status"].map(common.badge),
            "name": runs["name"].fillna(""),
            "recipe": runs["recipe"],
            "progress": [_progress(s, t) for s, t in zip(runs["step"], runs["total_steps"])],
            "problem": [problem(store, r) for r in runs.to_dict("records")],
            "group": runs["group_id"].fillna(""),
            "created": pd.to_datetime(runs["created"], unit="s").dt.strftime("%Y-%m-%d %H:%M"),
            "id": runs["id"],
        }
    )


def problem(store, run: dict) -> str:
    """Why a run went wrong: its error, else its most severe finding; empty for a healthy run."""
    error = run.get("error")
    if isinstance(error, str) and error:  # (a missing error is NaN in a DataFrame row)
        return f"{run['status']}: {error}"
    if run["status"] != "queued":  # a queued run has no findings yet
        findings = store.findings(run["id"])
        if findings:
            f = findings[0]
            return f"{f['code']}: {f['message']}"
    return ""


def _progress(step, total) -> str:
    step = 0 if pd.isna(step) else int(step)
    if pd.isna(total) or not total:
        return f"{step:,}"
    return f"{step:,} / {int(total):,}"


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
