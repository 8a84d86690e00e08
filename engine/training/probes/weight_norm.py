"""L2 norm of each layer's weights after the optimizer step."""

from __future__ import annotations

import torch

from engine.training.events import Event
from engine.training.probing.base import Probe
from engine.training.probing.context import ProbeContext


class WeightNorm(Probe):
    name = "weight_norm"
    event = Event.AFTER_STEP
    group = "weights"
    description = "L2 norm of the layer's weights"

    def compute(self, ctx: ProbeContext) -> torch.Tensor:
        return ctx.weight_norms
