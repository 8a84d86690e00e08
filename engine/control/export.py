"""Export one run's tables to CSV or Parquet (pandas/pyarrow).

Files are written under temporary names and renamed into place, so an
interrupted export never leaves a half-written file behind.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

FORMATS = ("csv", "parquet")


def _write(df: pd.DataFrame, path: Path, fmt: str) -> Path:
    tmp = path.with_name(f".{path.name}.tmp")
    if fmt == "csv":
        df.to_csv(tmp, index=False)
    else:
        df.to_parquet(tmp, index=False)
    os.replace(tmp, path)
    return path


def export_run(store, run_id: str, out: Path, fmt: str = "csv") -> list[Path]:
    """Write scalars, layer stats, findings and the resolved recipe of ``run_id`` into ``out``."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    out.mkdir(parents=True, exist_ok=True)
    run = store.get_run(run_id)
    prefix = f"{run['recipe_name']}-{run_id}"
    paths = [
        _write(store.scalars(run_id), out / f"{prefix}-scalars.{fmt}", fmt),
        _write(store.layer_stats(run_id), out / f"{prefix}-layer_stats.{fmt}", fmt),
    ]
    meta = out / f"{prefix}-run.json"
    tmp = meta.with_name(f".{meta.name}.tmp")
    info = {k: v for k, v in run.items() if k not in ("recipe_json", "summary_json")}
    info["findings"] = store.findings(run_id)
    tmp.write_text(json.dumps(info, indent=2, default=str))
    os.replace(tmp, meta)
    paths.append(meta)
    return paths
