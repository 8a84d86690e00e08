"""What every dataset module returns, and the shared split/standardise step.

A dataset module (``engine/datasets/<name>.py``) is torch-free and defines:

* ``KIND``: ``"tabular"``, ``"image"``, ``"sequence"`` or ``"video"`` (clips of frames,
  ``(T, C, H, W)`` a sample);
* optionally ``Params``: a pydantic model (``extra="forbid"``) of its
  ``data.params``, with defaults;
* ``load(params: dict, seed: int) -> Raw``: the full dataset as numpy arrays.

:func:`engine.datasets.prepare` turns a ``Raw`` into a :class:`Dataset`
(seeded, stratified split; ``train_limit``; standardisation fit on train).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

Task = Literal["classification", "regression"]
Kind = Literal["tabular", "image", "sequence", "video"]


@dataclass(frozen=True)
class Raw:
    """A whole dataset before splitting.

    ``x``: float array of shape (n, *input_shape).
    ``y``: int64 class labels, shape (n,) or (n, target_len) for per-position
    labels (copy-memory); or float32 targets, shape (n, out_dim), for regression.
    """

    x: np.ndarray
    y: np.ndarray
    task: Task
    kind: Kind
    n_classes: int | None = None
    feature_names: tuple[str, ...] = ()
    class_names: tuple[str, ...] = ()
    description: str = ""
    # "global" for images and video (one mean/std keeps pixels comparable, so flips and
    # affine warps stay meaningful); "feature" for tabular and sequence columns.
    standardize: Literal["feature", "global", "none"] = "feature"


@dataclass(frozen=True)
class Dataset:
    """Train/val arrays ready for the trainer, plus what the model builder needs."""

    x_train: np.ndarray  # float32, (n_train, *input_shape)
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    task: Task
    kind: Kind
    input_shape: tuple[int, ...]
    n_classes: int | None  # classification only
    target_len: int = 1  # >1 when each sample has several labelled positions
    out_dim: int = 1  # regression outputs per sample
    feature_names: tuple[str, ...] = ()
    class_names: tuple[str, ...] = ()
    description: str = ""
    extras: dict = field(default_factory=dict)
    # Per-sample weights of the training rows (mean 1), for a boosting member's weighted loss; None: all 1.
    w_train: np.ndarray | None = None

    @property
    def n_outputs(self) -> int:
        """Width of the model's final layer."""
        if self.task == "classification":
            assert self.n_classes is not None, "a classification dataset knows its classes"
            return int(self.n_classes) * self.target_len
        return self.out_dim

    @property
    def chance_accuracy(self) -> float | None:
        """Accuracy of always guessing the most common val class."""
        if self.task != "classification":
            return None
        _, counts = np.unique(self.y_val, return_counts=True)
        return float(counts.max() / counts.sum())
