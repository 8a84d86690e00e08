"""Histogram of each layer's |gradient| in fixed log10 bins, before clipping.

The same bins and sampling as ``weight_hist`` (:mod:`engine.config.histograms`,
:mod:`engine.training.probing.histogram`): where gradient_norm says a layer's
gradient shrank, this shows whether all of its entries shrank or most became 0.
"""

from __future__ import annotations

import torch

from engine.training.events import Event
from engine.training.probing.context import ProbeContext
from engine.training.probing.histogram import HistogramProbe


class GradHist(HistogramProbe):
    name = "grad_hist"
    event = Event.AFTER_BACKWARD
    description = "shares of the layer's |gradient| entries in fixed log10 bins (a sample of its entries)"

    def tensors(self, ctx: ProbeContext) -> list[torch.Tensor]:
        return ctx.grads()
