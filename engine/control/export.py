"""Export one run's tables to CSV or Parquet (pandas/pyarrow).

Files are written under temporary names and renamed into place, so an
interrupted export never leaves a half-written file behind.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from engine.config.errors import RecipeError

FORMATS = ("csv", "parquet")


def _write(df: pd.DataFrame, path: Path, fmt: str) -> Path:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        if fmt == "csv":
            df.to_csv(tmp, index=False)
        else:
            df.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)  # gone after the rename; left only by a failed write
    return path


def _folder(out: Path) -> None:
    """Create ``out`` or say, naming ``--out``, why it cannot be written into."""
    if out.exists() and not out.is_dir():
        raise RecipeError(f"--out {out}: is a file; give a folder to write into")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RecipeError(f"--out {out}: cannot create the folder ({exc.strerror or exc})") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise RecipeError(f"--out {out}: the folder is not writable")


def export_run(store, run_id: str, out: Path, fmt: str = "csv") -> list[Path]:
    """Write scalars, layer stats, findings and the resolved recipe of ``run_id`` into ``out``."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    _folder(out)
    run = store.get_run(run_id)
    prefix = f"{run['recipe_name']}-{run_id}"
    try:
        paths = _write_all(store, run, run_id, out, prefix, fmt)
    except OSError as exc:  # the disk filled, or the folder changed under us: nothing half-written stays
        raise RecipeError(f"--out {out}: cannot write ({exc.strerror or exc})") from None
    return paths


def _write_all(store, run: dict, run_id: str, out: Path, prefix: str, fmt: str) -> list[Path]:
    paths = [
        _write(store.scalars(run_id), out / f"{prefix}-scalars.{fmt}", fmt),
        _write(store.layer_stats(run_id), out / f"{prefix}-layer_stats.{fmt}", fmt),
    ]
    meta = out / f"{prefix}-run.json"
    tmp = meta.with_name(f".{meta.name}.tmp")
    info = {k: v for k, v in run.items() if k not in ("recipe_json", "summary_json")}
    info["findings"] = store.findings(run_id)
    try:
        tmp.write_text(json.dumps(info, indent=2, default=str))
        os.replace(tmp, meta)
    finally:
        tmp.unlink(missing_ok=True)
    paths.append(meta)
    return paths
