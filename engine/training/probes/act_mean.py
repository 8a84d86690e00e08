"""Mean activation of each activation layer, on the steps the schedule picks."""

from __future__ import annotations

import torch

from engine.training.events import Event
from engine.training.probing.base import Probe
from engine.training.probing.context import ProbeContext


class ActMean(Probe):
    name = "act_mean"
    event = Event.AFTER_FORWARD
    group = "activations"
    scope = "activation"
    description = "mean of the layer's outputs"

    def compute(self, ctx: ProbeContext) -> torch.Tensor:
        return ctx.act_std_mean()[1]
