"""Your own CSV file: numeric feature columns and one target column (class labels or numbers)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from engine.config.errors import DataError
from engine.datasets.base import Kind, Raw

KIND: Kind = "tabular"
MAX_BYTES = 200 * 1024 * 1024
MIN_ROWS = 20
# An integer-valued numeric target with at most this many distinct values is
# read as class labels (0/1, ratings 1-5...); anything else is regression.
MAX_CLASSES = 20
PROJECT_ROOT = Path(__file__).resolve().parents[2]


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(min_length=1, description="CSV file; relative paths are tried from here, then the project root")
    target: str = Field(min_length=1, description="name of the column to predict")
    max_rows: int | None = Field(None, ge=MIN_ROWS, description="keep a seeded random subset of this many rows")


def load(params: dict, seed: int) -> Raw:
    """Read, check and encode the file; every problem is one :class:`DataError`."""
    path = resolve(params["path"])
    df = _read(path)
    where = path.name
    target = params["target"]
    if target not in df.columns:
        raise DataError(f"{where}: no column named {target!r}; the columns are: {', '.join(map(str, df.columns))}")
    features = [c for c in df.columns if c != target]
    if not features:
        raise DataError(f"{where}: needs at least one feature column besides the target {target!r}")

    _check_numeric(df, features, where)
    _check_missing(df, where)
    if len(df) < MIN_ROWS:
        raise DataError(f"{where}: has only {len(df)} data rows; at least {MIN_ROWS} are needed to train and validate")
    if params.get("max_rows") and len(df) > params["max_rows"]:
        # A random subset, not the first rows: files are often sorted by class.
        keep = np.sort(np.random.default_rng(seed).choice(len(df), params["max_rows"], replace=False))
        df = df.iloc[keep]

    x = df[features].to_numpy(dtype=np.float64)
    if not np.isfinite(x).all():
        bad = [str(c) for c in features if not np.isfinite(df[c].to_numpy(dtype=np.float64)).all()]
        raise DataError(f"{where}: infinite values in column(s) {', '.join(bad)}")
    y, task, class_names = _encode_target(df[target], where, target)
    kind_text = f"{len(class_names)} classes" if task == "classification" else "regression"
    return Raw(
        x=x,
        y=y,
        task=task,
        kind=KIND,
        n_classes=len(class_names) if task == "classification" else None,
        feature_names=tuple(str(c) for c in features),
        class_names=class_names,
        description=f"{where}: {len(df)} rows, {len(features)} features, target {target!r} ({kind_text}).",
    )


def resolve(raw_path: str) -> Path:
    """The file a ``path`` param means: as given (from the working directory), else from the project root.

    The fallback lets recipes say ``sample_data/penguins.csv`` wherever the
    worker process happens to start.
    """
    path = Path(raw_path).expanduser()
    if not path.is_absolute() and not path.exists() and (PROJECT_ROOT / path).exists():
        path = PROJECT_ROOT / path
    if not path.exists():
        raise DataError(f"CSV file not found: {raw_path}")
    if not path.is_file():
        raise DataError(f"{raw_path}: is not a file")
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise DataError(f"{path.name}: is {size / 2**20:.0f} MB; the limit is {MAX_BYTES // 2**20} MB")
    if size == 0:
        raise DataError(f"{path.name}: the file is empty")
    return path


def _read(path: Path):
    import pandas as pd

    with path.open("rb") as fh:
        head = fh.read(8192)
    if b"\x00" in head:
        raise DataError(f"{path.name}: not readable as CSV (it looks like a binary file)")
    try:
        # utf-8-sig drops the byte-order mark Excel puts before the first header.
        df = pd.read_csv(path, encoding="utf-8-sig", skipinitialspace=True, low_memory=False)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path.name}: the file is empty") from None
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path.name}: not readable as CSV: not UTF-8 text (byte {exc.object[exc.start]:#04x} "
            f"at offset {exc.start}); save it as UTF-8"
        ) from None
    except pd.errors.ParserError as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{path.name}: not readable as CSV ({reason})") from None
    except (ValueError, OSError, MemoryError) as exc:
        raise DataError(f"{path.name}: not readable as CSV ({type(exc).__name__}: {exc})") from None
    if df.shape[1] == 0:
        raise DataError(f"{path.name}: the file is empty")
    if len(df) == 0:
        raise DataError(f"{path.name}: has a header but no data rows")
    df.columns = [str(c).strip() for c in df.columns]
    return df


def _check_numeric(df, features: list, where: str) -> None:
    import pandas as pd

    for col in features:
        series = df[col]
        if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
            continue
        coerced = pd.to_numeric(series, errors="coerce")
        bad = series[coerced.isna() & series.notna()]
        if bad.empty:  # only missing cells; _check_missing names those
            df[col] = coerced
            continue
        row = _line(df, bad.index[0])
        raise DataError(
            f"{where}: column {col!r} is not numeric (line {row}: {bad.iloc[0]!r}); every feature column must "
            f"hold numbers, so drop it or encode it as numbers"
        )


def _check_missing(df, where: str) -> None:
    counts = df.isna().sum()
    counts = counts[counts > 0]
    if counts.empty:
        return
    listed = ", ".join(f"{col!r} ({int(n)})" for col, n in counts.items())
    raise DataError(f"{where}: missing or empty cells in column(s) {listed}; drop or fill those rows first")


def _encode_target(series, where: str, target: str):
    """Labels 0..k-1 (with their names) for class-like targets, else float regression targets."""
    import pandas as pd

    numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
    if numeric:
        values = series.to_numpy(dtype=np.float64)
        if not np.isfinite(values).all():
            raise DataError(f"{where}: infinite values in the target column {target!r}")
        distinct = np.unique(values)
        if not (np.all(values == np.round(values)) and len(distinct) <= MAX_CLASSES):
            return values.astype(np.float32)[:, None], "regression", ()
        names = tuple(str(int(v)) for v in distinct)
        labels = np.searchsorted(distinct, values).astype(np.int64)
    else:
        text = series.astype(str).str.strip()
        distinct = np.array(sorted(text.unique()))
        names = tuple(str(v) for v in distinct)
        labels = np.searchsorted(distinct, text.to_numpy(dtype=str)).astype(np.int64)
    if len(names) < 2:
        raise DataError(f"{where}: the target {target!r} has a single value ({names[0]!r}); nothing to classify")
    counts = np.bincount(labels, minlength=len(names))
    lonely = [names[i] for i in np.flatnonzero(counts < 2)]
    if lonely:
        shown = ", ".join(map(repr, lonely[:5])) + (f" and {len(lonely) - 5} more" if len(lonely) > 5 else "")
        raise DataError(
            f"{where}: class(es) {shown} of {target!r} have only 1 row; every class needs "
            f"at least 2 so the train/val split can keep class proportions"
        )
    return labels, "classification", names


def _line(df, index) -> int:
    """The file line of a row label (line 1 is the header)."""
    return int(df.index.get_loc(index)) + 2
