"""||w_after - w_before|| / ||w_before|| per layer: how much one step changes a layer.

Around 1e-3 is the usual rule of thumb (cs231n); far below means the layer
barely learns, far above means the step size is reckless. Measured from the
actual weights, so it is right for every optimizer, not only SGD.
"""

from __future__ import annotations

import torch

from engine.training.events import Event
from engine.training.probing.base import Probe
from engine.training.probing.context import ProbeContext


class UpdateRatio(Probe):
    name = "update_ratio"
    event = Event.AFTER_STEP
    group = "updates"
    needs_snapshot = True
    description = "size of the step relative to the weights"

    def compute(self, ctx: ProbeContext) -> torch.Tensor:
        # The snapshot buffer is reused between steps, so the difference is taken in place;
        # ||w_before|| was measured when the snapshot was taken.
        assert ctx.snapshot is not None and ctx.snapshot_norms is not None, "the manager took the snapshot"
        torch._foreach_sub_(ctx.snapshot, [p.detach() for p in ctx.params])
        delta = ctx.snapshot_norms_now()
        return delta / ctx.snapshot_norms.clamp_min(1e-12)
