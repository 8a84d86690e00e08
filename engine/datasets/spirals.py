"""Two or more interleaved spiral arms in 2-D: hard for shallow or linear models (numpy generator)."""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from engine.datasets.base import Kind, Raw

KIND: Kind = "tabular"


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")

    n_samples: int = Field(1000, ge=20, le=1_000_000)
    noise: float = Field(0.2, ge=0.0, le=5.0, description="std of the angle jitter, radians")
    n_classes: int = Field(2, ge=2, le=10)
    turns: float = Field(1.0, gt=0.0, le=5.0, description="how many times each arm winds around")


def load(params: dict, seed: int) -> Raw:
    """One arm per class, radius 0.05→1, arms rotated evenly; jitter is on the angle (CS231n style)."""
    rng = np.random.default_rng(seed)
    n, k = params["n_samples"], params["n_classes"]
    xs, ys = [], []
    for c in range(k):
        m = n // k + (1 if c < n % k else 0)
        t = np.linspace(0.0, 1.0, m)
        radius = 0.05 + 0.95 * t
        angle = 2 * np.pi * (params["turns"] * t + c / k) + rng.normal(0.0, params["noise"], m)
        xs.append(np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1))
        ys.append(np.full(m, c, dtype=np.int64))
    order = rng.permutation(n)
    return Raw(
        x=np.concatenate(xs)[order],
        y=np.concatenate(ys)[order],
        task="classification",
        kind=KIND,
        n_classes=k,
        feature_names=("x1", "x2"),
        class_names=tuple(f"arm {c}" for c in range(k)),
        description=f"{k} spirals: {n} points, {params['turns']} turns, angle noise {params['noise']}.",
    )
