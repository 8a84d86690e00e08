"""Per-layer counts of |x| in the fixed log10 bins of :mod:`engine.config.histograms`, in a few ops.

The weight and gradient histogram probes share this. It is built for the CPU's
per-op cost (a few microseconds of dispatch each, and one pass over memory):

* A layer larger than :data:`MAX_SAMPLES` entries contributes an evenly strided
  sample of about that many: shares need a few thousand entries, not millions.
  The stride is coprime with the length of the layer's rows, so the sample visits
  every column of a weight matrix (every position of a conv kernel) rather than
  one. The strided views are made once and reused while the tensors keep their
  storage (weights do; a gradient freed by ``zero_grad`` may not, and then its
  views are made again).
* All layers' samples are copied into one float32 buffer and binned together: the
  bits of ``|x|`` (its exponent and top :data:`MANTISSA_BITS` mantissa bits) index
  a lookup table of bins, so binning is a shift and a gather rather than a log,
  and NaN and inf fall in the "above" bin by their bits alone. A bin edge then
  holds to within 2^-MANTISSA_BITS (3 %) of its value, far finer than the
  half-decade bins, and subnormal entries below about 10⁻³⁹ count as zero.
* One ``bincount`` counts every layer's bins at once.

The buffers are kept between steps: a fresh large tensor is a fresh mmap whose page
faults cost more than the binning (see :mod:`engine.training.probing.packed`).
Nothing is copied to the host.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from engine.config.histograms import N_BINS, log10_edges
from engine.training.probing.base import Probe
from engine.training.probing.context import ProbeContext

#: Entries sampled per layer: a bin holding a quarter of a layer is then known to about ±1.4 percentage points.
MAX_SAMPLES = 1024
#: Mantissa bits of |x| the lookup table reads (float32 has 23).
MANTISSA_BITS = 5
_SHIFT = 23 - MANTISSA_BITS


def stride(shape: tuple[int, ...], max_samples: int = MAX_SAMPLES) -> int:
    """The step between sampled flat positions of a tensor of ``shape``: 1, or coprime with its row length."""
    n = math.prod(shape)
    if n <= max_samples:
        return 1
    row = n // shape[0] if len(shape) > 1 and shape[0] else n
    s = -(-n // max_samples)
    while math.gcd(s, row) != 1:
        s += 1
    return s


def bin_table() -> np.ndarray:
    """The bin of every float32 ``|x|`` by its top bits: ``table[bits(|x|) >> _SHIFT]``.

    Each entry is the bin of the smallest value with those bits, so a value is binned as if
    truncated to :data:`MANTISSA_BITS` mantissa bits. Bins are (edge, next edge], as
    ``searchsorted(..., side="left")`` gives them; inf and NaN bits land past the last edge.
    """
    cells = np.arange(2 ** (31 - _SHIFT), dtype=np.int64) << _SHIFT
    with np.errstate(invalid="ignore"):  # the NaN bit patterns stay NaN, which sorts past every edge
        low = cells.astype(np.uint32).view(np.float32).astype(np.float64)
    edges = np.concatenate([[0.0], 10.0 ** log10_edges()])
    return np.searchsorted(edges, low, side="left")


class LogHistogram:
    """Bins a fixed list of same-device tensors (one histogram each) into ``[layers x N_BINS]`` counts."""

    def __init__(self, like: list[torch.Tensor], max_samples: int = MAX_SAMPLES):
        self.device = like[0].device if like else torch.device("cpu")
        self.shapes = [tuple(t.shape) for t in like]
        self.strides = [stride(s, max_samples) for s in self.shapes]
        sizes = [-(-t.numel() // s) for t, s in zip(like, self.strides)]
        #: Entries binned per layer, for turning counts into shares on the host.
        self.sizes = np.asarray(sizes, dtype=np.float64)
        total = int(sum(sizes))
        # Layer i's entries land in bins [i x N_BINS, (i + 1) x N_BINS): one bincount for every layer.
        self._offsets = torch.repeat_interleave(
            torch.arange(len(like), dtype=torch.int64) * N_BINS, torch.tensor(sizes, dtype=torch.int64)
        ).to(self.device)
        self._table = torch.from_numpy(bin_table()).to(self.device)
        self._flat = torch.empty(total, dtype=torch.float32, device=self.device)
        self._cells = torch.empty(total, dtype=torch.int32, device=self.device)
        self._bins = torch.empty(total, dtype=torch.int64, device=self.device)
        self._minlength = len(like) * N_BINS
        self._sizes = sizes
        self._ptrs: list[int] = []
        self._views: list[torch.Tensor] = []

    def fits(self, tensors: list[torch.Tensor]) -> bool:
        """Whether ``tensors`` have the shapes and device this was built for (a model may move)."""
        return [tuple(t.shape) for t in tensors] == self.shapes and (not tensors or tensors[0].device == self.device)

    def _sampled(self, tensors: list[torch.Tensor]) -> list[torch.Tensor]:
        """The strided views of ``tensors``, reused while each keeps its storage."""
        ptrs = [t.data_ptr() for t in tensors]
        if ptrs != self._ptrs:
            # One as_strided call a layer (three calls, detach-reshape-slice, cost 3x the dispatch);
            # a non-contiguous tensor's reshape is a copy, which would go stale: look again next time.
            self._views = [
                torch.as_strided(t.detach(), (n,), (s,), t.storage_offset())
                if t.is_contiguous()
                else t.detach().reshape(-1)[::s]
                for t, s, n in zip(tensors, self.strides, self._sizes)
            ]
            self._ptrs = ptrs if all(t.is_contiguous() for t in tensors) else []
        return self._views

    def counts(self, tensors: list[torch.Tensor]) -> torch.Tensor:
        """``[layers x N_BINS]`` counts (flattened, layer-major) of ``tensors``' sampled |entries|, on the device."""
        if not tensors:
            return torch.zeros(0, dtype=torch.int64, device=self.device)
        with torch.no_grad():
            x = torch.cat(self._sampled(tensors), out=self._flat)
            x.abs_()  # clears the sign bit: the bits of |x| then order as the values do, NaN above inf
            torch.bitwise_right_shift(x.view(torch.int32), _SHIFT, out=self._cells)
            bins = torch.index_select(self._table, 0, self._cells, out=self._bins)
            bins += self._offsets
            return torch.bincount(bins, minlength=self._minlength)

    def shares(self, counts: np.ndarray) -> np.ndarray:
        """Host side: drained counts ``[steps, layers x N_BINS]`` as shares of each layer's binned entries."""
        return counts / np.maximum(np.repeat(self.sizes, N_BINS), 1.0)


class HistogramProbe(Probe, abstract=True):
    """A probe whose value is a histogram of some per-layer tensors (:meth:`tensors`), binned by LogHistogram.

    The weight and gradient histogram probes differ only in which tensors and at which event;
    the binning, its buffers (rebuilt when the tensors change storage) and the shares are here.
    """

    group = "histograms"

    def __init__(self) -> None:
        super().__init__()
        self._hist: LogHistogram | None = None

    def tensors(self, ctx: ProbeContext) -> list[torch.Tensor]:
        """The layers' tensors to bin, in layer order."""
        raise NotImplementedError

    def compute(self, ctx: ProbeContext) -> torch.Tensor:
        values = self.tensors(ctx)
        if self._hist is None or not self._hist.fits(values):
            self._hist = LogHistogram(values)
        return self._hist.counts(values)

    def on_host(self, values: np.ndarray) -> np.ndarray:
        return values if self._hist is None else self._hist.shares(values)
