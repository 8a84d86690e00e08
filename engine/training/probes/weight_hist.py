"""Histogram of each layer's |weights| in fixed log10 bins, after the optimizer step.

The bins are :mod:`engine.config.histograms`' (zero, below 10⁻²⁴, half-decade bins
up to 10², above it); each layer's value is its bins' shares of a fixed sample of
its entries (:mod:`engine.training.probing.histogram`), stored as one row of
``layers x bins`` values per recorded step. The Live page draws it as bins x steps.
"""

from __future__ import annotations

import torch

from engine.training.events import Event
from engine.training.probing.context import ProbeContext
from engine.training.probing.histogram import HistogramProbe


class WeightHist(HistogramProbe):
    name = "weight_hist"
    event = Event.AFTER_STEP
    description = "shares of the layer's |weights| in fixed log10 bins (a sample of its entries)"

    def tensors(self, ctx: ProbeContext) -> list[torch.Tensor]:
        return ctx.params
