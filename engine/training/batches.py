"""Training batches on the device: seeded shuffles, optional image augmentation.

Runs in the worker process only (imports torch). Two paths, same API:

* **resident**: the training arrays are copied to the device once and each
  batch is an ``index_select`` there, so a step costs no host-to-device copy.
  Used when the arrays fit under ``device_bytes_limit``, and always on CPU
  unless a limit is given, because the arrays already sit in host memory.
* **per sample** (``data.loader.kind: dataloader``): a ``DataLoader`` of single samples, as
  most projects have, with the recipe's workers and per-sample CPU transforms
  (:mod:`engine.training.sample_loader`).
* **streamed**: a ``DataLoader`` with worker processes gathers whole batches
  (one fancy-index per batch, not one ``__getitem__`` per sample) into pinned
  memory for CUDA, and each batch is copied over non-blocking.

Both shuffle with a ``torch.Generator`` seeded from ``seed`` and drawn on the
CPU, so the same seed gives the same batches on any device. Augmentation
(kornia) draws from torch's global RNG, which the trainer seeds.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import numpy as np
import torch

from engine.config.loader import LoaderSpec
from engine.datasets.base import Dataset
from engine.training.sample_loader import make_loader

DEFAULT_DEVICE_BYTES = 64 * 2**20


class Batches:
    """An endless stream of ``(x, y)`` training batches on ``device``.

    Every batch has exactly ``batch_size`` rows (``min(batch_size, n_train)``):
    the ragged tail of each epoch is dropped, and a new shuffle starts.
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int,
        device: torch.device | str,
        seed: int,
        augment: list[str] | tuple[str, ...] = (),
        device_bytes_limit: int | None = None,
        num_workers: int | None = None,
        loader: LoaderSpec | None = None,
        shard: tuple[int, int] | None = None,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        # (rank, world): every rank draws the same global batch and keeps its slice of the rows, so
        # N ranks together train on exactly the batches one process would (engine/training/distributed.py).
        self.shard = shard
        self.dataset = dataset
        self.device = torch.device(device)
        self.seed = int(seed)
        self.n_train = len(dataset.x_train)
        self.batch_size = min(int(batch_size), self.n_train)
        self.steps_per_epoch = self.n_train // self.batch_size
        self.step = 0  # batches served so far
        self.wait_s = 0.0  # seconds blocked fetching them (the trainer's data wait)
        self._generator = torch.Generator().manual_seed(self.seed)
        self._augment = _build_augment(augment, dataset, self.device)
        self._val: tuple[torch.Tensor, torch.Tensor] | None = None
        self._train_eval: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

        nbytes = dataset.x_train.nbytes + dataset.y_train.nbytes
        if device_bytes_limit is None:
            device_bytes_limit = DEFAULT_DEVICE_BYTES if self.device.type != "cpu" else nbytes
        per_sample = loader is not None and loader.kind == "dataloader"
        self.streaming = per_sample or nbytes > device_bytes_limit
        self._loader_iter: Iterator[tuple[torch.Tensor, torch.Tensor]] | None = None
        if per_sample:
            assert loader is not None
            self._loader = make_loader(
                dataset.x_train, dataset.y_train, self.batch_size, self._generator, loader, self.device
            )
        elif self.streaming:
            workers = min(2, os.cpu_count() or 1) if num_workers is None else num_workers
            self._loader = _make_loader(dataset, self.batch_size, self._generator, workers, self.device)
        else:
            self._x = _to_device(dataset.x_train, self.device)
            self._y = _to_device(dataset.y_train, self.device)
            self._order: torch.Tensor | None = None
        # A boosting member's per-sample weights; the trainer reads the last batch's from ``weights``.
        self._w: torch.Tensor | None = None
        self.weights: torch.Tensor | None = None
        if dataset.w_train is not None:
            if self.streaming:
                raise ValueError("per-sample weights need the training data resident on the device")
            self._w = _to_device(np.asarray(dataset.w_train, dtype=np.float32), self.device)

    @property
    def epoch(self) -> int:
        """Full passes over the training set completed by the batches served so far."""
        return self.step // self.steps_per_epoch

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The next training batch, on the device, augmented when asked."""
        waited = time.perf_counter()
        x, y = self._next_streamed() if self.streaming else self._next_resident()
        self.wait_s += time.perf_counter() - waited  # the fetch only: augmenting the batch is compute
        self.step += 1
        if self.shard is not None:
            rank, world = self.shard
            part = slice(rank * (len(x) // world), (rank + 1) * (len(x) // world))
            x, y = x[part], y[part]
            if self.weights is not None:
                self.weights = self.weights[part]
        if self._augment is not None:
            with torch.no_grad():
                x = self._augment(x)
        return x, y

    def reseed(self, seed: int) -> None:
        """Start a fresh shuffle drawn from ``seed`` (a resumed run continues this way)."""
        self._generator.manual_seed(int(seed))
        self.step = 0
        if self.streaming:
            self._loader_iter = None

    def __iter__(self) -> Batches:
        return self

    def __next__(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.next()

    def val_tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The whole validation set on the device (never augmented); copied once."""
        if self._val is None:
            self._val = (_to_device(self.dataset.x_val, self.device), _to_device(self.dataset.y_val, self.device))
        return self._val

    def train_eval_tensors(self, max_n: int = 1000) -> tuple[torch.Tensor, torch.Tensor]:
        """A fixed, seeded subset of at most ``max_n`` training rows, for the train-loss estimate.

        The same rows every call, so train and val curves are measured on
        samples that do not change between evaluations.
        """
        if max_n not in self._train_eval:
            n = self.n_train
            rows = np.arange(n)
            if n > max_n:
                rows = np.sort(np.random.default_rng(self.seed).choice(n, max_n, replace=False))
            x, y = self.dataset.x_train[rows], self.dataset.y_train[rows]
            self._train_eval[max_n] = (_to_device(x, self.device), _to_device(y, self.device))
        return self._train_eval[max_n]

    def close(self) -> None:
        """Stop the loader's worker processes (streamed path); safe to call twice."""
        if not self.streaming:
            return
        self._loader_iter = None
        # With persistent workers the loader keeps its own handle on the
        # iterator; shut the workers down now rather than whenever GC runs.
        it = getattr(self._loader, "_iterator", None)
        if it is not None and hasattr(it, "_shutdown_workers"):
            it._shutdown_workers()
        self._loader._iterator = None

    def __enter__(self) -> Batches:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- the two paths ------------------------------------------------------

    def _next_resident(self) -> tuple[torch.Tensor, torch.Tensor]:
        at = self.step % self.steps_per_epoch
        if at == 0:
            self._order = torch.randperm(self.n_train, generator=self._generator).to(self.device, non_blocking=True)
        assert self._order is not None, "a shuffle is drawn at the first step of every epoch"
        idx = self._order[at * self.batch_size : (at + 1) * self.batch_size]
        if self._w is not None:
            self.weights = self._w.index_select(0, idx)
        return self._x.index_select(0, idx), self._y.index_select(0, idx)

    def _next_streamed(self) -> tuple[torch.Tensor, torch.Tensor]:
        assert self._loader is not None, "the streamed path has a loader"
        if self._loader_iter is None:
            self._loader_iter = iter(self._loader)
        try:
            x, y = next(self._loader_iter)
        except StopIteration:  # end of an epoch: the sampler draws a new shuffle
            self._loader_iter = iter(self._loader)
            x, y = next(self._loader_iter)
        non_blocking = self.device.type == "cuda"
        return x.to(self.device, non_blocking=non_blocking), y.to(self.device, non_blocking=non_blocking)


class _BatchGather(torch.utils.data.Dataset):
    """Indexed by a list of rows, returns the whole batch (one numpy gather)."""

    def __init__(self, x: np.ndarray, y: np.ndarray):
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, rows: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        # Ascending rows read memory in order; the order inside a batch changes
        # neither the mean loss nor its gradient.
        ordered = np.sort(np.asarray(rows))
        return torch.from_numpy(self.x[ordered]), torch.from_numpy(self.y[ordered])


def _make_loader(dataset: Dataset, batch_size: int, generator: torch.Generator, workers: int, device: torch.device):
    from torch.utils.data import BatchSampler, DataLoader, RandomSampler

    n = len(dataset.x_train)
    sampler = BatchSampler(RandomSampler(range(n), generator=generator), batch_size, drop_last=n > batch_size)
    return DataLoader(
        _BatchGather(dataset.x_train, dataset.y_train),
        batch_size=None,  # the sampler already yields whole batches
        sampler=sampler,
        num_workers=workers,
        pin_memory=device.type == "cuda",
        persistent_workers=workers > 0,
        # Workers' base seed comes from this generator, not torch's global RNG,
        # so a new epoch does not shift the stream that dropout and kornia use.
        generator=torch.Generator().manual_seed(generator.initial_seed() + 1),
    )


def _build_augment(names, dataset: Dataset, device: torch.device):
    if not names:
        return None
    if dataset.kind != "image" or len(dataset.input_shape) != 3:
        raise ValueError(
            f"augmentations need image data (N, C, H, W); this dataset is {dataset.kind} {dataset.input_shape}"
        )
    from engine.training.augment import build

    return build(list(names)).to(device)


def _to_device(array: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(array)).to(device)
