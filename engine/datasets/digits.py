"""Handwritten digits: 1,797 grey 8×8 images of 0–9 (UCI, bundled with scikit-learn)."""

from __future__ import annotations

import numpy as np

from engine.datasets.base import Kind, Raw

KIND: Kind = "image"


def load(params: dict, seed: int) -> Raw:
    """All 1,797 images as (n, 1, 8, 8) pixel intensities 0–16, labels 0–9."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return Raw(
        x=bunch.images.astype(np.float32)[:, None, :, :],
        y=bunch.target.astype(np.int64),
        task="classification",
        kind=KIND,
        n_classes=10,
        class_names=tuple(str(int(c)) for c in bunch.target_names),
        description="Handwritten digits, 8×8 pixels, 10 classes (UCI optical recognition, via scikit-learn).",
        standardize="global",
    )
