"""The Live page's logic: each run's metrics read incrementally, and the probe budget meter.

Plain Python (no Streamlit, no torch), so it is unit-tested directly. A
:class:`RunFeed` keeps one run's scalars and per-layer matrices in memory and,
on each :meth:`RunFeed.refresh`, asks the store only for rows past the last
step it already holds. The Live view refreshes once a second, so this is
what keeps a long run cheap to watch.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from app.logic import axes, common
from engine.config.histograms import HIST_STATS, split
from engine.store import Store

#: The per-layer statistics of the layer health strip (app/components/health.QUANTITIES draws each).
HEALTH_STATS = (
    "grad_norm",
    "update_ratio",
    "weight_norm",
    "act_mean",
    "act_std",
    "dead_fraction",
    "saturated_fraction",
)
#: Per-layer statistics the Live view draws: the strip's, and the weight and gradient histograms.
LIVE_STATS = (*HEALTH_STATS, *HIST_STATS)
#: Before a live run's first point, a refresh waits up to this long for it (within the page's 1 s tick).
FIRST_POINT_WAIT_S = 0.8

#: A history longer than this many recorded steps is first read as an evenly spaced sample;
#: heatmaps draw at most ~600 columns anyway, and new rows then arrive at full resolution.
HISTORY_BINS = 1000


@dataclass
class Matrix:
    """One per-layer statistic as a (steps × layers) array, grown in place as rows arrive."""

    steps: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    names: list[str] = field(default_factory=list)
    values: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))

    def extend(self, steps: np.ndarray, names: list[str], values: np.ndarray) -> None:
        if len(steps) == 0:
            return
        if len(names) != len(self.names) and len(self.steps):
            # The layer catalogue grew (rare): pad the old rows so both fit one array.
            width = max(len(names), len(self.names))
            self.values = np.pad(self.values, ((0, 0), (0, width - self.values.shape[1])), constant_values=np.nan)
            values = np.pad(values, ((0, 0), (0, width - values.shape[1])), constant_values=np.nan)
        keep = self.steps < steps[0]  # rows re-read at the seam replace the old ones
        self.steps = np.concatenate([self.steps[keep], steps])
        self.values = values if not len(self.values) else np.vstack([self.values[keep], values])
        self.names = list(names) if len(names) >= len(self.names) else self.names

    @property
    def empty(self) -> bool:
        return len(self.steps) == 0


class RunFeed:
    """One run's metrics, kept in memory and refreshed with only the new rows."""

    def __init__(self, run_id: str, stats: tuple[str, ...] = LIVE_STATS, history_bins: int | None = HISTORY_BINS):
        self.run_id = run_id
        self.stats = stats
        self.history_bins = history_bins
        self.run: dict[str, Any] = {}
        self.wide = pd.DataFrame()
        self.matrices: dict[str, Matrix] = {s: Matrix() for s in stats}
        self.findings: list[dict] = []
        self.schedule: dict[str, Any] | None = None
        self.samples: dict[str, Any] | None = None
        # The newest decision boundary or fitted curve ({step, payload}): 2-D classification, 1-D regression.
        self.boundary: dict[str, Any] | None = None
        self.data_events: list[tuple[int, dict]] = []  # (step, payload) where each session began
        self.precision: dict[str, Any] | None = None  # how the run computes (train.amp, compile), if not plain
        self._precision_read = False
        self._scalar_step = -1
        self._stat_step: dict[str, int] = {s: -1 for s in stats}

    def refresh(self, store: Store) -> int:
        """Read what is new since the last call; returns how many new scalar rows arrived."""
        self.run = store.get_run(self.run_id)
        # Re-read the last step we hold: an evaluation at step s may be flushed after
        # the training loss of step s was.
        since = max(self._scalar_step - 1, -1)
        new = store.scalars_wide(self.run_id, since_step=since)
        if len(new):
            old = self.wide[self.wide.index <= since] if len(self.wide) else self.wide
            self.wide = pd.concat([old, new]) if len(old) else new
            self._scalar_step = int(self.wide.index.max())
        for stat in self.stats:
            since = self._stat_step[stat]
            steps, names, values = store.layer_matrix(
                self.run_id, stat, since_step=since, bins=self.history_bins if since < 0 else None
            )
            if len(steps):
                self.matrices[stat].extend(steps, names, values)
                self._stat_step[stat] = int(steps[-1])
        self.findings = store.findings(self.run_id)
        # Only the newest of each: a GAN writes a sample cloud at every evaluation.
        schedule = store.last_event(self.run_id, "schedule")
        self.schedule = schedule["payload"] if schedule else None
        self.samples = store.last_event(self.run_id, "samples")
        self.boundary = store.last_event(self.run_id, "boundary")
        if not self._precision_read:  # written once, before the first step
            event = store.last_event(self.run_id, "precision")
            self.precision, self._precision_read = (event or {}).get("payload"), bool(event) or len(self.wide) > 0
        if len(new) or not self.data_events:  # a resumed session writes another one
            events = store.events(self.run_id, "data")
            self.data_events = [(int(s), p) for s, p in zip(events["step"], events["payload"]) if pd.notna(s)]
        return len(new)

    @property
    def clock(self) -> axes.RunClock:
        """What maps this run's steps to epochs, samples seen and training time (:mod:`app.logic.axes`)."""
        return axes.run_clock(self.run.get("recipe"), self.wide, self.data_events)

    @property
    def version(self) -> tuple:
        """Changes whenever new rows or a new status arrive: the key for cached figures."""
        stats, picture = tuple(self._stat_step.values()), (self.boundary or {}).get("step")
        return (self.run_id, self.status, self._scalar_step, stats, len(self.findings), picture)

    @property
    def status(self) -> str:
        return self.run.get("status", "queued")

    @property
    def paused(self) -> bool:
        """True while the run (queued or running) is asked to pause: the status tile says so."""
        return bool(self.run.get("paused")) and self.status in ("queued", "running")

    @property
    def pace_ms(self) -> int:
        """The run's slow motion: milliseconds it waits after every step (0: full speed)."""
        return int(self.run.get("pace_ms") or 0)

    def latest(self, column: str) -> float | None:
        """The last recorded value of a scalar, or None."""
        if column not in self.wide.columns:
            return None
        s = self.wide[column].dropna()
        return float(s.iloc[-1]) if len(s) else None


def health_options(matrices: dict[str, Matrix], order) -> list[str]:
    """The statistics of ``order`` that have at least one finite value (a ReLU net has no saturation)."""
    return [
        stat
        for stat in order
        if stat in matrices and not matrices[stat].empty and np.isfinite(matrices[stat].values).any()
    ]


def histogram_layers(m: Matrix) -> list[str]:
    """The layers a histogram matrix holds, input first (its rows are ``layers x bins`` wide)."""
    return list(m.names[: split(m.values).shape[1]]) if not m.empty else []


def layer_histogram(m: Matrix, layer: int) -> tuple[np.ndarray, np.ndarray]:
    """(steps[S], shares[S, bins]) of one layer of a histogram matrix: bins x steps for the Live page."""
    return m.steps, split(m.values)[:, layer, :]


def step_span(matrices: dict[str, Matrix]) -> tuple[float, float] | None:
    """(first, last) recorded step over every per-layer statistic: the step range all layer charts share.

    Groups run at different intervals (and activations may start later), so each chart's own
    steps differ a little; one range keeps the charts of one run lined up.
    """
    held = [m.steps for m in matrices.values() if not m.empty]
    if not held:
        return None
    return float(min(s[0] for s in held)), float(max(s[-1] for s in held))


#: The recorder's timing scalars, each a share of a window's training time.
TIME_PARTS = {"data_wait": "waiting for data", "time_compute": "forward + backward", "time_optimizer": "optimizer"}
TIME_WINDOWS = 5  # the last flushes averaged: one window is half a second, and noisy


def step_time(wide: pd.DataFrame) -> dict[str, float] | None:
    """{part: share of training time} over the last few windows, summing to 1; None before any is timed.

    Without ``time_compute`` (a GPU run: its work is not timed on the host) the model's work is
    one part, the rest after waiting and probes.
    """
    if "data_wait" not in wide.columns or wide["data_wait"].dropna().empty:
        return None

    def recent(column: str) -> float:
        if column not in wide.columns:
            return 0.0
        values = pd.to_numeric(wide[column], errors="coerce").dropna().iloc[-TIME_WINDOWS:]
        return float(values.mean()) if len(values) else 0.0

    shares = {TIME_PARTS["data_wait"]: recent("data_wait")}
    if "time_compute" in wide.columns:
        shares[TIME_PARTS["time_compute"]] = recent("time_compute")
        shares[TIME_PARTS["time_optimizer"]] = recent("time_optimizer")
        shares["probes"] = recent("probe_overhead")
        shares["other"] = max(0.0, 1.0 - sum(shares.values()))
    else:
        shares["probes"] = recent("probe_overhead")
        shares["forward, backward, optimizer"] = max(0.0, 1.0 - sum(shares.values()))
    total = sum(shares.values())
    return {k: v / total for k, v in shares.items()} if total > 0 else None


def step_time_caption(shares: dict[str, float]) -> str:
    """One sentence under the bar: what the split means, and when waiting dominates."""
    wait = shares.get(TIME_PARTS["data_wait"], 0.0)
    if wait > 0.5:
        return (
            f"⚠️ The model waits for its next batch **{wait:.0%}** of the time: the input pipeline sets the speed, "
            "and a faster network or device would only wait longer. The diagnosis names the remedies measured to help."
        )
    return f"Waiting for data: {wait:.0%} of the training time; the rest is the network's own work."


def precision_caption(precision: dict[str, Any] | None, wide: pd.DataFrame) -> str | None:
    """One line on how the run computes (mixed precision, compiled, channels-last), or None when plainly.

    Under fp16 it counts the updates the loss scaler skipped: the scaler at work, not a fault, so
    the student is not alarmed by them (their gradients are left out of the charts).
    """
    if not precision:
        return None
    parts = []
    amp = precision.get("amp", "fp32")
    if amp != "fp32":
        where = "" if precision.get("native", True) else " (emulated: this processor has no native " + amp + ")"
        parts.append(f"Mixed precision **{amp}**{where}")
    if precision.get("compile"):
        parts.append("**compiled** with torch.compile (the probes' steps run uncompiled)")
    if precision.get("channels_last"):
        parts.append("images **channels-last**")
    line = "⚙️ " + "; ".join(parts) + "." if parts else None
    if precision.get("loss_scaling") and line is not None:
        skipped = _last_value(wide, "amp_skipped")
        scale = _last_value(wide, "loss_scale")
        if skipped is not None:
            line += (
                f" fp16 loss scaling skipped **{int(skipped)}** update{'s' if skipped != 1 else ''} whose gradients "
                "overflowed (normal while the scale settles; they are left out of the gradient charts)"
                + (f"; scale now {scale:,.0f}." if scale is not None else ".")
            )
    return line


def _last_value(wide: pd.DataFrame, column: str) -> float | None:
    if column not in wide.columns:
        return None
    values = pd.to_numeric(wide[column], errors="coerce").dropna()
    return float(values.iloc[-1]) if len(values) else None


def probe_meter(schedule: dict | None, overhead: float | None) -> str:
    """One line for the budget meter: what the probes cost and how often each one runs."""
    if not schedule and overhead is None:
        return "Probe schedule: waiting for the first steps to be timed."
    parts = []
    if overhead is not None:
        budget = (schedule or {}).get("budget")
        tail = f" of step time (budget {budget:.0%})" if budget else " of step time"
        parts.append(f"Probes cost **{overhead:.1%}**{tail}")
    # Probe groups (gradients, activations, ...) are what the budget schedules; fall back to probes.
    intervals = (schedule or {}).get("group_intervals") or (schedule or {}).get("intervals") or {}
    if intervals:
        parts.append(
            ", ".join(f"{name} every {n} step{'s' if n != 1 else ''}" for name, n in sorted(intervals.items()))
        )
    floor, budget = (schedule or {}).get("floor_interval"), (schedule or {}).get("budget")
    held = floor and intervals and all(n >= floor for n in intervals.values())
    if held and overhead is not None and budget and overhead > budget:
        # Not a broken budget: a short run keeps enough records to tell its story (planner.MIN_RECORDS).
        parts.append(f"over budget because a run this short still records every probe at least every {floor} steps")
    return " — ".join(parts)


def wait_for_first_step(
    store: Store,
    run_id: str,
    timeout_s: float = FIRST_POINT_WAIT_S,
    poll_s: float = 0.02,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """Wait until a run stores its first step or ends, reading only its row; True once it has a step.

    The Live page calls this before a refresh while it has no point yet: the first point is drawn
    the moment it is stored, instead of at the next tick, and the browser is not asked to redraw
    an empty page several times a second meanwhile (on a 2-core laptop that redraw slows the
    very worker it waits for).
    """
    deadline = clock() + timeout_s
    while True:
        run = store.get_run(run_id)
        if run.get("step") or not common.is_live(run["status"]):
            return bool(run.get("step"))
        if clock() >= deadline:
            return False
        sleep(poll_s)
