"""The probe contract, shaped like Cockpit's quantities.

A probe is one small class in one file: a ``name`` (the stored statistic),
the trainer ``event`` it listens to, a schedule ``group`` and a ``compute``
that returns a 1-D tensor (one value per layer) and stays on the device.
The base class owns buffering and flushing; :mod:`engine.probing` owns the
budgeted schedule. Nothing here calls ``.item()`` or copies to the host
except :meth:`Probe.drain`, once per flush.
"""
from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch

from engine.events import Event


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
        self._cache: dict[str, torch.Tensor] = {}

    def new_step(self, step: int) -> None:
        self.step = step
        self._cache.clear()

    def invalidate(self) -> None:
        """Forget cached quantities (the weights changed)."""
        self._cache.clear()

    def grads(self) -> list[torch.Tensor]:
        return [p.grad if p.grad is not None else torch.zeros_like(p) for p in self.params]

    @property
    def grad_norms(self) -> torch.Tensor:
        if "grad_norms" not in self._cache:
            self._cache["grad_norms"] = torch.stack(torch._foreach_norm(self.grads()))
        return self._cache["grad_norms"]

    @property
    def grad_max_abs(self) -> torch.Tensor:
        if "grad_max_abs" not in self._cache:
            grads = self.grads()
            if grads[0].device.type == "cpu" and hasattr(torch, "_foreach_max"):
                # On the CPU, _foreach_norm(ord=inf) is a scalar loop, ~3x slower than abs then max.
                self._cache["grad_max_abs"] = torch.stack(torch._foreach_max(torch._foreach_abs(grads)))
            else:  # CUDA: one fused multi-tensor kernel, no temporary copy of the gradients
                self._cache["grad_max_abs"] = torch.stack(torch._foreach_norm(grads, ord=float("inf")))
        return self._cache["grad_max_abs"]

    @property
    def weight_norms(self) -> torch.Tensor:
        if "weight_norms" not in self._cache:
            self._cache["weight_norms"] = torch.stack(torch._foreach_norm([p.detach() for p in self.params]))
        return self._cache["weight_norms"]

    def take_snapshot(self) -> None:
        """Copy the weights (before the optimizer step) into a buffer kept between steps."""
        weights = [p.detach() for p in self.params]
        buf = self._snapshot_buf
        if buf is None or any(b.shape != w.shape or b.device != w.device for b, w in zip(buf, weights)):
            buf = self._snapshot_buf = [torch.empty_like(w) for w in weights]
        torch._foreach_copy_(buf, weights)
        self.snapshot = buf
        self.snapshot_norms = self.weight_norms  # shared with nonfinite, computed once per step

    def drop_snapshot(self) -> None:
        self.snapshot = self.snapshot_norms = None


class Probe:
    """One statistic. Subclasses set the class attributes and ``compute``."""

    name: ClassVar[str]
    event: ClassVar[Event]
    group: ClassVar[str]  # the schedule unit: "grads", "weights", "updates", "activations"
    scope: ClassVar[str] = "param"  # "param" (one value per weight layer) or "activation"
    needs_snapshot: ClassVar[bool] = False  # wants ctx.snapshot (weights before the step)
    description: ClassVar[str] = ""

    def __init__(self) -> None:
        self.interval = 1
        self._steps: list[int] = []
        self._values: list[torch.Tensor] = []

    def due(self, step: int) -> bool:
        return step % self.interval == 0

    def compute(self, ctx: ProbeContext) -> torch.Tensor:  # pragma: no cover - interface
        raise NotImplementedError

    def record(self, ctx: ProbeContext) -> None:
        """Compute and keep the value on the device until the next drain."""
        value = self.compute(ctx)
        self._steps.append(ctx.step)
        self._values.append(value.detach().float())

    def drain(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(steps, values[steps x layers]) buffered since the last drain, copied to host once."""
        if not self._steps:
            return None
        steps = np.asarray(self._steps, dtype=np.int64)
        values = torch.stack(self._values).cpu().numpy()
        self._steps, self._values = [], []
        return steps, values
