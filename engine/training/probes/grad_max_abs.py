"""Largest absolute gradient entry of each layer (an outlier shows here before the norm moves)."""

from __future__ import annotations

import torch

from engine.training.events import Event
from engine.training.probing.base import Probe
from engine.training.probing.context import ProbeContext


class GradMaxAbs(Probe):
    name = "grad_max_abs"
    event = Event.AFTER_BACKWARD
    group = "grads"
    description = "largest |gradient| entry in the layer"

    def compute(self, ctx: ProbeContext) -> torch.Tensor:
        return ctx.grad_max_abs
