"""Standard deviation of each activation layer's outputs (collapsing to 0 = no signal)."""

from __future__ import annotations

import torch

from engine.training.events import Event
from engine.training.probing.base import Probe
from engine.training.probing.context import ProbeContext


class ActStd(Probe):
    name = "act_std"
    event = Event.AFTER_FORWARD
    group = "activations"
    scope = "activation"
    description = "standard deviation of the layer's outputs"

    def compute(self, ctx: ProbeContext) -> torch.Tensor:
        return ctx.act_std_mean()[0]
