"""``train.amp``: the forward pass in a 16-bit float, and loss scaling where fp16 needs it.

bf16 keeps fp32's exponent range, so its gradients need no scaling; it is the choice on a CPU
(native on CPUs with AVX512-BF16 or AMX, emulated, and slower, elsewhere) and an option on CUDA.
fp16 has a 5-bit exponent: small gradients underflow to zero unless the loss is multiplied by a
large factor before the backward pass (``torch.amp.GradScaler``). The scaler divides the
gradients back before the probes and clipping see them, so every gradient statistic is of the
true gradient, and skips the update of a step whose scaled gradients overflowed, then halves
the factor. Those skipped steps are the scaler working as designed, not a divergence: they are
counted (``amp_skipped``), and the recorder drops the probes' records of those steps, so
``non_finite`` (and every gradient statistic) describes the updates that happened.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

import torch

from engine.config.recipe import TrainSpec

_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_dtype(train: TrainSpec, device: torch.device) -> str | None:
    """ "bf16", "fp16" or None (fp32): what ``train.amp`` / ``train.amp_dtype`` mean on ``device``."""
    if not train.amp:
        return None
    if train.amp_dtype != "auto":
        return train.amp_dtype
    return "fp16" if device.type == "cuda" else "bf16"


def native(dtype: str, device: torch.device) -> bool:
    """Whether ``device`` computes ``dtype`` in hardware (on a CPU without it, oneDNN emulates it)."""
    if device.type == "cuda":
        return dtype == "fp16" or bool(torch.cuda.is_bf16_supported())
    if device.type == "cpu":
        check = (
            torch.ops.mkldnn._is_mkldnn_bf16_supported
            if dtype == "bf16"
            else torch.ops.mkldnn._is_mkldnn_fp16_supported
        )
        return bool(check())
    return False


@dataclass
class Precision:
    """The autocast dtype of one run, its loss scaler, and the steps the scaler skipped."""

    device: torch.device
    dtype: str | None = None  # "bf16", "fp16", or None for fp32
    scaler: Any = None  # torch.amp.GradScaler with fp16, else None
    skipped: int = 0  # updates the scaler skipped because the scaled gradients overflowed (drained so far)
    _flags: list[tuple[int, torch.Tensor]] = field(default_factory=list)  # (step, found Inf) on the device

    @classmethod
    def for_run(cls, train: TrainSpec, device: torch.device) -> Precision:
        """The precision ``train`` asks for on ``device``."""
        dtype = resolve_dtype(train, device)
        scaler = torch.amp.GradScaler(device.type) if dtype == "fp16" else None
        return cls(device, dtype, scaler)

    @property
    def enabled(self) -> bool:
        return self.dtype is not None

    def autocast(self) -> contextlib.AbstractContextManager:
        """The forward pass's context: autocast to the run's dtype (a no-op context in fp32)."""
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=_DTYPES[self.dtype])

    def backward(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer, step: int) -> None:
        """Backpropagate ``loss``; with a scaler, unscale the gradients and keep this step's overflow flag.

        The flag stays on the device until :meth:`drain_overflow`, at the recorder's flush: this adds
        no host sync (``GradScaler.step`` makes its own, except with a fused optimizer).
        """
        if self.scaler is None:
            loss.backward()
            return
        self.scaler.scale(loss).backward()
        self.scaler.unscale_(optimizer)  # probes and clipping see true gradients
        found = self.scaler._per_optimizer_states[id(optimizer)]["found_inf_per_device"]
        self._flags.append((step, torch.stack([f.reshape(()) for f in found.values()]).sum()))

    def drain_overflow(self) -> list[int]:
        """The steps since the last drain whose update the scaler skipped (one copy to the host)."""
        if not self._flags:
            return []
        flags = torch.stack([f for _, f in self._flags]).cpu().tolist()
        steps = [st for (st, _), hit in zip(self._flags, flags) if hit > 0]
        self._flags = []
        self.skipped += len(steps)
        return steps

    def step(self, optimizer: torch.optim.Optimizer) -> None:
        """The optimizer's update (skipped by the scaler on an overflowed step)."""
        if self.scaler is None:
            optimizer.step()
            return
        self.scaler.step(optimizer)
        self.scaler.update()

    def loss_scale(self) -> float | None:
        """The scaler's current factor (a host sync: call it at a flush), or None without one."""
        return None if self.scaler is None else float(self.scaler.get_scale())

    def describe(self) -> dict[str, Any]:
        """For the run's summary: the dtype, whether the hardware has it, loss scaling, skips."""
        return {
            "amp": self.dtype or "fp32",
            "native": self.dtype is None or native(self.dtype, self.device),
            "loss_scaling": self.scaler is not None,
            "skipped_steps": self.skipped,
        }
