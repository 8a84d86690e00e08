"""1.0 where a layer's gradient or weights hold NaN or Inf, else 0.0.

Derived from the norms the other probes already compute: a norm is finite
exactly when every entry is, so this costs no extra pass over the tensors.
"""
import torch

from engine.events import Event
from engine.probes.base import Probe


class NonFinite(Probe):
    name = "nonfinite"
    event = Event.AFTER_BACKWARD
    group = "grads"
    description = "1 when the layer's gradient or weights contain NaN/Inf"

    def compute(self, ctx):
        bad = ~torch.isfinite(ctx.grad_norms) | ~torch.isfinite(ctx.weight_norms)
        return bad.float()
