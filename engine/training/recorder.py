"""Writes a run to the store: batched flushes, divergence, heartbeat, stop flag.

The recorder is a trainer callback. Per step it only appends the loss tensor
to a list; every ``flush_seconds`` (and at each evaluation, which is a sync
point anyway) it copies everything to the host in one go and writes it in
one store transaction. That is also when it checks for NaN/Inf, beats the
heartbeat, re-plans the probe schedule and polls the stop, pause and pace
controls.

While another process holds the store's write lock, a flush waits only
:data:`FLUSH_WAIT_S` and keeps its batch; training goes on and the kept
batches are written, oldest first, at the next flush the lock allows. The
last flush of a run waits as long as the store lets it (the session raises
that wait), so nothing recorded is lost to a transient lock.

``samples_per_s`` is the run's average so far, not the last window's: samples
trained since the run (or its resumption) began over the wall time since then,
evaluations and flushes included, pauses and slow motion not
(:mod:`engine.training.pacing`). A window between two flushes can hold one step
or a whole evaluation, so a per-window figure swings by orders of magnitude; the
average is steady, and its last value is the whole run's throughput.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from engine.models.base import trained_layers
from engine.store.errors import StoreBusy
from engine.training.events import Callback
from engine.training.pacing import Pacer
from engine.training.probing.manager import ProbeManager

if TYPE_CHECKING:
    from engine.datasets.base import Dataset
    from engine.store import Store
    from engine.training.trainer import TrainState

log = logging.getLogger("gradclinic.recorder")
FLUSH_WAIT_S = 1.0  # a flush mid-run waits this long for the write lock, then keeps its batch
MAX_KEPT = 10_000  # batches kept while the store is locked; past this a flush waits for the lock


class Recorder(Callback):
    """Buffers per-step scalars and drains the probes into ``store`` at each flush."""

    def __init__(
        self,
        store: Store,
        run_id: str,
        probes: ProbeManager,
        flush_seconds: float = 0.5,
        on_flush: Callable[[dict], None] | None = None,
        diagnose: Callable | None = None,
    ):
        self.store, self.run_id, self.probes = store, run_id, probes
        self.flush_seconds = flush_seconds
        self.on_flush = on_flush
        self.diagnose = diagnose  # called at each evaluation with (store, run_id), returns findings
        self._steps: list[int] = []
        self._losses: list[torch.Tensor] = []
        self._lrs: list[tuple[int, float]] = []
        self._pending_scalars: list[tuple[int, str, float]] = []
        self._step_scalars: list[tuple[int, dict]] = []  # a custom step's extra losses (GAN)
        self._events: list[tuple[int, str, dict]] = []
        self._last_flush = time.perf_counter()
        self._last_flush_step = 0
        self._last_times = (0.0, 0.0, 0.0, 0.0)  # _times() at the last flush
        self._fit_start = time.perf_counter()  # reset at before_fit: samples_per_s counts from there
        self._fit_start_step = 0
        self._last_diagnose = time.perf_counter()
        self._last_lr: float | None = None
        self.last_loss = math.nan
        self.first_nonfinite_step: int | None = None
        self._kept: list[dict[str, Any]] = []  # batches not yet in the store (it was locked)
        self._busy_since: float | None = None
        self.pacer = Pacer.for_run(store, run_id)  # pause and slow motion, read at each flush

    def _times(self, s: TrainState) -> tuple[float, float, float, float]:
        return (s.data_wait_s, s.compute_s, s.optimizer_s, self.pacer.waited_s)

    def _time_shares(self, s: TrainState, step: int, now: float) -> list[tuple[int, str, float]]:
        """This window's step time by part, each a share of its training time (paused time left out).

        ``data_wait`` (blocked on the next batch) always; ``time_compute`` (forward and backward) and
        ``time_optimizer`` where they were timed (on the CPU). Probes are ``probe_overhead``; the
        rest (evaluations, recording) is what none of them covers.
        """
        then = self._last_times
        wait, compute, optim, paused = (a - b for a, b in zip(self._times(s), then))
        window_s = now - self._last_flush - paused
        if window_s <= 0:
            return []
        out = [(step, "data_wait", min(1.0, wait / window_s))]
        if compute > 0:
            out += [
                (step, "time_compute", min(1.0, compute / window_s)),
                (step, "time_optimizer", min(1.0, optim / window_s)),
            ]
        return out

    def before_fit(self, s: TrainState) -> None:
        self._last_flush_step = s.step  # a resumed run starts past 0
        self._last_flush, self._last_times = time.perf_counter(), self._times(s)
        self._fit_start, self._fit_start_step = time.perf_counter(), s.step
        model = s.model
        self.store.declare_stats(self.probes.scopes())
        self.store.set_layers(
            self.run_id,
            [(n, None) for n, _ in trained_layers(model)],
            [(n, fam) for n, _, fam in model.activation_layers()],
        )
        self._events.append((s.step, "schedule", self.probes.schedule()))
        self._events.append((s.step, "data", _data_info(s.data)))
        t = s.recipe.train
        if t.amp or t.compile or t.channels_last:  # how this run computes, for the Live caption
            how = {**s.precision.describe(), "compile": t.compile, "channels_last": t.channels_last}
            self._events.append((s.step, "precision", how))

    def after_step(self, s: TrainState) -> None:
        step = s.step
        self._steps.append(step)
        assert s.loss is not None, "a training step sets the loss"
        self._losses.append(s.loss)
        if s.step_scalars:
            self._step_scalars.append((step, s.step_scalars))
        lr = s.lr
        if lr != self._last_lr:
            self._lrs.append((step, lr))
            self._last_lr = lr
        # The first step goes out at once: the page shows a point within a second of Launch.
        if step == self._fit_start_step + 1 or time.perf_counter() - self._last_flush >= self.flush_seconds:
            self.flush(s)
        # Between two steps, after the probe manager (the first callback) timed this one.
        if self.pacer.active and s.stop_reason is None:
            paused = self.pacer.wait(lambda: s.request_stop("stopped", step=s.step, what="stop requested"))
            if paused:
                self._events.append((step, "paused", {"seconds": round(paused, 3)}))

    def after_eval(self, s: TrainState) -> None:
        step = s.step
        for name, value in s.metrics.items():
            if value is not None:
                self._pending_scalars.append((step, name, float(value)))
        self.flush(s, evaluated=True)

    def after_fit(self, s: TrainState) -> None:
        self.flush(s, final=True)

    def flush(self, s: TrainState, evaluated: bool = False, final: bool = False) -> None:
        """Copy buffered values to the host and write them in one transaction (kept for later while locked)."""
        now = time.perf_counter()
        scalars = self._pending_scalars
        if self._losses:
            losses = torch.stack(self._losses).float().cpu().numpy()
            bad = ~np.isfinite(losses)
            if bad.any() and self.first_nonfinite_step is None:
                self.first_nonfinite_step = int(self._steps[int(np.argmax(bad))])
                s.request_stop("diverged", step=self.first_nonfinite_step, what="train_loss")
            scalars += [(st, "train_loss", float(v)) for st, v in zip(self._steps, losses)]
            finite = losses[np.isfinite(losses)]
            self.last_loss = float(finite[-1]) if finite.size else math.nan
        if self._step_scalars:
            keys = list(self._step_scalars[0][1])
            values = torch.stack([torch.stack([d[k] for k in keys]) for _, d in self._step_scalars]).float().cpu()
            scalars += [
                (st, k, float(v))
                for (st, _), row in zip(self._step_scalars, values.tolist())
                for k, v in zip(keys, row)
            ]
            self._step_scalars = []
        if s.events:  # a model's own events (the GAN's samples), in step order with ours
            self._events += s.events
            s.events.clear()
        scalars += [(st, "lr", v) for st, v in self._lrs]
        # Steps whose update fp16's loss scaler skipped: their probe records go (see precision.py).
        skipped = s.precision.drain_overflow() if s.precision is not None else []
        scalars += self.probes.drain_scalars(skipped)
        last_step = s.step
        run_s = now - self._fit_start - self.pacer.waited_s  # paused and slowed time is no training time
        if s.step > self._last_flush_step and run_s > 0:
            done = (s.step - self._fit_start_step) * s.recipe.train.batch_size
            scalars.append((last_step, "samples_per_s", done / run_s))
            overhead = self.probes.measured_overhead()
            if math.isfinite(overhead):
                scalars.append((last_step, "probe_overhead", overhead))
            scalars += self._time_shares(s, last_step, now)
            scalars += _loss_scaling(s, last_step)
        self.probes.replan(s.step)
        if self.probes.take_changed():
            self._events.append((last_step, "schedule", self.probes.schedule()))
        self._kept.append(
            {
                "scalars": scalars,
                "layer_stats": self.probes.drain(skipped),
                "events": self._events,
                "step": max(last_step, 0),
            }
        )
        self._steps, self._losses, self._lrs, self._pending_scalars, self._events = [], [], [], [], []
        self._last_flush, self._last_flush_step = time.perf_counter(), s.step
        self._last_times = self._times(s)
        written = self._write_kept(wait=final or len(self._kept) >= MAX_KEPT)
        if self.on_flush is not None:  # before the control read: an in-process sweep's prune applies at once
            self.on_flush({"step": s.step, "loss": self.last_loss, "metrics": s.metrics})
        control = self.store.control(self.run_id)  # a read: it answers while the store is locked
        if control.stop and not final:  # a stop that comes after the last step changes nothing: it completed
            if control.prune:
                s.request_stop("pruned", step=s.step, what="pruned by the sweep")
            else:
                s.request_stop("stopped", step=s.step, what="stop requested")
        self.pacer.update(control)
        # Diagnosis re-reads the run, so a fast run does it at most every few seconds;
        # the session diagnoses once more at the end.
        if written and evaluated and self.diagnose is not None and time.perf_counter() - self._last_diagnose >= 2.0:
            self._last_diagnose = time.perf_counter()
            try:
                with self.store.lock_wait(FLUSH_WAIT_S):
                    self.diagnose(self.store, self.run_id)
            except StoreBusy:
                pass  # a later evaluation (or the end of the run) diagnoses again

    def _write_kept(self, wait: bool) -> bool:
        """Write the kept batches, oldest first; False while another process holds the lock.

        With ``wait`` (the run's last flush), the store's own lock wait applies and a lock
        held past it raises :class:`StoreBusy`; otherwise a short wait, and the rest is kept.
        """
        while self._kept:
            try:
                # while locked, only a glance at the lock each flush: training goes on meanwhile
                short = FLUSH_WAIT_S if self._busy_since is None else 0.05
                self.store.flush(self.run_id, **self._kept[0], wait_s=None if wait else short)
            except StoreBusy:
                if wait:
                    raise
                if self._busy_since is None:
                    self._busy_since = time.monotonic()
                    log.warning(
                        "run %s: the store is locked by another process; keeping its rows until it is free", self.run_id
                    )
                return False
            self._kept.pop(0)
        if self._busy_since is not None:
            log.info(
                "run %s: the store is free again after %.0fs; every kept row is written",
                self.run_id,
                time.monotonic() - self._busy_since,
            )
            self._busy_since = None
        return True


def _loss_scaling(s: TrainState, step: int) -> list[tuple[int, str, float]]:
    """fp16's loss scaler at a flush: the updates it skipped so far (``amp_skipped``) and its factor."""
    p = s.precision
    if p is None or p.scaler is None:
        return []
    scale = p.loss_scale()
    return [(step, "amp_skipped", float(p.skipped))] + ([] if scale is None else [(step, "loss_scale", scale)])


def _data_info(data: Dataset) -> dict[str, Any]:
    """What the rules need to know about the data (chance level, target spread)."""
    info: dict[str, Any] = {
        "task": data.task,
        "n_train": len(data.x_train),
        "n_val": len(data.x_val),
        "input_shape": list(data.input_shape),
        "n_classes": data.n_classes,
    }
    if data.task == "classification":
        info["chance_accuracy"] = data.chance_accuracy
    else:
        info["target_variance"] = float(np.var(data.y_val))
    return info
