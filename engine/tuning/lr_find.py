"""The learning-rate range test (Smith 2017; fastai's ``lr_find``): its curve, its suggestion, its cache.

Training ramps the learning rate geometrically, one step each, from ``start`` to
``end`` (``engine.training.lr_range``), and stops once the smoothed loss
diverges. This module is the torch-free part: the ramp's rates, the smoothing,
the suggestion rule, the result across seeds and its JSON, and the cache beside
the run store that the dashboard and the remedies read
(``<home>/lr_find/<recipe key>.json``).

A suggestion is a band, not a point: each seed gives one, the suggestion is
their geometric mean and the band their range, because users of single-point
finders rightly distrust a number that moves with the seed.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from engine.config.errors import RecipeError

DEFAULT_START, DEFAULT_END = 1e-6, 10.0  # fastai's end; a decade above its 1e-7 start, which no recipe here needs
MAX_END = 100.0  # train.lr's own cap, so a suggestion is always a rate the recipe accepts
DEFAULT_STEPS, MIN_STEPS, MAX_STEPS = 200, 20, 2000
DEFAULT_SEEDS, MAX_SEEDS = 3, 10
BETA = 0.98  # fastai's smoothing of the loss
DIVERGE = 4.0  # stop once the smoothed loss is 4x its minimum (fastai's rule)
SKIP_START = 0.1  # the valley rule ignores the first tenth of the ramp, as fastai does: the EMA is still warming up
CURVE_POINTS = 100  # points per seed kept in the JSON and the cache
FOLDER = "lr_find"
RULE = "valley"
#: Recipe keys a range test does not depend on: the ramp sets the rate and its own length, and trains no schedule.
_IGNORED = {
    "train": ("lr", "steps", "schedule", "eval_every", "early_stopping", "device"),
    "probes": None,
}


def check_settings(seeds: int, steps: int, start: float, end: float) -> None:
    """Refuse a range test that is empty, endless or outside the rates a recipe accepts (RecipeError)."""
    if not 1 <= seeds <= MAX_SEEDS:
        raise RecipeError(f"--seeds: between 1 and {MAX_SEEDS} seeds (got {seeds})")
    if not MIN_STEPS <= steps <= MAX_STEPS:
        raise RecipeError(f"--steps: between {MIN_STEPS} and {MAX_STEPS} steps (got {steps})")
    if not (math.isfinite(start) and math.isfinite(end) and 0 < start < end <= MAX_END):
        raise RecipeError(f"--start/--end: need 0 < start < end <= {MAX_END:g} (got {start:g} and {end:g})")


def ramp(start: float, end: float, steps: int) -> list[float]:
    """``steps`` rates from ``start`` to ``end``, each the same factor above the last (a geometric ramp)."""
    ratio = (end / start) ** (1.0 / max(1, steps - 1))
    return [start * ratio**i for i in range(steps)]


def smooth(losses: Sequence[float], beta: float = BETA) -> list[float]:
    """The bias-corrected exponential moving average fastai plots (a non-finite loss stays non-finite)."""
    avg, out = 0.0, []
    for i, loss in enumerate(losses, start=1):
        avg = beta * avg + (1 - beta) * float(loss)
        out.append(avg / (1 - beta**i))
    return out


def valley(lrs: Sequence[float], smoothed: Sequence[float]) -> float | None:
    """fastai's default suggestion ("valley", fastai 2.5): two thirds of the way down the longest descent.

    Why this rule: the steepest slope of a 200-step curve is one noisy difference, and the minimum
    over ten (Smith's) is as far as the loss got before blowing up, which the EMA's lag pushes late.
    The valley is the longest run of falling losses (not necessarily adjacent steps), so one bump
    does not cut it short, and its point past the middle is where the loss is still falling fast.
    None when the loss never fell.
    """
    pairs = [(lr, loss) for lr, loss in zip(lrs, smoothed) if math.isfinite(loss)]
    pairs = pairs[int(len(pairs) * SKIP_START) :]
    n = len(pairs)
    if n < 3:
        return None
    losses = [loss for _, loss in pairs]
    # Longest strictly decreasing subsequence ending at each point: O(n^2) over at most MAX_STEPS points.
    run = [1] * n
    best_start, best_end = 0, 0
    for i in range(1, n):
        for j in range(i):
            if losses[i] < losses[j] and run[i] < run[j] + 1:
                run[i] = run[j] + 1
        if run[i] > run[best_end]:
            best_end, best_start = i, i - run[i] + 1
    if best_end == best_start:
        return None
    third = (best_end - best_start) / 3
    return pairs[best_start + int(third) + int(third / 2)][0]


def combine(suggestions: Sequence[float | None]) -> tuple[float | None, tuple[float, float] | None]:
    """(the geometric mean of the seeds' suggestions, their [min, max] band); (None, None) when none had one.

    Geometric, because rates are compared by their ratio: 1e-3 and 1e-1 average to 1e-2.
    """
    found = [s for s in suggestions if s is not None and s > 0]
    if not found:
        return None, None
    mean = math.exp(sum(math.log(s) for s in found) / len(found))
    return _sig(mean), (_sig(min(found)), _sig(max(found)))


def _sig(x: float) -> float:
    return float(f"{x:.3g}")


def downsample(xs: Sequence[float], n: int = CURVE_POINTS) -> list[int]:
    """At most ``n`` evenly spaced indices of ``xs``, always with the first and last."""
    if len(xs) <= n:
        return list(range(len(xs)))
    return sorted({round(i * (len(xs) - 1) / (n - 1)) for i in range(n)})


@dataclass
class SeedCurve:
    """One seed's ramp: the rates tried, the smoothed loss at each, where it diverged and what it suggests."""

    seed: int
    lr: list[float]
    loss: list[float | None]  # smoothed; None where non-finite (JSON has no NaN)
    suggestion: float | None
    stopped_at: float | None  # the rate at which the smoothed loss diverged; None if the ramp ran to its end
    min_loss_lr: float | None  # the rate with the lowest smoothed loss

    @classmethod
    def measure(cls, seed: int, lrs: Sequence[float], raw: Sequence[float], diverged: bool) -> SeedCurve:
        """Smooth a seed's raw losses, suggest a rate and keep a downsampled curve."""
        lrs = list(lrs[: len(raw)])  # the rates tried: a diverged ramp stops short
        smoothed = smooth(raw)
        finite = [(s, lr) for s, lr in zip(smoothed, lrs) if math.isfinite(s)]
        keep = downsample(lrs)
        return cls(
            seed=seed,
            lr=[_sig(lrs[i]) for i in keep],
            loss=[float(f"{smoothed[i]:.5g}") if math.isfinite(smoothed[i]) else None for i in keep],
            suggestion=_maybe_sig(valley(lrs, smoothed)),
            stopped_at=_sig(lrs[-1]) if diverged and raw else None,
            min_loss_lr=_sig(min(finite)[1]) if finite else None,
        )


def _maybe_sig(x: float | None) -> float | None:
    return None if x is None else _sig(x)


@dataclass
class LrFindResult:
    """The range test on one recipe across seeds: the JSON ``gradclinic lr-find --json`` prints and the cache holds."""

    recipe: str
    key: str
    optimizer: str
    seeds: list[int]
    steps: int
    start: float
    end: float
    suggestion: float | None
    band: list[float] | None
    stopped_at: float | None  # the lowest rate at which any seed diverged
    seconds: float
    per_seed: list[SeedCurve]
    rule: str = RULE
    created: float = field(default_factory=time.time)

    @classmethod
    def from_curves(
        cls, recipe: dict[str, Any], curves: list[SeedCurve], steps: int, start: float, end: float, seconds: float
    ) -> LrFindResult:
        """Combine the seeds' curves of ``recipe`` (its resolved dict) into one result."""
        suggestion, band = combine([c.suggestion for c in curves])
        stops = [c.stopped_at for c in curves if c.stopped_at is not None]
        return cls(
            recipe=str(recipe.get("name", "custom")),
            key=recipe_key(recipe),
            optimizer=str((recipe.get("train") or {}).get("optimizer", "")),
            seeds=[c.seed for c in curves],
            steps=steps,
            start=start,
            end=end,
            suggestion=suggestion,
            band=list(band) if band else None,
            stopped_at=min(stops) if stops else None,
            seconds=round(seconds, 2),
            per_seed=curves,
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (no NaN)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LrFindResult:
        """Read back :meth:`to_dict`'s output (a cache file, the CLI's JSON)."""
        fields = dict(data)
        fields["per_seed"] = [SeedCurve(**c) for c in data.get("per_seed") or []]
        return cls(**fields)

    def describe(self) -> str:
        """One line: the suggestion, its band and the seeds it came from."""
        if self.suggestion is None or not self.band:
            return f"{self.recipe}: the loss never fell over {self.start:g}..{self.end:g}; no rate to suggest"
        seeds = ", ".join(map(str, self.seeds))
        return (
            f"{self.recipe}: suggested train.lr={self.suggestion:g} (band {self.band[0]:g} to {self.band[1]:g} "
            f"over seeds {seeds}; {self.optimizer}, {self.steps}-step ramp {self.start:g}..{self.end:g})"
        )


def recipe_key(recipe: dict[str, Any]) -> str:
    """A short hash of what a range test depends on: the data, the model, and the training keys of ``recipe``.

    Not the rate, the length, the schedule or the seed: a Launch page that changes
    ``train.lr`` or ``seed`` still finds the test it ran, and so does a run of the recipe.
    """
    keep = {}
    for section in ("data", "model", "train"):
        body = dict(recipe.get(section) or {})
        for name in _IGNORED.get(section) or ():
            body.pop(name, None)
        keep[section] = body
    text = json.dumps(keep, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def cache_path(home: str | Path, recipe: dict[str, Any]) -> Path:
    """Where the range test of ``recipe`` is kept: ``<home>/lr_find/<recipe key>.json``."""
    return Path(home) / FOLDER / f"{recipe_key(recipe)}.json"


def save(home: str | Path, result: LrFindResult) -> Path:
    """Write ``result`` to its cache file atomically (a reader sees the old file or the new, never half)."""
    folder = Path(home) / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{result.key}.json"
    fd, tmp = tempfile.mkstemp(prefix=".lr_find-", suffix=".json", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(result.to_dict(), fh, allow_nan=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load(home: str | Path, recipe: dict[str, Any]) -> LrFindResult | None:
    """The cached range test for ``recipe`` in the store at ``home``, or None (none yet, or unreadable)."""
    path = cache_path(home, recipe)
    try:
        return LrFindResult.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):  # missing, or written by another version: as if never run
        return None
