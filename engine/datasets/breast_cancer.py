"""Breast cancer Wisconsin (diagnostic): 569 tumours, 30 features, malignant or benign."""

from __future__ import annotations

import numpy as np

from engine.datasets.base import Kind, Raw

KIND: Kind = "tabular"


def load(params: dict, seed: int) -> Raw:
    """The scikit-learn bundled copy; label 0 is malignant, 1 benign."""
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer()
    return Raw(
        x=bunch.data.astype(np.float64),
        y=bunch.target.astype(np.int64),
        task="classification",
        kind=KIND,
        n_classes=2,
        feature_names=tuple(str(f) for f in bunch.feature_names),
        class_names=tuple(str(c) for c in bunch.target_names),
        description="Breast cancer Wisconsin (diagnostic): 30 cell-nucleus measurements, malignant vs benign.",
    )
