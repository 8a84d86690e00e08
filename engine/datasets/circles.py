"""A small circle inside a large one in 2-D: not separable by any straight line (scikit-learn generator)."""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from engine.datasets.base import Kind, Raw

KIND: Kind = "tabular"


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")

    n_samples: int = Field(1000, ge=20, le=1_000_000)
    noise: float = Field(0.1, ge=0.0, le=5.0)
    factor: float = Field(0.5, gt=0.0, lt=1.0, description="inner radius / outer radius")


def load(params: dict, seed: int) -> Raw:
    """``n_samples`` points on two concentric circles, Gaussian ``noise`` added."""
    from sklearn.datasets import make_circles

    x, y = make_circles(
        n_samples=params["n_samples"], noise=params["noise"], factor=params["factor"], random_state=seed
    )
    return Raw(
        x=x,
        y=y.astype(np.int64),
        task="classification",
        kind=KIND,
        n_classes=2,
        feature_names=("x1", "x2"),
        class_names=("outer", "inner"),
        description=f"Two circles: {params['n_samples']} points, noise {params['noise']}, factor {params['factor']}.",
    )
