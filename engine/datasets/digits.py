"""Handwritten digits: 1,797 grey 8×8 images of 0–9 (UCI, bundled with scikit-learn).

Three params make related tasks of one dataset, for transfer learning:

* ``classes`` keeps some digits only (labels renumbered from 0 in the order given, the digit
  itself as the class name): pre-train on 0–4, fine-tune on 5–9.
* ``half`` keeps one of two fixed halves of the images ("a" or "b", the same split at every
  seed), so a run pre-trained on one half never sees the other half's images.
* ``noise`` adds Gaussian noise to every pixel (its standard deviation in pixel units, 0–16),
  one fixed draw per image: the same digits as worse scans.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from engine.datasets.base import Kind, Raw

KIND: Kind = "image"
# Fixed seeds, not the recipe's: a half and a noisy scan are properties of the dataset, so every
# seed (and every run of a transfer pair) sees the same split and the same noise.
_HALF_SEED, _NOISE_SEED = 20_150_309, 7


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")

    classes: list[int] | None = Field(None, min_length=2, max_length=10)
    half: Literal["a", "b"] | None = None
    noise: float = Field(0.0, ge=0.0, le=16.0)

    @field_validator("classes")
    @classmethod
    def _digits(cls, v: list[int] | None) -> list[int] | None:
        if v is not None and (len(set(v)) != len(v) or not all(0 <= d <= 9 for d in v)):
            raise ValueError(f"give distinct digits from 0 to 9 (got {v})")
        return v


def load(params: dict, seed: int) -> Raw:
    """The images as (n, 1, 8, 8) pixel intensities 0–16 (plus any noise), labels 0–9 (or 0–k-1 for ``classes``)."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x, y = bunch.images.astype(np.float32)[:, None, :, :], bunch.target.astype(np.int64)
    if params.get("noise"):
        x = x + np.random.default_rng(_NOISE_SEED).normal(0.0, params["noise"], x.shape).astype(np.float32)
    half = params.get("half")
    if half is not None:
        in_a = np.zeros(len(y), dtype=bool)
        in_a[np.random.default_rng(_HALF_SEED).permutation(len(y))[: len(y) // 2]] = True
        x, y = x[in_a == (half == "a")], y[in_a == (half == "a")]
    digits = params.get("classes")
    if digits is None:
        digits = list(range(10))
    else:
        keep = np.isin(y, digits)
        relabel = np.full(10, -1, dtype=np.int64)
        relabel[digits] = np.arange(len(digits))
        x, y = x[keep], relabel[y[keep]]
    which = f", half {half} of the images" if half else ""
    noisy = f", pixel noise σ={params['noise']:g}" if params.get("noise") else ""
    return Raw(
        x=x,
        y=y.astype(np.int64),
        task="classification",
        kind=KIND,
        n_classes=len(digits),
        class_names=tuple(str(d) for d in digits),
        description=f"Handwritten digits, 8×8 pixels, {len(digits)} classes{which}{noisy} "
        "(UCI optical recognition, scikit-learn).",
        standardize="global",
    )
