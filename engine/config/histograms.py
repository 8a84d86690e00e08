"""The fixed bins of the per-layer weight and gradient histograms, shared by the probes and the charts.

Torch-free: the probes (``engine/training/probes/weight_hist.py``, ``grad_hist.py``)
fill these bins and the app draws them, and neither may import the other's side.

The bins are fixed in log10 |x|, so histograms of different steps, layers and runs
are directly comparable. Each layer has :data:`N_BINS` values, in this order:

* ``0``: entries that are exactly zero;
* ``1``: entries below the range, 0 < |x| <= 10^LOG10_LOW;
* ``2 .. N_BINS - 2``: :data:`PER_DECADE` bins per decade from 10^LOG10_LOW to 10^LOG10_HIGH,
  bin ``k`` holding 10^edge[k-2] < |x| <= 10^edge[k-1];
* ``N_BINS - 1``: entries above the range, |x| > 10^LOG10_HIGH, with inf and NaN.

A stored histogram row is ``layers x N_BINS`` shares (each layer's row sums to 1),
layer-major: layer 0's bins first. The store keeps it as one ``layer_stats`` row per
step whose values are that flattened matrix (see :func:`split`). The constants below
are therefore part of the stored format: rows recorded under other bins would be
misread, so changing them needs a migration of the stored rows.
"""

from __future__ import annotations

import numpy as np

__all__ = ["LOG10_LOW", "LOG10_HIGH", "PER_DECADE", "N_BINS", "HIST_STATS", "log10_edges", "split"]

#: |x| at or below 10^LOG10_LOW is "below the range". Low enough for the entries of a starved
#: layer's gradient (a deep sigmoid MLP's first layer: a norm of 10⁻¹⁷ over 4,096 entries).
LOG10_LOW = -24
#: |x| above 10^LOG10_HIGH is "above the range": no healthy weight or gradient entry is that large.
LOG10_HIGH = 2
PER_DECADE = 2
#: zero, below the range, the ranged bins, above the range.
N_BINS = (LOG10_HIGH - LOG10_LOW) * PER_DECADE + 3
#: The histogram statistics and what they count.
HIST_STATS = {"weight_hist": "weights", "grad_hist": "gradients"}


def log10_edges() -> np.ndarray:
    """The edges of the ranged bins in log10 |x|: LOG10_LOW, LOG10_LOW + 1/PER_DECADE, ..., LOG10_HIGH."""
    return np.linspace(LOG10_LOW, LOG10_HIGH, (LOG10_HIGH - LOG10_LOW) * PER_DECADE + 1)


def split(values: np.ndarray) -> np.ndarray:
    """A stored histogram matrix ``values[S, L x N_BINS]`` as ``[S, L, N_BINS]``.

    Columns past the last whole layer (the store pads a short row with NaN up to the
    widest) are dropped.
    """
    values = np.asarray(values, dtype=float)
    layers = values.shape[1] // N_BINS if values.ndim == 2 else 0
    return values[:, : layers * N_BINS].reshape(values.shape[0] if values.ndim == 2 else 0, layers, N_BINS)
