"""A curve's x-axis: steps, epochs, samples seen or training time, and how a run's steps map to each.

Plain Python (no Streamlit). The store keeps every scalar by step only, so the other axes
are derived from what a run recorded, and an axis is offered only where that is exact:

* **epochs** and **samples**: the batch size (the run's recipe) and the training-set
  size (the run's ``data`` event). Every batch has exactly ``min(batch, n_train)`` rows
  and an epoch's ragged tail is dropped (``engine/training/batches.py``), so an epoch is
  ``n_train // batch`` steps.
* **training time**: the store has no timestamp per step, but the recorder writes
  ``samples_per_s`` at each flush (about every 0.5 s) as the run's average since it
  started: ``(step - start) * batch / seconds``. So ``seconds = (step - start) * batch /
  samples_per_s`` holds exactly at each flush, and steps in between are interpolated.
  A run whose seconds would go backwards (its ``samples_per_s`` was a per-window rate,
  as an older version recorded it) or that was resumed (two sessions' rows overlap past
  the checkpoint) gets no time axis, and :attr:`RunClock.no_time` says why.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "AXES",
    "CHOICES",
    "LOSS_AXES",
    "CurveSettings",
    "RunClock",
    "XAxis",
    "run_clock",
    "shared_axes",
    "missing_axes",
    "x_axis",
    "on_axis",
]

#: The x-axes a curve can have, in the order the control lists them.
AXES = ("step", "epoch", "samples", "time")
#: How the control names each one.
CHOICES = {"step": "steps", "epoch": "epochs", "samples": "samples", "time": "wall time"}


@dataclass(frozen=True)
class RunClock:
    """What maps one run's steps to epochs, samples and seconds; None where the store cannot say."""

    batch: int | None  # the recipe's train.batch_size
    n_train: int | None  # training rows, from the run's data event
    time_steps: np.ndarray | None = None  # steps where the training time is known exactly ...
    time_seconds: np.ndarray | None = None  # ... and the seconds trained by then
    no_time: str | None = None  # why there is no time axis

    @property
    def rows_per_step(self) -> int | None:
        """Samples in each training batch (the batch size, capped at the training set)."""
        if self.batch is None:
            return None
        return min(self.batch, self.n_train) if self.n_train else self.batch

    @property
    def steps_per_epoch(self) -> int | None:
        rows = self.rows_per_step
        return self.n_train // rows if self.n_train and rows else None

    def axes(self) -> list[str]:
        """The x-axes this run can be drawn on."""
        ok = {
            "step": True,
            "epoch": bool(self.steps_per_epoch),
            "samples": self.batch is not None,
            "time": self.time_steps is not None,
        }
        return [a for a in AXES if ok[a]]

    def why_not(self, axis: str) -> str | None:
        """Why this run cannot be drawn on ``axis``, or None when it can."""
        if axis in self.axes():
            return None
        if axis == "time":
            return self.no_time
        return "its recipe has no batch size" if self.batch is None else "it has not recorded its training-set size"

    def seconds(self, steps: np.ndarray) -> np.ndarray:
        """Training seconds at ``steps``: interpolated between flushes, past the last one at its rate."""
        assert self.time_steps is not None and self.time_seconds is not None, self.no_time
        ts, secs = self.time_steps, self.time_seconds
        out = np.interp(steps, ts, secs)
        if len(ts) > 1 and ts[-1] > ts[0]:
            rate = (secs[-1] - secs[0]) / (ts[-1] - ts[0])  # seconds per step, the run's average
            late = steps > ts[-1]
            out[late] = secs[-1] + (steps[late] - ts[-1]) * rate
        return out

    def convert(self, steps: Iterable, axis: str) -> np.ndarray:
        """``steps`` on ``axis`` (one of :data:`AXES`, which this run must offer), as floats."""
        s = np.asarray(steps, dtype=float)
        if axis not in self.axes():
            raise ValueError(f"this run has no {axis} axis" + (f": {self.no_time}" if axis == "time" else ""))
        if axis == "epoch":
            return s / float(self.steps_per_epoch or 1)
        if axis == "samples":
            return s * float(self.rows_per_step or 1)
        if axis == "time":
            return self.seconds(s)
        return s


def run_clock(recipe: Mapping[str, Any] | None, wide: pd.DataFrame, data_events: list[tuple[int, dict]]) -> RunClock:
    """A run's clock from its recipe (a dict), its scalars by step and its ``data`` events as (step, payload).

    The recorder writes one ``data`` event where each session of the run starts (``before_fit``).
    """
    batch = ((recipe or {}).get("train") or {}).get("batch_size")
    batch = int(batch) if isinstance(batch, int | float) and batch >= 1 else None
    n_train = next((int(p["n_train"]) for _, p in reversed(data_events) if (p or {}).get("n_train")), None)
    starts = sorted({int(s) for s, _ in data_events if s is not None}) or [0]
    if batch is None:
        return RunClock(batch, n_train, no_time="its recipe has no batch size")
    if len(starts) > 1:
        return RunClock(batch, n_train, no_time="it was resumed, and its sessions' rows overlap past the checkpoint")
    if "samples_per_s" not in wide.columns:
        return RunClock(batch, n_train, no_time="it has not recorded its speed yet")
    rate = pd.to_numeric(wide["samples_per_s"], errors="coerce")
    rate = rate[np.isfinite(rate) & (rate > 0) & (rate.index > starts[0])].sort_index()
    if rate.empty:
        return RunClock(batch, n_train, no_time="it has not recorded its speed yet")
    # The recorder counts (step - start) * the recipe's batch size, uncapped: so must this.
    steps = np.concatenate([[starts[0]], rate.index.to_numpy(dtype=float)])
    seconds = np.concatenate([[0.0], (rate.index.to_numpy(dtype=float) - starts[0]) * batch / rate.to_numpy()])
    if np.any(np.diff(seconds) < -1e-6 * max(float(seconds[-1]), 1.0)):
        return RunClock(batch, n_train, no_time="its samples_per_s is not a running average (an older recording)")
    return RunClock(batch, n_train, steps, seconds)


@dataclass(frozen=True)
class XAxis:
    """One chart's x-axis: which quantity, its title, and its unit (seconds per unit for time)."""

    key: str = "step"
    title: str = "step"
    unit_s: float = 1.0

    @property
    def short(self) -> str:
        """The quantity in a phrase ("non-finite loss at epoch 3.2")."""
        return {"step": "step", "epoch": "epoch", "samples": "sample", "time": "time"}[self.key]


#: A time axis counts in the largest unit the longest run lasts at least two of.
_TIME_UNITS = ((3600.0, "h"), (60.0, "min"), (1.0, "s"))


def x_axis(key: str, clocks: Iterable[RunClock] = ()) -> XAxis:
    """The x-axis ``key`` for charts of ``clocks``: time in s, min or h by the longest run."""
    if key == "time":
        longest = max((float(c.time_seconds[-1]) for c in clocks if c.time_seconds is not None), default=0.0)
        unit, name = next(((u, n) for u, n in _TIME_UNITS if longest >= 2 * u), (1.0, "s"))
        return XAxis("time", f"training time ({name})", unit)
    return XAxis(key, {"step": "step", "epoch": "epoch", "samples": "samples seen"}[key])


def shared_axes(clocks: Iterable[RunClock]) -> list[str]:
    """The x-axes every one of ``clocks`` offers, in :data:`AXES` order (always at least "step")."""
    offered = [set(c.axes()) for c in clocks]
    return [a for a in AXES if all(a in o for o in offered)]


def missing_axes(clocks: Mapping[str, RunClock]) -> dict[str, str]:
    """{axis: why it is not offered} for ``clocks`` (run label → clock), naming the first run at fault."""
    out = {}
    for axis in AXES:
        for label, clock in clocks.items():
            why = clock.why_not(axis)
            if why:
                out[axis] = why if len(clocks) == 1 else f"{label}: {why}"
                break
    return out


#: The loss axis choices: "auto" is log when the values span more than 100×.
LOSS_AXES = ("auto", "log", "linear")


@dataclass(frozen=True)
class CurveSettings:
    """What the curve controls chose; hashable, so it can key cached figures."""

    smoothing: float = 0.0  # an EMA weight, 0 = raw
    loss_axis: str = "auto"
    x: XAxis = XAxis()
    highlight: str | None = None

    @property
    def log_y(self) -> bool | None:
        """The loss charts' ``log_y``: True, False, or None for "choose by the values"."""
        return {"auto": None, "log": True, "linear": False}[self.loss_axis]


def on_axis(wide: pd.DataFrame, clock: RunClock, x: XAxis) -> pd.DataFrame:
    """``wide`` (scalars by step) with its index moved to ``x``; unchanged for steps.

    The order of the rows is the order of the steps, since every map is non-decreasing.
    """
    if x.key == "step" or wide is None or wide.empty:
        return wide
    out = wide.sort_index()
    values = clock.convert(out.index.to_numpy(), x.key) / x.unit_s
    out = out.set_axis(pd.Index(values, name=x.key), axis=0)
    return out
