"""Wine recognition: 178 wines from three cultivars, 13 chemical measurements (UCI)."""

from __future__ import annotations

import numpy as np

from engine.datasets.base import Kind, Raw

KIND: Kind = "tabular"


def load(params: dict, seed: int) -> Raw:
    """The scikit-learn bundled copy, three classes."""
    from sklearn.datasets import load_wine

    bunch = load_wine()
    return Raw(
        x=bunch.data.astype(np.float64),
        y=bunch.target.astype(np.int64),
        task="classification",
        kind=KIND,
        n_classes=3,
        feature_names=tuple(str(f) for f in bunch.feature_names),
        class_names=tuple(str(c) for c in bunch.target_names),
        description="Wine recognition: 13 chemical measurements of wines from three cultivars.",
    )
