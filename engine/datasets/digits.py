"""Handwritten digits: 1,797 grey 8×8 images of 0–9 (UCI, bundled with scikit-learn).

``classes`` keeps some digits only (labels renumbered from 0 in the order given, the digit
itself as the class name): two tasks from one dataset, for transfer learning (pre-train on
0–4, fine-tune on 5–9).
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from engine.datasets.base import Kind, Raw

KIND: Kind = "image"


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")

    classes: list[int] | None = Field(None, min_length=2, max_length=10)

    @field_validator("classes")
    @classmethod
    def _digits(cls, v: list[int] | None) -> list[int] | None:
        if v is not None and (len(set(v)) != len(v) or not all(0 <= d <= 9 for d in v)):
            raise ValueError(f"give distinct digits from 0 to 9 (got {v})")
        return v


def load(params: dict, seed: int) -> Raw:
    """The images as (n, 1, 8, 8) pixel intensities 0–16, labels 0–9 (or 0–k-1 for ``classes``)."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x, y = bunch.images.astype(np.float32)[:, None, :, :], bunch.target.astype(np.int64)
    digits = params.get("classes")
    if digits is None:
        digits = list(range(10))
    else:
        keep = np.isin(y, digits)
        relabel = np.full(10, -1, dtype=np.int64)
        relabel[digits] = np.arange(len(digits))
        x, y = x[keep], relabel[y[keep]]
    return Raw(
        x=x,
        y=y.astype(np.int64),
        task="classification",
        kind=KIND,
        n_classes=len(digits),
        class_names=tuple(str(d) for d in digits),
        description=f"Handwritten digits, 8×8 pixels, {len(digits)} classes (UCI optical recognition, scikit-learn).",
        standardize="global",
    )
