"""Histogram of each layer's |gradient| in fixed log10 bins, before clipping.

The same bins and sampling as ``weight_hist`` (:mod:`engine.config.histograms`,
:mod:`engine.training.probing.histogram`): where gradient_norm says a layer's
gradient shrank, this shows whether all of its entries shrank or most became 0.
"""

from __future__ import annotations

import numpy as np
import torch

from engine.training.events import Event
from engine.training.probing.base import Probe
from engine.training.probing.context import ProbeContext
from engine.training.probing.histogram import LogHistogram


class GradHist(Probe):
    name = "grad_hist"
    event = Event.AFTER_BACKWARD
    group = "histograms"
    description = "shares of the layer's |gradient| entries in fixed log10 bins (a sample of its entries)"

    def __init__(self) -> None:
        super().__init__()
        self._hist: LogHistogram | None = None

    def compute(self, ctx: ProbeContext) -> torch.Tensor:
        grads = ctx.grads()
        if self._hist is None or not self._hist.fits(grads):
            self._hist = LogHistogram(grads)
        return self._hist.counts(grads)

    def on_host(self, values: np.ndarray) -> np.ndarray:
        return values if self._hist is None else self._hist.shares(values)
