"""What probes may read during one step, with the quantities several probes share computed once.

Gradients, weights, a weight snapshot taken before the optimizer step, and the
hooked activation outputs. On CUDA the per-layer reductions are fused
multi-tensor (foreach) kernels; on the CPU they are row reductions over packed
matrices (:mod:`engine.training.probing.packed`). Nothing here copies to the host.
"""

from __future__ import annotations

from typing import Any

import torch

from engine.training.probing.packed import PackedRows

#: CPU: activation outputs up to this size are stacked with same-shaped ones and reduced together.
STACK_MAX_ELEMENTS = 32_768


class ProbeContext:
    """What probes may read during one step. Shared quantities are computed once."""

    def __init__(self, params: list[torch.Tensor], act_bounds: list[tuple[float, float] | None], families: list[str]):
        self.params = params  # the tracked weight tensors, input -> output
        self.act_bounds = act_bounds  # per activation layer: (low, high) for saturating ones
        self.act_families = families  # per activation layer: "relu" | "saturating" | ...
        self.step = 0
        self.activations: list[torch.Tensor] = []
        self.snapshot: list[torch.Tensor] | None = None  # weights before the optimizer step
        self.snapshot_norms: torch.Tensor | None = None  # their norms
        self._snapshot_buf: list[torch.Tensor] | None = None  # reused every time, not reallocated
        self._cache: dict[str, Any] = {}  # quantities shared by several probes, for this step
        self.fused = False  # foreach kernels (CUDA) or PackedRows (CPU): set per step, the model may move
        self._packer: PackedRows | None = None  # CPU: packs the gradients for row reductions
        self._snapshot_packer: PackedRows | None = None  # CPU: the weight snapshot, packed
        self._scratch: dict[tuple, torch.Tensor] = {}  # reused scratch tensors (stacked activations, ...)
        self._known_weight_norms: tuple[int, torch.Tensor | None] = (-1, None)

    def new_step(self, step: int) -> None:
        self.step = step
        self._cache.clear()
        self.fused = bool(self.params) and self.params[0].device.type != "cpu"

    def invalidate(self) -> None:
        """Forget cached quantities (the weights changed)."""
        self._cache.clear()

    def end_step(self) -> None:
        """After AFTER_STEP: keep the weight norms measured after the update for the next step.

        The weights do not move again before the next step's AFTER_BACKWARD.
        """
        self._known_weight_norms = (self.step + 1, self._cache.get("weight_norms"))

    def grads(self) -> list[torch.Tensor]:
        return [p.grad if p.grad is not None else torch.zeros_like(p) for p in self.params]

    # Per-layer gradient statistics: fused multi-tensor (foreach) kernels on CUDA, a few
    # row reductions over packed gradients on the CPU (see engine.training.probing.packed).

    @property
    def _grad_packer(self) -> PackedRows:
        if self._packer is None:
            self._packer = PackedRows(self.params)
        return self._packer

    def _grad_rows(self) -> list[torch.Tensor]:
        """CPU: |gradient| packed as rows (the norm of |g| is the norm of g; its max is the max |g|)."""
        if "grad_rows" not in self._cache:
            rows = self._grad_packer.fill(self.grads())
            for m in rows:
                m.abs_()
            self._cache["grad_rows"] = rows
        return self._cache["grad_rows"]

    @property
    def grad_norms(self) -> torch.Tensor:
        if "grad_norms" not in self._cache:
            if self.fused:
                self._cache["grad_norms"] = torch.stack(torch._foreach_norm(self.grads()))
            else:
                rows = self._grad_rows()  # |g|: the same norms
                self._cache["grad_norms"] = self._grad_packer.in_layer_order(
                    [torch.linalg.vector_norm(r, dim=1) for r in rows]
                )
        return self._cache["grad_norms"]

    @property
    def grad_max_abs(self) -> torch.Tensor:
        if "grad_max_abs" not in self._cache:
            if self.fused:
                self._cache["grad_max_abs"] = torch.stack(torch._foreach_norm(self.grads(), ord=float("inf")))
            else:
                rows = self._grad_rows()  # already |g|
                self._cache["grad_max_abs"] = self._grad_packer.in_layer_order([r.amax(dim=1) for r in rows])
        return self._cache["grad_max_abs"]

    # Per-layer activation statistics. Layers whose outputs have the same shape (and,
    # for saturation, the same bounds) are stacked on the CPU and reduced together;
    # on CUDA each layer is its own group (no copy of the activations).

    def _act_groups(self) -> list[tuple[list[int], torch.Tensor]]:
        """[(layer indices, their outputs stacked on a new dim 0)], cached for the step."""
        if "act_groups" not in self._cache:
            acts = self.activations
            if acts and acts[0].device.type == "cpu":
                by_key: dict[Any, list[int]] = {}
                for i, a in enumerate(acts):
                    # A big output is reduced where it is: copying it costs more than the ops saved.
                    key = (
                        (tuple(a.shape), a.dtype, self.act_families[i], self.act_bounds[i])
                        if a.numel() <= STACK_MAX_ELEMENTS
                        else i
                    )
                    by_key.setdefault(key, []).append(i)
                idx_groups = list(by_key.values())
            else:
                idx_groups = [[i] for i in range(len(acts))]
            self._cache["act_groups"] = [
                (idx, acts[idx[0]].unsqueeze(0) if len(idx) == 1 else self._stacked([acts[i] for i in idx]))
                for idx in idx_groups
            ]
        return self._cache["act_groups"]

    def _stacked(self, tensors: list[torch.Tensor]) -> torch.Tensor:
        """``torch.stack(tensors)`` into a buffer kept for the next step with the same shapes.

        A fresh stack is a fresh large allocation, which the allocator serves with a new
        mmap whose page faults cost more than the statistics (see engine.training.probing.packed).
        """
        first = tensors[0]
        return torch.stack(tensors, out=self._buffer("stack", (len(tensors), *first.shape), first))

    def _buffer(self, use: str, shape: tuple, like: torch.Tensor) -> torch.Tensor:
        """A scratch tensor of ``shape`` with ``like``'s dtype and device, kept for the next step.

        See :meth:`_stacked` for why.
        """
        key = (use, tuple(shape), like.dtype, like.device)
        buf = self._scratch.get(key)
        if buf is None:
            buf = self._scratch[key] = torch.empty(shape, dtype=like.dtype, device=like.device)
        return buf

    def _act_in_layer_order(self, parts: list[torch.Tensor]) -> torch.Tensor:
        groups = [idx for idx, _ in self._act_groups()]
        order = [i for idx in groups for i in idx]
        out = parts[0] if len(parts) == 1 else torch.cat(parts)
        if order == list(range(len(order))):
            return out
        return torch.empty_like(out).index_copy_(0, torch.tensor(order, device=out.device), out)

    def act_std_mean(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(std, mean) of each activation layer's outputs (act_std and act_mean share them).

        Two passes, the mean and then the norm of the centred values: as exact as
        ``torch.std_mean`` (no E[x^2] - E[x]^2 cancellation on saturated layers), and on the
        CPU about 8x faster (its row-wise Welford kernel took 0.5 ms for 20 x 4,096 values).
        """
        if "act_std_mean" not in self._cache:
            stds, means = [], []
            for _, st in self._act_groups():
                flat = st.flatten(1).float()
                mean = flat.mean(dim=1, keepdim=True)
                centred = torch.sub(flat, mean, out=self._buffer("centred", flat.shape, flat))
                stds.append(torch.linalg.vector_norm(centred, dim=1).div_(flat.shape[1] ** 0.5))
                means.append(mean.squeeze(1))
            self._cache["act_std_mean"] = (self._act_in_layer_order(stds), self._act_in_layer_order(means))
        return self._cache["act_std_mean"]

    def act_dead_fraction(self) -> torch.Tensor:
        """Share of each ReLU-family layer's units that are <= 0 for the whole batch; NaN for other families.

        Other families get NaN without looking at the outputs.

        A unit is a feature of a dense layer, a channel of a conv layer, the last
        dim of an (N, T, H) recurrent output. "Never positive" is max <= 0 over
        the other dims: no transposed copy of the activations. The dims after the
        unit (a conv map's H, W) are reduced first, then those before it: two
        reductions over adjacent dims are ~10x faster on the CPU than one over
        (N, H, W) around the channel dim.
        """
        parts = []
        for idx, st in self._act_groups():
            if self.act_families[idx[0]] != "relu":  # the same for the whole group
                parts.append(torch.full((len(idx),), float("nan"), device=st.device))
                continue
            a_ndim = st.ndim - 1
            unit_dim = (a_ndim - 1 if a_ndim == 3 else 1) + 1  # in the stacked tensor
            peak = st
            if unit_dim + 1 < st.ndim:
                peak = peak.amax(dim=tuple(range(unit_dim + 1, st.ndim)))
            if unit_dim > 1:
                peak = peak.amax(dim=tuple(range(1, unit_dim)))
            parts.append(1.0 - (peak > 0).float().mean(dim=1))
        return self._act_in_layer_order(parts)

    def act_saturated_fraction(self) -> torch.Tensor:
        """Share of each saturating layer's outputs within 1% of the range from a bound; NaN for others."""
        parts = []
        for idx, st in self._act_groups():
            bounds = self.act_bounds[idx[0]]  # the same for the whole group
            if bounds is None:
                parts.append(torch.full((len(idx),), float("nan"), device=st.device))
                continue
            low, high = bounds
            margin = 0.01 * (high - low)
            flat = st.flatten(1)
            parts.append(((flat < low + margin) | (flat > high - margin)).float().mean(dim=1))
        return self._act_in_layer_order(parts)

    def known_weight_norms(self) -> torch.Tensor | None:
        """The current weights' norms if some probe already measured them, else None (no extra pass).

        Before the optimizer step that is this step's snapshot for update_ratio, or the
        norms weight_norm measured after the previous step (the weights have not moved since).
        """
        if "weight_norms" in self._cache:
            return self._cache["weight_norms"]
        step, norms = self._known_weight_norms
        return norms if step == self.step else None

    @property
    def weight_norms(self) -> torch.Tensor:
        if "weight_norms" not in self._cache:
            self._cache["weight_norms"] = torch.stack(torch._foreach_norm([p.detach() for p in self.params]))
        return self._cache["weight_norms"]

    def take_snapshot(self) -> None:
        """Copy the weights (before the optimizer step) into a buffer kept between steps."""
        weights = [p.detach() for p in self.params]
        if not self.fused:  # packed: the copy and the norms are one op each
            if self._snapshot_packer is None:
                self._snapshot_packer = PackedRows(weights)
            self._snapshot_packer.fill(weights)
            self.snapshot = self._snapshot_packer.views
            self._cache["weight_norms"] = self._snapshot_packer.row_norms()
        else:
            buf = self._snapshot_buf
            if buf is None or any(b.shape != w.shape or b.device != w.device for b, w in zip(buf, weights)):
                buf = self._snapshot_buf = [torch.empty_like(w) for w in weights]
            torch._foreach_copy_(buf, weights)
            self.snapshot = buf
        self.snapshot_norms = self.weight_norms  # shared with nonfinite, computed once per step

    def snapshot_norms_now(self) -> torch.Tensor:
        """The norms of the snapshot tensors as they hold now (update_ratio turns them into deltas)."""
        assert self.snapshot is not None, "take_snapshot() first"
        if self.fused or self._snapshot_packer is None:
            return torch.stack(torch._foreach_norm(self.snapshot))
        return self._snapshot_packer.row_norms()

    def drop_snapshot(self) -> None:
        """Forget the snapshot after the step (its buffer is kept for the next one)."""
        self.snapshot = self.snapshot_norms = None
