"""Share of a sigmoid/tanh layer's outputs within 1% of the range from a bound.

For sigmoid that is y < 0.01 or y > 0.99 (|x| > 4.6), where the derivative
is below 4% of its peak; for tanh, |y| > 0.98. DeepDiagnosis flags
pre-activations beyond ±5; this is the same idea read off the outputs. NaN
for non-saturating layers.
"""
import torch

from engine.events import Event
from engine.probes.base import Probe


def saturated(a: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """Fraction of entries of ``a`` within 1% of (high - low) of either bound."""
    margin = 0.01 * (high - low)
    return ((a < low + margin) | (a > high - margin)).float().mean()


class SaturatedFraction(Probe):
    name = "saturated_fraction"
    event = Event.AFTER_FORWARD
    group = "activations"
    scope = "activation"
    description = "share of outputs stuck near the activation's bounds"

    def compute(self, ctx):
        return ctx.act_saturated_fraction()
