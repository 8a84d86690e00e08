"""||w_after - w_before|| / ||w_before|| per layer: how much one step changes a layer.

Around 1e-3 is the usual rule of thumb (cs231n); far below means the layer
barely learns, far above means the step size is reckless. Measured from the
actual weights, so it is right for every optimizer, not only SGD.
"""
import torch

from engine.events import Event
from engine.probes.base import Probe


class UpdateRatio(Probe):
    name = "update_ratio"
    event = Event.AFTER_STEP
    group = "updates"
    needs_snapshot = True
    description = "size of the step relative to the weights"

    def compute(self, ctx):
        before = ctx.snapshot
        after = [p.detach() for p in ctx.params]
        delta = torch.stack(torch._foreach_norm(torch._foreach_sub(after, before)))
        base = torch.stack(torch._foreach_norm(before))
        return delta / base.clamp_min(1e-12)
