"""Downsampling, so that no chart trace carries more than ~2,000 points.

A browser draws a 50,000-step run no better than a 2,000-point one, but it
serialises, ships and redraws all of it every second in the Live view. These
functions cut the point count while keeping what a diagnosis needs to see:

* :func:`minmax` keeps every bucket's lowest and highest point, so a loss
  spike or a gradient burst can never vanish. Use it for noisy raw series.
* :func:`lttb` (Largest-Triangle-Three-Buckets) keeps the visual shape of a
  line with one point per bucket. Use it for smooth series.
* :func:`bin_columns` shrinks the step axis of a (steps × layers) heatmap.

All of them are pure numpy and never modify their inputs.
"""

from __future__ import annotations

import numpy as np

__all__ = ["minmax", "lttb", "bin_starts", "bin_columns"]


def _finite_xy(x, y) -> tuple[np.ndarray, np.ndarray]:
    """Arrays of the points whose y is finite.

    Non-finite values cannot be drawn on a line (plotly skips them anyway), and
    they would win every min/max/area comparison below.
    """
    x = np.asarray(x)
    y = np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"x and y must be 1-D and the same length, got {x.shape} and {y.shape}")
    keep = np.isfinite(y)
    if keep.all():
        return x, y
    return x[keep], y[keep]


def minmax(x, y, max_points: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    """Keep each bucket's minimum and maximum, plus the first and last point.

    Points with a non-finite y (NaN, ±inf) are dropped first. When what is
    left already fits in ``max_points``, it is returned as it is. Otherwise
    the points are cut into ``(max_points - 2) // 2`` buckets of consecutive
    indices and the lowest and highest point of each bucket are kept, in their
    original order, so every spike survives. The result never has more than
    ``max_points`` points.
    """
    x, y = _finite_xy(x, y)
    n = len(y)
    if n <= max_points:
        return x, y
    if max_points < 4:
        raise ValueError("max_points must be at least 4")
    n_buckets = (max_points - 2) // 2
    size = -(-n // n_buckets)  # ceil: equal-sized buckets let us reshape instead of looping
    n_buckets = -(-n // size)
    pad = n_buckets * size - n
    # Padding with +inf / -inf keeps the short last bucket from picking a pad cell.
    lows = np.concatenate([y, np.full(pad, np.inf)]).reshape(n_buckets, size).argmin(axis=1)
    highs = np.concatenate([y, np.full(pad, -np.inf)]).reshape(n_buckets, size).argmax(axis=1)
    base = np.arange(n_buckets) * size
    keep = np.unique(np.concatenate([[0, n - 1], base + lows, base + highs]))
    return x[keep], y[keep]


def lttb(x, y, max_points: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    """Largest-Triangle-Three-Buckets downsampling (Steinarsson, 2013).

    Points with a non-finite y are dropped first; what already fits in
    ``max_points`` is returned as it is. The first and last points are always
    kept; each of the ``max_points - 2`` buckets in between contributes the
    point that makes the largest triangle with the point chosen in the
    previous bucket and the mean of the next bucket. ``x`` must be numeric.

    The choice in one bucket depends on the previous one, so there is one
    Python iteration per *bucket* (≤ 2,000), each vectorised over its points:
    1,000,000 points take a few tens of milliseconds.
    """
    x, y = _finite_xy(x, y)
    n = len(y)
    if n <= max_points:
        return x, y
    if max_points < 3:
        raise ValueError("max_points must be at least 3")
    xf = x.astype(float)
    n_buckets = max_points - 2
    # Bucket edges over the interior points 1 .. n-2; the endpoints are kept as they are.
    edges = np.linspace(1, n - 1, n_buckets + 1).astype(np.int64)
    # Mean of each bucket (and of the last point, as the bucket after the last one).
    csx = np.concatenate([[0.0], np.cumsum(xf)])
    csy = np.concatenate([[0.0], np.cumsum(y)])
    counts = edges[1:] - edges[:-1]
    mean_x = np.append((csx[edges[1:]] - csx[edges[:-1]]) / counts, xf[-1])
    mean_y = np.append((csy[edges[1:]] - csy[edges[:-1]]) / counts, y[-1])

    keep = np.empty(n_buckets + 2, dtype=np.int64)
    keep[0], keep[-1] = 0, n - 1
    a = 0
    for i in range(n_buckets):
        lo, hi = edges[i], edges[i + 1]
        cx, cy = mean_x[i + 1], mean_y[i + 1]
        ax, ay = xf[a], y[a]
        # Twice the triangle area; the constant factor does not change the argmax.
        area = np.abs((ax - cx) * (y[lo:hi] - ay) - (ax - xf[lo:hi]) * (cy - ay))
        a = lo + int(area.argmax())
        keep[i + 1] = a
    return x[keep], y[keep]


def bin_starts(n: int, max_cols: int) -> np.ndarray:
    """Start index of each bin when ``n`` consecutive columns go into ≤ ``max_cols`` bins.

    Every bin holds ``ceil(n / max_cols)`` columns except perhaps the last,
    so that each heatmap cell covers the same number of steps.
    """
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    size = max(1, -(-n // max(1, max_cols)))
    return np.arange(0, n, size, dtype=np.int64)


def bin_columns(steps, matrix, max_cols: int = 600) -> tuple[np.ndarray, np.ndarray]:
    """Bin consecutive steps of a (steps × layers) matrix into ≤ ``max_cols`` rows.

    Each bin's value is the NaN-aware **mean** of its finite values (all-NaN
    bins stay NaN), and its step is the bin's **last** step. Callers pass
    log10 values, so the mean is a geometric mean of the raw statistic: one
    burst lifts the whole bin visibly rather than being skipped the way a
    "last step of the bin" sample could skip it. The last step labels the
    bin so that the right edge of a live chart is the newest step.

    ``matrix`` has shape ``(len(steps), L)``; ±inf is treated as missing.
    With at most ``max_cols`` steps the inputs come back as they are (as
    arrays). ``S = 0`` gives empty arrays of shape ``(0,)`` and ``(0, L)``.
    """
    steps = np.asarray(steps)
    matrix = np.asarray(matrix, dtype=float)
    if matrix.ndim != 2 or matrix.shape[0] != len(steps):
        raise ValueError(f"matrix must be (len(steps), L), got {matrix.shape} for {len(steps)} steps")
    n = len(steps)
    if n <= max_cols:
        return steps, matrix
    starts = bin_starts(n, max_cols)
    finite = np.isfinite(matrix)
    # Sums and counts per bin with reduceat: one pass, no Python loop over bins.
    sums = np.add.reduceat(np.where(finite, matrix, 0.0), starts, axis=0)
    counts = np.add.reduceat(finite.astype(np.int64), starts, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    ends = np.append(starts[1:], n) - 1
    return steps[ends], means
