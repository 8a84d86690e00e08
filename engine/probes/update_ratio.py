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
        # The snapshot buffer is reused between steps, so the difference is taken in place;
        # ||w_before|| was measured when the snapshot was taken.
        torch._foreach_sub_(ctx.snapshot, [p.detach() for p in ctx.params])
        delta = ctx.snapshot_norms_now()
        return delta / ctx.snapshot_norms.clamp_min(1e-12)
