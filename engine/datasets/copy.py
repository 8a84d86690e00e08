"""Copy memory: read k symbols, wait through a blank stretch, then recall all k in order."""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from engine.datasets.base import Kind, Raw

KIND: Kind = "sequence"
MAX_VALUES = 50_000_000  # n_samples × steps × channels: 200 MB as float32


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")

    k: int = Field(5, ge=1, le=50, description="symbols to remember")
    n_symbols: int = Field(8, ge=2, le=50, description="alphabet size")
    seq_len: int = Field(20, ge=0, le=1000, description="blank steps between the symbols and the delimiter")
    n_samples: int = Field(2000, ge=20, le=1_000_000)

    @model_validator(mode="after")
    def _fits_in_memory(self) -> Params:
        size = self.n_samples * (self.k + self.seq_len + 1) * (self.n_symbols + 2)
        if size > MAX_VALUES:
            raise ValueError(f"n_samples × steps × channels = {size:,} is too large; keep it under {MAX_VALUES:,}")
        return self


def load(params: dict, seed: int) -> Raw:
    """x: one-hot (n, k + seq_len + 1, n_symbols + 2); y: the k symbols, int64 (n, k).

    Channels 0..n_symbols-1 are the symbols, then "blank", then "delimiter"
    (the cue to answer). The model answers from what it has read, one class
    per position, so chance accuracy is 1 / n_symbols.
    """
    rng = np.random.default_rng(seed)
    n, k, blanks, m = params["n_samples"], params["k"], params["seq_len"], params["n_symbols"]
    steps = k + blanks + 1
    symbols = rng.integers(0, m, size=(n, k))
    tokens = np.full((n, steps), m, dtype=np.int64)  # blank everywhere...
    tokens[:, :k] = symbols
    tokens[:, -1] = m + 1  # ...then the delimiter
    x = np.eye(m + 2, dtype=np.float32)[tokens]
    return Raw(
        x=x,
        y=symbols.astype(np.int64),
        task="classification",
        kind=KIND,
        n_classes=m,
        feature_names=tuple(f"symbol {i}" for i in range(m)) + ("blank", "delimiter"),
        class_names=tuple(f"symbol {i}" for i in range(m)),
        description=f"Copy memory: recall {k} of {m} symbols after {blanks} blank steps ({n} sequences).",
        standardize="none",  # one-hot inputs are already on a fixed scale
    )
