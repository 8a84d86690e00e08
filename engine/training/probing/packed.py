"""CPU per-layer statistics in a few big ops instead of one small op per layer.

On the CPU every torch call costs several microseconds of dispatch, and the
multi-tensor ``torch._foreach_*`` ops are a loop of one such call per tensor.
A 21-layer MLP would spend more time dispatching norms than computing them.
So a list of per-layer tensors (gradients, a weight snapshot) is copied with
one ``_foreach_copy_`` into a few zero-padded ``(layers x entries)`` matrices,
and each statistic is one reduction along the rows. Zero padding changes
neither an L2 norm nor a largest |entry|.

Layers are bucketed by size so that padding stays under :data:`MAX_PADDING`
of the real entries. The matrices are allocated once and reused: a fresh
multi-hundred-KB tensor every step is a fresh mmap for the allocator, and its
page faults cost more than the statistics themselves (the 20-layer MLP's
gradient statistics: 285 us a step with fresh tensors, 84 us packed).
"""

from __future__ import annotations

import torch

#: A bucket's matrix may hold at most this many entries per real entry.
MAX_PADDING = 1.5


class PackedRows:
    """Reusable row matrices for a fixed list of same-device tensors (one row per tensor)."""

    def __init__(self, like: list[torch.Tensor]):
        sizes = [t.numel() for t in like]
        buckets: list[list[int]] = []
        for i in sorted(range(len(sizes)), key=lambda i: -sizes[i]):  # largest first: its width pads the rest
            b = buckets[-1] if buckets else None
            if b and (len(b) + 1) * sizes[b[0]] <= MAX_PADDING * (sum(sizes[j] for j in b) + sizes[i]):
                b.append(i)
            else:
                buckets.append([i])
        self.buckets = [sorted(b) for b in buckets]
        self.matrices: list[torch.Tensor] = []
        self._views: list[list[torch.Tensor]] = []
        views: dict[int, torch.Tensor] = {}
        for b in self.buckets:
            matrix = torch.zeros(len(b), max(sizes[i] for i in b), dtype=like[b[0]].dtype, device=like[b[0]].device)
            self.matrices.append(matrix)
            self._views.append([matrix[r, : sizes[i]].view(like[i].shape) for r, i in enumerate(b)])
            views.update(zip(b, self._views[-1]))
        #: Each tensor's slot, shaped like it and in the order given: write into these in place.
        self.views = [views[i] for i in range(len(like))]
        order = [i for b in self.buckets for i in b]
        self._inverse = None if order == sorted(order) else torch.argsort(torch.tensor(order))

    def fill(self, tensors: list[torch.Tensor]) -> list[torch.Tensor]:
        """Copy ``tensors`` into their rows; returns the matrices (valid until the next fill)."""
        for b, views in zip(self.buckets, self._views):
            torch._foreach_copy_(views, [tensors[i] for i in b])
        return self.matrices

    def row_norms(self) -> torch.Tensor:
        """The L2 norm of each row as it holds now, in the order the tensors were given."""
        return self.in_layer_order([torch.linalg.vector_norm(m, dim=1) for m in self.matrices])

    def in_layer_order(self, parts: list[torch.Tensor]) -> torch.Tensor:
        """Per-matrix results (one value per row) as one tensor in the order the tensors were given."""
        out = parts[0] if len(parts) == 1 else torch.cat(parts)
        return out if self._inverse is None else out[self._inverse]
