"""Noisy sine waves: from a window of seq_len values, predict the next (clean) value."""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from engine.datasets.base import Kind, Raw

KIND: Kind = "sequence"
MAX_VALUES = 50_000_000


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")

    n_samples: int = Field(2000, ge=20, le=1_000_000)
    seq_len: int = Field(20, ge=2, le=1000)
    noise: float = Field(0.1, ge=0.0, le=5.0, description="std of Gaussian noise on the inputs")
    period: float = Field(25.0, ge=2.0, le=10_000.0, description="steps per cycle")

    @model_validator(mode="after")
    def _fits_in_memory(self) -> Params:
        if self.n_samples * self.seq_len > MAX_VALUES:
            raise ValueError(f"n_samples × seq_len is too large; keep it under {MAX_VALUES:,}")
        return self


def load(params: dict, seed: int) -> Raw:
    """x: (n, seq_len, 1) noisy samples of sin at a random phase; y: (n, 1) the next clean value.

    Each window has its own phase, so the windows are independent and the
    validation split cannot overlap training windows. The target is clean,
    so a good model can push the loss well below ``noise**2``.
    """
    rng = np.random.default_rng(seed)
    n, length = params["n_samples"], params["seq_len"]
    phase = rng.uniform(0.0, 2 * np.pi, size=(n, 1))
    t = np.arange(length + 1)[None, :]
    wave = np.sin(2 * np.pi * t / params["period"] + phase)
    inputs = wave[:, :length] + rng.normal(0.0, params["noise"], size=(n, length))
    return Raw(
        x=inputs[:, :, None],
        y=wave[:, length:].astype(np.float32),
        task="regression",
        kind=KIND,
        feature_names=("value",),
        description=f"Sine: {n} windows of {length} steps, period {params['period']}, noise {params['noise']}.",
    )
