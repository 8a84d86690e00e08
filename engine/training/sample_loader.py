"""``data.loader.kind: dataloader``: batches from a ``torch.utils.data.DataLoader``, one sample at a time.

This is the pipeline most PyTorch projects have (a map-style Dataset whose ``__getitem__`` reads
and transforms one sample, collated into a batch, optionally in worker processes), kept here so
that a run can show what it costs: ``data.loader.cpu_augment`` transforms each sample on the CPU
(:mod:`engine.training.sample_transforms`), and the trainer times how long each step waits for
its batch. The shuffle is drawn from a seeded generator, and each worker's transforms from a
seed the DataLoader derives from it, so a run is repeatable at a given ``num_workers``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader, RandomSampler, get_worker_info

from engine.config.loader import LoaderSpec
from engine.training.sample_transforms import Transform, compose


class SampleDataset(torch.utils.data.Dataset):
    """The training rows, one ``(x, y)`` per index, each ``x`` transformed on the CPU when asked."""

    def __init__(self, x: np.ndarray, y: np.ndarray, transform: Transform | None, seed: int):
        self.x, self.y, self.transform = x, y, transform
        self.rng = np.random.default_rng(seed)  # replaced in each worker (see _seed_worker)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.x[i]
        if self.transform is not None:
            x = self.transform(x, self.rng)
        return torch.from_numpy(np.ascontiguousarray(x)), torch.as_tensor(self.y[i])


def _seed_worker(_: int) -> None:
    info = get_worker_info()
    assert info is not None, "called in a DataLoader worker"
    info.dataset.rng = np.random.default_rng(info.seed % 2**32)  # type: ignore[attr-defined]


def make_loader(
    x: np.ndarray, y: np.ndarray, batch_size: int, generator: torch.Generator, spec: LoaderSpec, device: torch.device
) -> DataLoader:
    """A DataLoader over the rows with the recipe's settings; every batch full (the ragged tail dropped)."""
    dataset = SampleDataset(x, y, compose(spec.cpu_augment), seed=generator.initial_seed())
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=RandomSampler(range(len(x)), generator=generator),
        drop_last=len(x) > batch_size,
        num_workers=spec.num_workers,
        pin_memory=spec.pin_memory and device.type == "cuda",  # pinning only helps a copy to a GPU
        persistent_workers=spec.persistent_workers,
        worker_init_fn=_seed_worker if spec.num_workers else None,
        generator=torch.Generator().manual_seed(generator.initial_seed() + 1),  # the workers' base seed
        prefetch_factor=spec.prefetch_factor,  # None: torch's own (2 per worker), and required with no workers
    )
