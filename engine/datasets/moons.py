"""Two interleaving half circles in 2-D: the classic small nonlinear toy (scikit-learn generator)."""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from engine.datasets.base import Kind, Raw

KIND: Kind = "tabular"


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")

    n_samples: int = Field(1000, ge=20, le=1_000_000)
    noise: float = Field(0.2, ge=0.0, le=5.0)


def load(params: dict, seed: int) -> Raw:
    """``n_samples`` points, Gaussian ``noise`` added to each coordinate."""
    from sklearn.datasets import make_moons

    x, y = make_moons(n_samples=params["n_samples"], noise=params["noise"], random_state=seed)
    return Raw(
        x=x,
        y=y.astype(np.int64),
        task="classification",
        kind=KIND,
        n_classes=2,
        feature_names=("x1", "x2"),
        class_names=("upper", "lower"),
        description=f"Two moons: {params['n_samples']} points, noise {params['noise']}.",
    )
