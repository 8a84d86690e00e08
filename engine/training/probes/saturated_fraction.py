"""Share of a sigmoid/tanh layer's outputs within 1% of the range from a bound.

For sigmoid that is y < 0.01 or y > 0.99 (|x| > 4.6), where the derivative
is below 4% of its peak; for tanh, |y| > 0.98. DeepDiagnosis flags
pre-activations beyond ±5; this is the same idea read off the outputs. NaN
for non-saturating layers.
"""

from __future__ import annotations

import torch

from engine.training.events import Event
from engine.training.probing.base import Probe
from engine.training.probing.context import ProbeContext


class SaturatedFraction(Probe):
    name = "saturated_fraction"
    event = Event.AFTER_FORWARD
    group = "activations"
    scope = "activation"
    description = "share of outputs stuck near the activation's bounds"

    def compute(self, ctx: ProbeContext) -> torch.Tensor:
        return ctx.act_saturated_fraction()
