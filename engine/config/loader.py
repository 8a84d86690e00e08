"""``data.loader``: how training batches reach the model.

``in_memory`` (the default) keeps the training arrays as tensors on the device and slices a
batch out of them: nothing waits for data. ``dataloader`` feeds a ``torch.utils.data.DataLoader``
one sample at a time, as a project with files on disk would, with its ``num_workers``,
``pin_memory``, ``prefetch_factor`` and ``persistent_workers``; ``cpu_augment`` then transforms
each sample on the CPU inside the loader (the usual torchvision way), which is what makes a
pipeline slow enough to starve the model. The same names in ``data.augment`` run on the whole
batch on the device (kornia) instead.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["LoaderSpec"]


class LoaderSpec(BaseModel):
    """Where batches come from, and the DataLoader's own settings."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    kind: Literal["in_memory", "dataloader"] = "in_memory"
    num_workers: int = Field(0, ge=0, le=32)  # 0: samples are made in the training process itself
    pin_memory: bool = False  # page-locked host batches: a faster, non-blocking copy to a GPU
    prefetch_factor: int | None = Field(None, ge=1, le=64)  # batches each worker keeps ready (torch: 2)
    persistent_workers: bool = False  # keep the workers alive from one epoch to the next
    cpu_augment: tuple[str, ...] = ()  # per-sample transforms on the CPU, in the loader

    @field_validator("cpu_augment", mode="before")
    @classmethod
    def _list_to_tuple(cls, v: Any) -> Any:
        return tuple(v) if isinstance(v, list) else v

    @field_validator("cpu_augment")
    @classmethod
    def _known(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        from engine.training.sample_transforms import TRANSFORMS  # a torch-free registry

        for name in v:
            if name not in TRANSFORMS:
                raise ValueError(f"unknown per-sample transform {name!r}; allowed: {', '.join(TRANSFORMS.names())}")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> LoaderSpec:
        if self.kind == "in_memory":
            changed = [
                k
                for k in ("num_workers", "pin_memory", "prefetch_factor", "persistent_workers", "cpu_augment")
                if getattr(self, k) != type(self).model_fields[k].default
            ]
            if changed:
                raise ValueError(f"{changed[0]} applies to kind: dataloader (this loader is in_memory)")
        if self.num_workers == 0 and (self.prefetch_factor is not None or self.persistent_workers):
            what = "prefetch_factor" if self.prefetch_factor is not None else "persistent_workers"
            raise ValueError(f"{what} needs num_workers of 1 or more (with 0, no worker prefetches or persists)")
        return self
