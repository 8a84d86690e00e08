"""Histogram of each layer's |weights| in fixed log10 bins, after the optimizer step.

The bins are :mod:`engine.config.histograms`' (zero, below 10⁻²⁴, half-decade bins
up to 10², above it); each layer's value is its bins' shares of a fixed sample of
its entries (:mod:`engine.training.probing.histogram`), stored as one row of
``layers x bins`` values per recorded step. The Live page draws it as bins x steps.
"""

from __future__ import annotations

import numpy as np
import torch

from engine.training.events import Event
from engine.training.probing.base import Probe
from engine.training.probing.context import ProbeContext
from engine.training.probing.histogram import LogHistogram


class WeightHist(Probe):
    name = "weight_hist"
    event = Event.AFTER_STEP
    group = "histograms"
    description = "shares of the layer's |weights| in fixed log10 bins (a sample of its entries)"

    def __init__(self) -> None:
        super().__init__()
        self._hist: LogHistogram | None = None

    def compute(self, ctx: ProbeContext) -> torch.Tensor:
        weights = ctx.params
        if self._hist is None or not self._hist.fits(weights):
            self._hist = LogHistogram(weights)
        return self._hist.counts(weights)

    def on_host(self, values: np.ndarray) -> np.ndarray:
        return values if self._hist is None else self._hist.shares(values)
