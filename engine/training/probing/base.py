"""The probe contract, shaped like Cockpit's quantities: one small self-describing class per file.

A probe declares what it measures and when; the probe manager builds its
dispatch from those declarations and nothing else:

* ``name``: the stored statistic, equal to the probe's file name;
* ``event``: the trainer event it is computed at (:data:`PROBE_EVENTS`);
* ``group``: the schedule unit that shares one interval and one cost
  (``grads``, ``activations``, ``updates``, ``weights``, or a new one);
* ``scope``: what one value describes: a weight layer (``param``), an
  activation layer (``activation``), or the whole model (``model``, stored as
  a scalar named after the probe);
* ``needs_snapshot``: it reads ``ctx.snapshot``, the weights before the
  optimizer step (the manager copies them at ``after_backward``);
* ``description``: one line for the schedule payload and the docs;
* :meth:`Probe.wanted`: whether a run of a given recipe records it (default: every run).

``compute`` returns a 1-D tensor (one value per layer, or one value for
``model`` scope) and stays on the device. The base class owns buffering and
the one copy to the host per flush (:meth:`Probe.drain`). A probe that
declares something the manager cannot honour fails when its class is
defined, that is when its file is imported, with a message naming it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch

from engine.training.events import Event

if TYPE_CHECKING:
    from engine.config.recipe import Recipe
    from engine.training.probing.context import ProbeContext

#: Events a probe may listen to. Per-step events are budgeted; ``after_eval`` probes run at every evaluation.
PROBE_EVENTS = (Event.AFTER_FORWARD, Event.AFTER_BACKWARD, Event.AFTER_STEP, Event.AFTER_EVAL)
STEP_EVENTS = frozenset({Event.AFTER_FORWARD, Event.AFTER_BACKWARD, Event.AFTER_STEP})
SCOPES = ("param", "activation", "model")


class Probe:
    """One statistic. Subclasses set the class attributes and ``compute``."""

    name: ClassVar[str]
    event: ClassVar[Event]
    group: ClassVar[str]
    scope: ClassVar[str] = "param"
    needs_snapshot: ClassVar[bool] = False
    description: ClassVar[str] = ""

    def __init_subclass__(cls, abstract: bool = False, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not abstract:  # a shared base (``class HistogramProbe(Probe, abstract=True)``) declares no name
            _check_declaration(cls)

    def __init__(self) -> None:
        self.interval = 1
        self._steps: list[int] = []
        self._values: list[torch.Tensor] = []

    @classmethod
    def wanted(cls, recipe: Recipe) -> bool:
        """Whether a run of ``recipe`` records this probe; override to record it only where it means something."""
        return True

    def due(self, step: int) -> bool:
        """Whether the schedule picks ``step`` for this probe."""
        return step % self.interval == 0

    def compute(self, ctx: ProbeContext) -> torch.Tensor:  # pragma: no cover - interface
        """This step's value: one per layer of the probe's scope (one in all for ``model``), on the device."""
        raise NotImplementedError

    def record(self, ctx: ProbeContext) -> None:
        """Compute and keep the value on the device until the next drain."""
        value = self.compute(ctx)
        self._steps.append(ctx.step)
        self._values.append(value.detach().reshape(-1))

    def on_host(self, values: np.ndarray) -> np.ndarray:
        """Finish the drained ``values[steps x layers]`` on the host; a probe may override it.

        Work done here runs once per flush over numbers already copied, instead of
        as device ops on every step.
        """
        return values

    def drain(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(steps, values[steps x layers]) buffered since the last drain, copied to host once."""
        if not self._steps:
            return None
        steps = np.asarray(self._steps, dtype=np.int64)
        values = torch.stack(self._values).float().cpu().numpy()
        self._steps, self._values = [], []
        return steps, self.on_host(values)


def _check_declaration(cls: type[Probe]) -> None:
    """Refuse, at class definition, a probe the manager could not schedule or store correctly."""
    where = f"probe {cls.__module__}.{cls.__qualname__}"
    declared = {k: getattr(cls, k, None) for k in ("name", "event", "group")}
    missing = [k for k, v in declared.items() if v is None]
    if missing:
        raise TypeError(f"{where}: declare {', '.join(missing)} (see engine/training/probing/base.py)")
    if not isinstance(cls.name, str) or not cls.name.isidentifier():
        raise TypeError(f"{where}: name must be an identifier (the file's name), got {cls.name!r}")
    if cls.event not in PROBE_EVENTS:
        allowed = ", ".join(e.value for e in PROBE_EVENTS)
        raise TypeError(f"{where}: event must be one of {allowed}, got {cls.event!r}")
    if not isinstance(cls.group, str) or not cls.group:
        raise TypeError(f"{where}: group must be a non-empty name, got {cls.group!r}")
    if cls.scope not in SCOPES:
        raise TypeError(f"{where}: scope must be one of {', '.join(SCOPES)}, got {cls.scope!r}")
    if cls.scope == "activation" and cls.event is not Event.AFTER_FORWARD:
        raise TypeError(f"{where}: activation probes read the hooked outputs, which exist only at after_forward")
    if cls.needs_snapshot and cls.event is not Event.AFTER_STEP:
        raise TypeError(f"{where}: needs_snapshot compares the weights before and after the step: use after_step")
    if not cls.description:
        raise TypeError(f"{where}: add a one-line description")
    if cls.compute is Probe.compute:
        raise TypeError(f"{where}: define compute(self, ctx)")
