"""The trainer's named events, in the order they fire, and the callbacks that listen (fastai/Lightning style).

A callback overrides one method per event it cares about (``after_backward(state)``);
the trainer calls them through a table built once (:func:`dispatch_table`), so
an event nobody listens to costs nothing, and a callback never compares event
names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from enum import Enum
from typing import Any


class Event(str, Enum):
    """The events, in firing order; each value is the name of the callback method that handles it."""

    BEFORE_FIT = "before_fit"
    BEFORE_STEP = "before_step"  # a batch is drawn; nothing computed yet
    AFTER_FORWARD = "after_forward"  # loss computed, no gradients yet
    AFTER_BACKWARD = "after_backward"  # gradients measured here, before clipping
    AFTER_STEP = "after_step"  # optimizer (and scheduler) stepped
    AFTER_EVAL = "after_eval"  # validation metrics in state.metrics
    AFTER_FIT = "after_fit"


class Callback:
    """Base for anything that listens to trainer events: override the methods you need.

    Each method receives the trainer's ``TrainState``; the defaults do nothing
    and are left out of the dispatch table.
    """

    def before_fit(self, state: Any) -> None:
        """Before the first step (also of a resumed run)."""

    def before_step(self, state: Any) -> None:
        """A batch is about to be drawn; ``state.step`` is the step being taken."""

    def after_forward(self, state: Any) -> None:
        """The loss is computed (``state.loss``); no gradients yet."""

    def after_backward(self, state: Any) -> None:
        """Gradients exist, before clipping and before the optimizer step."""

    def after_step(self, state: Any) -> None:
        """The optimizer (and the LR schedule) stepped."""

    def after_eval(self, state: Any) -> None:
        """An evaluation finished; its numbers are in ``state.metrics``."""

    def after_fit(self, state: Any) -> None:
        """Training ended (completed, stopped early, diverged or stopped)."""

    def handle(self, event: Event, state: Any) -> None:
        """Call the method for ``event``: for tests and for code that holds an event as a value."""
        getattr(self, event.value)(state)


Handler = Callable[[Any], None]


def dispatch_table(callbacks: Iterable[Callback]) -> dict[Event, tuple[Handler, ...]]:
    """{event: the overriding methods of ``callbacks``, in their order}; built once, not per event."""
    callbacks = list(callbacks)
    for cb in callbacks:
        if not isinstance(cb, Callback):
            raise TypeError(f"{type(cb).__name__} is not an engine.training.events.Callback")
    return {
        event: tuple(
            getattr(cb, event.value)
            for cb in callbacks
            if getattr(type(cb), event.value) is not getattr(Callback, event.value)
        )
        for event in Event
    }
