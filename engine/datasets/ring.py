"""Eight Gaussian blobs on a circle: the classic 2-D target for a GAN (labels: which blob)."""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from engine.datasets.base import Kind, Raw

KIND: Kind = "tabular"


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")

    n_samples: int = Field(2000, ge=20, le=1_000_000)
    modes: int = Field(8, ge=2, le=64, description="blobs, evenly spaced on the circle")
    radius: float = Field(2.0, gt=0.0, le=100.0)
    std: float = Field(0.05, gt=0.0, le=10.0, description="spread of each blob")


def load(params: dict, seed: int) -> Raw:
    """x: (n, 2) points, each drawn from a random blob; y: the blob's index (0 is at angle 0)."""
    rng = np.random.default_rng(seed)
    n, k = params["n_samples"], params["modes"]
    mode = rng.integers(0, k, size=n)
    angle = 2 * np.pi * mode / k
    centres = params["radius"] * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    x = centres + rng.normal(0.0, params["std"], size=(n, 2))
    return Raw(
        x=x.astype(np.float32),
        y=mode.astype(np.int64),
        task="classification",
        kind=KIND,
        n_classes=k,
        feature_names=("x1", "x2"),
        class_names=tuple(f"blob {i}" for i in range(k)),
        description=f"Ring: {n} points from {k} Gaussian blobs (std {params['std']}) on a circle of radius "
        f"{params['radius']}.",
        # Keep the circle round and the blobs where the lesson says they are.
        standardize="none",
    )
