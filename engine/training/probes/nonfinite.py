"""1.0 where a layer's gradient (or its weights, when measured) hold NaN or Inf, else 0.0.

Derived from norms other probes compute anyway: a norm is NaN/Inf exactly
when some entry is, so this costs no pass over the tensors of its own. The
gradient is checked every time; the weights whenever their norms are already
known at that point (update_ratio's snapshot this step, or weight_norm after
the previous step). Skipping a pass over the weights on the other steps loses
nothing: a non-finite weight makes the loss non-finite, and with it every
layer's gradient, from the next step on.
"""

from __future__ import annotations

import numpy as np
import torch

from engine.training.events import Event
from engine.training.probing.base import Probe
from engine.training.probing.context import ProbeContext


class NonFinite(Probe):
    name = "nonfinite"
    event = Event.AFTER_BACKWARD
    group = "grads"
    description = "1 when the layer's gradient (or weights) contain NaN/Inf"

    def compute(self, ctx: ProbeContext) -> torch.Tensor:
        norms = ctx.grad_norms
        weights = ctx.known_weight_norms()
        if weights is not None:
            # Both norms are >= 0, so the sum is NaN/Inf when either is (a sum of two
            # finite norms overflows only near 1e38, itself a failure).
            norms = norms + weights
        return norms  # flagged on the host, at the flush: no op per step

    def on_host(self, values: np.ndarray) -> np.ndarray:
        return (~np.isfinite(values)).astype(np.float32)
