"""Seed noise: is a variant's difference from the baseline larger than what changing the seed does?

Each variant of a multi-seed comparison has one final number per seed. The
difference of two variants' means gets a 95% confidence interval by Welch's
t (unequal variances; Welch 1947), which is what a two-sample comparison of a
handful of seeds needs: no normal approximation, no pooled variance. When
the interval contains zero, the two variants are indistinguishable at this
seed noise, whatever their means say.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass
from typing import Any

LEVEL = 0.95


@dataclass(frozen=True)
class Interval:
    """A confidence interval for ``mean(a) - mean(b)``."""

    low: float
    high: float
    level: float
    n_a: int
    n_b: int
    method: str = "welch"

    @property
    def excludes_zero(self) -> bool:
        """True when the difference is larger than seed noise (the interval lies on one side of 0)."""
        return self.low > 0 or self.high < 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with ``excludes_zero`` spelled out."""
        return {**asdict(self), "excludes_zero": self.excludes_zero}


def finite(values: list[float | None]) -> list[float]:
    """The values that are numbers (a run with no result yet, or NaN, is left out)."""
    return [float(x) for x in values if x is not None and math.isfinite(x)]


def difference_interval(a: list[float | None], b: list[float | None], level: float = LEVEL) -> Interval | None:
    """Welch's t interval for ``mean(a) - mean(b)``; None unless both sides have at least two values."""
    from scipy import stats

    xa, xb = finite(a), finite(b)
    if len(xa) < 2 or len(xb) < 2:
        return None
    diff = statistics.fmean(xa) - statistics.fmean(xb)
    va, vb = statistics.variance(xa) / len(xa), statistics.variance(xb) / len(xb)
    se = math.sqrt(va + vb)
    if se == 0.0:  # every seed gave the same number on both sides: the difference is exact
        return Interval(diff, diff, level, len(xa), len(xb))
    df = (va + vb) ** 2 / (va**2 / (len(xa) - 1) + vb**2 / (len(xb) - 1))
    half = float(stats.t.ppf(0.5 + level / 2, df)) * se
    return Interval(diff - half, diff + half, level, len(xa), len(xb))


def mean_interval(values: list[float | None], level: float = LEVEL, method: str = "t") -> Interval | None:
    """Student's t interval for the mean of ``values`` (None below two): a k-fold estimate's interval.

    With ``method="paired t"`` the values are per-fold differences of two variants on the same
    folds, so fold-to-fold noise cancels and the interval measures the change alone. The folds of
    one k-fold split share training samples, so the interval is somewhat too narrow (Bengio and
    Grandvalet 2004); it still says how far the estimate moves with the split.
    """
    from scipy import stats

    xs = finite(values)
    if len(xs) < 2:
        return None
    mean = statistics.fmean(xs)
    se = statistics.stdev(xs) / math.sqrt(len(xs))
    half = 0.0 if se == 0.0 else float(stats.t.ppf(0.5 + level / 2, len(xs) - 1)) * se
    return Interval(mean - half, mean + half, level, len(xs), 0, method)
