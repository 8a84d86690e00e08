"""Writes a run to the store: batched flushes, divergence, heartbeat, stop flag.

The recorder is a trainer callback. Per step it only appends the loss tensor
to a list; every ``flush_seconds`` (and at each evaluation, which is a sync
point anyway) it copies everything to the host in one go and writes it in
one store transaction. That is also when it checks for NaN/Inf, beats the
heartbeat, re-plans the probe schedule and polls the stop flag.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from engine.training.events import Callback
from engine.training.probing.manager import ProbeManager

if TYPE_CHECKING:
    from engine.datasets.base import Dataset
    from engine.store import Store
    from engine.training.trainer import TrainState


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
        self._last_diagnose = time.perf_counter()
        self._last_lr: float | None = None
        self.last_loss = math.nan
        self.first_nonfinite_step: int | None = None

    def before_fit(self, s: TrainState) -> None:
        self._last_flush_step = s.step  # a resumed run starts past 0
        model = s.model
        self.store.declare_stats(self.probes.scopes())
        self.store.set_layers(
            self.run_id,
            [(n, None) for n, _ in model.param_layers()],
            [(n, fam) for n, _, fam in model.activation_layers()],
        )
        self._events.append((s.step, "schedule", self.probes.schedule()))
        self._events.append((s.step, "data", _data_info(s.data)))

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
        if time.perf_counter() - self._last_flush >= self.flush_seconds:
            self.flush(s)

    def after_eval(self, s: TrainState) -> None:
        step = s.step
        for name, value in s.metrics.items():
            if value is not None:
                self._pending_scalars.append((step, name, float(value)))
        self.flush(s, evaluated=True)

    def after_fit(self, s: TrainState) -> None:
        self.flush(s)

    def flush(self, s: TrainState, evaluated: bool = False) -> None:
        """Copy buffered values to the host and write them in one transaction."""
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
        scalars += self.probes.drain_scalars()
        last_step = s.step
        elapsed = now - self._last_flush
        steps_done = s.step - self._last_flush_step
        if steps_done > 0 and elapsed > 0:
            scalars.append((last_step, "samples_per_s", steps_done * s.recipe.train.batch_size / elapsed))
            overhead = self.probes.measured_overhead()
            if math.isfinite(overhead):
                scalars.append((last_step, "probe_overhead", overhead))
        self.probes.replan(s.step)
        if self.probes.take_changed():
            self._events.append((last_step, "schedule", self.probes.schedule()))
        self.store.flush(
            self.run_id,
            scalars=scalars,
            layer_stats=self.probes.drain(),
            events=self._events,
            step=max(last_step, 0),
        )
        self._steps, self._losses, self._lrs, self._pending_scalars, self._events = [], [], [], [], []
        self._last_flush, self._last_flush_step = time.perf_counter(), s.step
        if self.store.stop_requested(self.run_id):
            s.request_stop("stopped", step=s.step, what="stop requested")
        # Diagnosis re-reads the run, so a fast run does it at most every few seconds;
        # the session diagnoses once more at the end.
        if evaluated and self.diagnose is not None and time.perf_counter() - self._last_diagnose >= 2.0:
            self._last_diagnose = time.perf_counter()
            self.diagnose(self.store, self.run_id)
        if self.on_flush is not None:
            self.on_flush({"step": s.step, "loss": self.last_loss, "metrics": s.metrics})


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
