"""Your own CSV file: numeric feature columns and one target column (class labels or numbers).

Every problem is one bounded :class:`DataError` line naming the file and the
``data.params`` key at fault. The file's size and its header (column count,
duplicate names) are checked before pandas reads the body, so a hostile file
costs at most :data:`MAX_BYTES` of parsing. Messages quote only short,
clipped excerpts: column names of a real multi-column header and the one cell
that made a column non-numeric; never a whole line.
"""

from __future__ import annotations

import csv as pycsv
import hashlib
import io
import re
from collections import Counter
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from engine.config.errors import DataError
from engine.datasets.base import Kind, Raw

KIND: Kind = "tabular"
MAX_BYTES = 200 * 1024 * 1024
MAX_COLUMNS = 10_000
# The header record must end within this many bytes (10,000 names of ~100 characters fit).
HEADER_BYTES = 1024 * 1024
MIN_ROWS = 20
# An integer-valued numeric target with at most this many distinct values is
# read as class labels (0/1, ratings 1-5...); anything else is regression.
MAX_CLASSES = 20
# Largest magnitudes accepted. Features are standardised in float64 and then
# cast to float32 (max ~3.4e38); 1e30 leaves room for the squares in the std.
# A regression target is cast to float32 first and standardised there, where
# the squared deviations of 50M rows at 1e15 still sum below 3.4e38.
MAX_FEATURE_ABS = 1e30
MAX_TARGET_ABS = 1e15
_NAME_CHARS = 32  # longest excerpt of a column name, class or cell in a message
_LISTED = 12  # most names listed in one message
PROJECT_ROOT = Path(__file__).resolve().parents[2]
# The dashboard keeps an upload as <store>/uploads/<content hash>-<the user's name>.csv: the
# hash keeps two files of one name apart, and messages name the file by the user's name.
UPLOADS = "uploads"
_HASH_CHARS = 10
_STORED = re.compile(rf"^[0-9a-f]{{{_HASH_CHARS}}}-(?=.)")


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(min_length=1, description="CSV file; relative paths are tried from here, then the project root")
    target: str = Field(min_length=1, description="name of the column to predict")
    max_rows: int | None = Field(None, ge=MIN_ROWS, description="keep a seeded random subset of this many rows")


def load(params: dict, seed: int) -> Raw:
    """Read, check and encode the file; every problem is one :class:`DataError`."""
    path = resolve(params["path"])
    where = clip(shown_name(path), 80)
    with path.open("rb") as fh:
        head = fh.read(HEADER_BYTES)
    names = read_header(head, where, whole=path.stat().st_size <= HEADER_BYTES)
    target = params["target"]
    if names and target not in names:  # before the body is parsed: a typo costs nothing
        raise DataError(_no_target(where, target, names))
    df = _read(path, where)
    if target not in df.columns:
        raise DataError(_no_target(where, target, [str(c) for c in df.columns]))
    features = [c for c in df.columns if c != target]
    if not features:
        raise DataError(f"{where}: needs at least one feature column besides the target {clip(target)!r}")

    _check_numeric(df, features, where)
    _check_missing(df, where)
    if len(df) < MIN_ROWS:
        raise DataError(f"{where}: has only {len(df)} data rows; at least {MIN_ROWS} are needed to train and validate")
    if params.get("max_rows") and len(df) > params["max_rows"]:
        # A random subset, not the first rows: files are often sorted by class.
        keep = np.sort(np.random.default_rng(seed).choice(len(df), params["max_rows"], replace=False))
        df = df.iloc[keep]

    x = df[features].to_numpy(dtype=np.float64)
    _check_magnitude(x, features, where)
    y, task, class_names = _encode_target(df[target], where, clip(target))
    kind_text = f"{len(class_names)} classes" if task == "classification" else "regression"
    return Raw(
        x=x,
        y=y,
        task=task,
        kind=KIND,
        n_classes=len(class_names) if task == "classification" else None,
        feature_names=tuple(str(c) for c in features),
        class_names=class_names,
        description=f"{where}: {len(df)} rows, {len(features)} features, target {clip(target)!r} ({kind_text}).",
    )


def resolve(raw_path: str) -> Path:
    """The file a ``path`` param means: as given (from the working directory), else from the project root.

    The fallback lets recipes say ``sample_data/penguins.csv`` wherever the
    worker process happens to start. The size is checked here, before any read.
    """
    shown = clip(raw_path, 120)
    path = Path(raw_path).expanduser()
    if not path.is_absolute() and not path.exists() and (PROJECT_ROOT / path).exists():
        path = PROJECT_ROOT / path
    if not path.exists():
        raise DataError(f"data.params.path: CSV file not found: {shown}")
    if not path.is_file():
        raise DataError(f"data.params.path: {shown} is not a file")
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise DataError(
            f"data.params.path: {clip(shown_name(path), 80)} is {_size(size)}; the limit is {_size(MAX_BYTES)} "
            f"for a CSV file, so sample or split it first"
        )
    if size == 0:
        raise DataError(f"{clip(shown_name(path), 80)}: the file is empty")
    return path


def upload_file_name(data: bytes, name: str) -> str:
    """The name an upload is stored under in :data:`UPLOADS`: its content hash, then ``name`` (a safe stem)."""
    return f"{hashlib.sha256(data).hexdigest()[:_HASH_CHARS]}-{name}.csv"


def shown_name(path: str | Path) -> str:
    """What messages call a CSV file: an upload by the name it was uploaded as, any other file by its own.

    A run of an uploaded file opens ``uploads/3fa9c0d1e2-penguins.csv``; its errors must
    say ``penguins.csv``, the file the user knows.
    """
    p = Path(str(path))
    return _STORED.sub("", p.name) if p.parent.name == UPLOADS else p.name


def read_header(head: bytes, where: str, whole: bool = True) -> list[str]:
    """The column names in the first bytes of a CSV file, refused if unusable.

    ``head`` is the file's first :data:`HEADER_BYTES` bytes (``whole`` when
    that is the entire file). Refuses binary or non-UTF-8 text, a header that
    does not end within ``head``, more than :data:`MAX_COLUMNS` columns, and
    duplicate names (pandas would rename the second ``y`` to ``y.1`` and
    train on it: a leaked target). Names are stripped, as :func:`load` reads them.
    """
    if b"\x00" in head[:8192]:
        raise DataError(f"{where}: not readable as CSV (it looks like a binary file)")
    if not whole:
        # Decode whole lines only, so a character cut at the end is not an error.
        cut = max(head.rfind(b"\n"), head.rfind(b"\r"))
        if cut < 0:
            raise DataError(
                f"{where}: the header line is longer than {_size(HEADER_BYTES)}; "
                f"a CSV file may have at most {MAX_COLUMNS:,} columns"
            )
        head = head[: cut + 1]
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(_not_utf8(where, exc)) from None
    try:
        rows = pycsv.reader(io.StringIO(text, newline=""), skipinitialspace=True)
        # pandas skips blank lines before the header; so must we, to see the same names.
        header = next((r for r in rows if len(r) > 1 or (r and r[0].strip())), None)
    except pycsv.Error as exc:
        raise DataError(f"{where}: not readable as CSV (header: {clip(str(exc), 120)})") from None
    if header is None:
        return []
    if len(header) > MAX_COLUMNS:
        raise DataError(f"{where}: has {len(header):,} columns; a CSV file may have at most {MAX_COLUMNS:,}")
    names = [n.strip() for n in header]
    counts = Counter(n for n in names if n)  # blank names are not duplicates: pandas makes them "Unnamed: i"
    dupes = [n for n, k in counts.items() if k > 1]
    if dupes:
        listed = _listing(dupes, quote=True)
        raise DataError(
            f"{where}: duplicate column name(s) {listed}; every column needs its own name "
            f"(otherwise a copy of the target could be read as a feature)"
        )
    return names


def clip(text: object, limit: int = _NAME_CHARS) -> str:
    """``text`` made safe for a one-line message: non-printing characters as ``?``, cut to ``limit``."""
    s = "".join(c if c.isprintable() else "?" for c in str(text)[: limit + 1])
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _read(path: Path, where: str):
    import pandas as pd

    try:
        # utf-8-sig drops the byte-order mark Excel puts before the first header.
        df = pd.read_csv(path, encoding="utf-8-sig", skipinitialspace=True, low_memory=False)
    except pd.errors.EmptyDataError:
        raise DataError(f"{where}: the file is empty") from None
    except UnicodeDecodeError as exc:
        raise DataError(_not_utf8(where, exc)) from None
    except pd.errors.ParserError as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{where}: not readable as CSV ({clip(reason, 160)})") from None
    except (ValueError, OSError, MemoryError) as exc:
        raise DataError(f"{where}: not readable as CSV ({type(exc).__name__}: {clip(exc, 160)})") from None
    if df.shape[1] == 0:
        raise DataError(f"{where}: the file is empty")
    if not isinstance(df.index, pd.RangeIndex):
        # pandas makes the first column an index when rows have one field more than the header.
        raise DataError(
            f"{where}: a data row has more fields than the header's {df.shape[1]} column names; "
            "every row needs one value per column"
        )
    if len(df) == 0:
        raise DataError(f"{where}: has a header but no data rows")
    df.columns = [str(c).strip() for c in df.columns]
    if df.columns.duplicated().any():  # read_header saw a different header than pandas: refuse, never guess
        raise DataError(f"{where}: duplicate column names; every column needs its own name")
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
            f"{where}: column {clip(col)!r} is not numeric (line {row}: {clip(bad.iloc[0], 20)!r}); every feature "
            f"column must hold numbers, so drop it or encode it as numbers"
        )


def _check_missing(df, where: str) -> None:
    counts = df.isna().sum()
    counts = counts[counts > 0]
    if counts.empty:
        return
    listed = ", ".join(f"{clip(col)!r} ({int(n)})" for col, n in list(counts.items())[:_LISTED])
    more = f" and {len(counts) - _LISTED} more" if len(counts) > _LISTED else ""
    raise DataError(f"{where}: missing or empty cells in column(s) {listed}{more}; drop or fill those rows first")


def _check_magnitude(x: np.ndarray, features: list, where: str) -> None:
    """Refuse infinities and numbers so large that standardising them overflows float32."""
    infinite = ~np.isfinite(x).all(axis=0)
    if infinite.any():
        raise DataError(f"{where}: infinite values in column(s) {_listing(np.asarray(features)[infinite])}")
    huge = (np.abs(x) > MAX_FEATURE_ABS).any(axis=0)
    if huge.any():
        raise DataError(
            f"{where}: column(s) {_listing(np.asarray(features)[huge])} hold numbers beyond ±{_sci(MAX_FEATURE_ABS)}, "
            f"which overflow float32 once standardised; rescale them (divide, or take a log) first"
        )


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
            if np.abs(values).max() > MAX_TARGET_ABS:
                raise DataError(
                    f"{where}: the target {target!r} holds numbers beyond ±{_sci(MAX_TARGET_ABS)}, which overflow "
                    f"float32 once standardised; rescale it (divide, or take a log) first"
                )
            return values.astype(np.float32)[:, None], "regression", ()
        names = tuple(str(int(v)) for v in distinct)
        labels = np.searchsorted(distinct, values).astype(np.int64)
    else:
        text = series.astype(str).str.strip()
        distinct = np.array(sorted(text.unique()))
        names = tuple(str(v) for v in distinct)
        labels = np.searchsorted(distinct, text.to_numpy(dtype=str)).astype(np.int64)
    if len(names) < 2:
        raise DataError(f"{where}: the target {target!r} has a single value ({clip(names[0])!r}); nothing to classify")
    counts = np.bincount(labels, minlength=len(names))
    lonely = [names[i] for i in np.flatnonzero(counts < 2)]
    if lonely:
        raise DataError(
            f"{where}: class(es) {_listing(lonely, quote=True, most=5)} of {target!r} have only 1 row; every class "
            f"needs at least 2 so the train/val split can keep class proportions"
        )
    return labels, "classification", names


def _no_target(where: str, target: str, names: list[str]) -> str:
    # A one-column "header" is the file's whole first line (say, of a file that is not a CSV): never echo it.
    hint = (
        f"the columns are: {_listing(names)}" if len(names) > 1 else "it has a single column (is it comma-separated?)"
    )
    return f"data.params.target: {where} has no column named {clip(target)!r}; {hint}"


def _listing(names, quote: bool = False, most: int = _LISTED) -> str:
    """At most ``most`` clipped names, then how many more."""
    names = [str(n) for n in names]
    shown = [repr(clip(n)) if quote else clip(n) for n in names[:most]]
    return ", ".join(shown) + (f" and {len(names) - most} more" if len(names) > most else "")


def _not_utf8(where: str, exc: UnicodeDecodeError) -> str:
    return (
        f"{where}: not readable as CSV: not UTF-8 text (byte {exc.object[exc.start]:#04x} "
        f"at offset {exc.start}); save it as UTF-8"
    )


def _sci(v: float) -> str:
    return f"{v:.0e}".replace("e+", "e")


def _size(n: int) -> str:
    if n >= 2**20:
        return f"{n / 2**20:.1f} MB".replace(".0 MB", " MB")
    return f"{n / 1024:.1f} KB" if n >= 1024 else f"{n} bytes"


def _line(df, index) -> int:
    """The file line of a row label (line 1 is the header)."""
    return int(df.index.get_loc(index)) + 2
