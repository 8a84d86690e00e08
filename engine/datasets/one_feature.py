"""Eight standard-normal features; the class is whether ONE of them (``key``) is positive.

A dataset whose answer is known, for checking attribution: whatever a trained net looks at,
an honest explanation must rank feature ``key`` first, far above the seven it can ignore.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from engine.datasets.base import Kind, Raw

KIND: Kind = "tabular"


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")

    n_samples: int = Field(1000, ge=20, le=1_000_000)
    n_features: int = Field(8, ge=2, le=256)
    key: int = Field(3, ge=0, le=255)  # which feature decides the class (0-based; named f{key+1})


def load(params: dict, seed: int) -> Raw:
    """``n_samples`` rows of ``n_features`` N(0, 1) features; class 1 where feature ``key`` > 0."""
    n, d, key = params["n_samples"], params["n_features"], params["key"]
    if key >= d:
        from engine.config.errors import DataError

        raise DataError(f"data.params.key: {key} is not one of the {d} features (0 to {d - 1})")
    x = np.random.default_rng(seed).standard_normal((n, d))
    y = (x[:, key] > 0).astype(np.int64)
    return Raw(
        x=x,
        y=y,
        task="classification",
        kind=KIND,
        n_classes=2,
        feature_names=tuple(f"f{i + 1}" for i in range(d)),
        class_names=(f"f{key + 1} ≤ 0", f"f{key + 1} > 0"),
        description=f"{n} rows of {d} normal features; the class is the sign of f{key + 1}.",
    )
