"""The adding problem (Hochreiter & Schmidhuber 1997): sum the two marked numbers of a long sequence."""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from engine.datasets.base import Kind, Raw

KIND: Kind = "sequence"
MAX_VALUES = 50_000_000  # n_samples × seq_len × channels: 200 MB as float32


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seq_len: int = Field(50, ge=2, le=1000)
    n_samples: int = Field(2000, ge=20, le=1_000_000)

    @model_validator(mode="after")
    def _fits_in_memory(self) -> Params:
        if self.n_samples * self.seq_len * 2 > MAX_VALUES:
            size = self.n_samples * self.seq_len
            raise ValueError(f"n_samples × seq_len = {size:,} is too large; keep it under {MAX_VALUES // 2:,}")
        return self


def load(params: dict, seed: int) -> Raw:
    """x: (n, seq_len, 2), channel 0 uniform [0, 1), channel 1 a 0/1 marker with one 1 per half; y: their sum."""
    rng = np.random.default_rng(seed)
    n, length = params["n_samples"], params["seq_len"]
    half = length // 2
    values = rng.uniform(0.0, 1.0, size=(n, length))
    first = rng.integers(0, half, size=n)
    second = rng.integers(half, length, size=n)
    marker = np.zeros((n, length))
    rows = np.arange(n)
    marker[rows, first] = 1.0
    marker[rows, second] = 1.0
    target = values[rows, first] + values[rows, second]
    return Raw(
        x=np.stack([values, marker], axis=2).astype(np.float32),
        y=target.astype(np.float32)[:, None],
        task="regression",
        kind=KIND,
        feature_names=("value", "marker"),
        description=f"Adding problem: {n} sequences of length {length}; predict the sum of the two marked values.",
        # The marker must stay exactly 0/1, and predicting the mean (1.0) gives
        # the well-known baseline MSE of about 0.167 only on the raw scale.
        standardize="none",
    )
