"""The trainer's named events, in the order they fire (fastai/Lightning style).

Callbacks (probes, the recorder, a progress bar) listen to these names and
nothing else; the trainer never calls them by any other route.
"""
from __future__ import annotations

from enum import Enum


class Event(str, Enum):
    BEFORE_FIT = "before_fit"
    BEFORE_STEP = "before_step"  # a batch is drawn; nothing computed yet
    AFTER_FORWARD = "after_forward"  # loss computed, no gradients yet
    AFTER_BACKWARD = "after_backward"  # gradients measured here, before clipping
    AFTER_STEP = "after_step"  # optimizer (and scheduler) stepped
    AFTER_EVAL = "after_eval"  # validation metrics in ctx.metrics
    AFTER_FIT = "after_fit"


class Callback:
    """Base for anything that listens to trainer events; override ``on``."""

    def on(self, event: Event, ctx) -> None:  # pragma: no cover - interface
        pass
