"""L2 norm of each layer's gradient, measured before clipping."""

from __future__ import annotations

import torch

from engine.training.events import Event
from engine.training.probing.base import Probe
from engine.training.probing.context import ProbeContext


class GradNorm(Probe):
    name = "grad_norm"
    event = Event.AFTER_BACKWARD
    group = "grads"
    description = "L2 norm of the layer's gradient (before clipping)"

    def compute(self, ctx: ProbeContext) -> torch.Tensor:
        return ctx.grad_norms
