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
        # Both norms are >= 0, so their sum is NaN/Inf when either is (one op fewer than two
        # isfinite calls; a sum of two finite norms overflows only near 1e38, itself a failure).
        return (ctx.grad_norms + ctx.weight_norms).isfinite().logical_not_().float()
