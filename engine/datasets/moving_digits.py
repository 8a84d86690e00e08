"""Moving digits: short clips of an 8×8 handwritten digit sliding across a slightly larger canvas.

Each sample is a clip of ``frames`` grey frames (4), shape ``(frames, 1, canvas, canvas)`` (a
12×12 canvas): one of scikit-learn's 1,797 digits (pixel intensities 0–16) moves ``step`` pixels
a frame (1), left, right, up or down (``directions: 4``; ``2``: left or right only), from a
random start. The label:

* ``direction`` (the default): which way it moves;
* ``digit``: which digit it is (0–9), which any single frame tells;
* ``both``: the digit and the way, one class each (``"3 →"``): 20 classes with two directions.

The start positions are drawn so that a clip played backwards is a clip of the opposite
direction just as likely as any other: the *set* of frames of a clip moving right is also the
set of one moving left. A net that averages its frames (``model.arch: cnn`` on video) sees the
same average either way; only the order tells them apart.

``noise`` adds Gaussian noise to every pixel of every frame (its standard deviation in pixel
units, 0–16), a fresh draw per frame. The clips depend on the seed (``data.seed`` or the recipe's).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from engine.datasets.base import Kind, Raw

KIND: Kind = "video"
DIGIT = 8  # the digits' side in pixels (scikit-learn's load_digits)
DIRECTIONS = ("left", "right", "up", "down")
ARROWS = {"left": "←", "right": "→", "up": "↑", "down": "↓"}
# (axis moved along, sign): axis 1 is the column (x), axis 0 the row (y, downwards).
_MOTION = {"left": (1, -1), "right": (1, 1), "up": (0, -1), "down": (0, 1)}


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")

    n_samples: int = Field(1600, ge=40, le=20_000)
    frames: int = Field(4, ge=2, le=16)
    canvas: int = Field(12, ge=DIGIT + 1, le=32)
    step: int = Field(1, ge=1, le=4)
    noise: float = Field(0.0, ge=0.0, le=16.0)
    directions: Literal[2, 4] = 4
    label: Literal["direction", "digit", "both"] = "direction"

    @model_validator(mode="after")
    def _room_to_move(self) -> Params:
        travel, room = self.step * (self.frames - 1), self.canvas - DIGIT
        if travel > room:
            raise ValueError(
                f"data.params.canvas: a digit moving {self.step} pixel{'s' if self.step > 1 else ''} a frame for "
                f"{self.frames} frames travels "
                f"{travel} pixels, and a {self.canvas}-pixel canvas leaves {room} beside an {DIGIT}-pixel digit; "
                f"use canvas >= {DIGIT + travel}, or fewer frames or a smaller step"
            )
        return self


def load(params: dict, seed: int) -> Raw:
    """The clips as (n, frames, 1, canvas, canvas) pixel intensities 0–16 (plus any noise); labels
    0–3 for left, right, up, down (or the digit 0–9 with ``label: digit``)."""
    from sklearn.datasets import load_digits

    p = Params.model_validate(params)
    bunch = load_digits()
    images, digits = bunch.images.astype(np.float32), bunch.target.astype(np.int64)
    rng = np.random.default_rng([seed, 20_240_611])
    n, t, size, step = p.n_samples, p.frames, p.canvas, p.step
    travel, room = step * (t - 1), size - DIGIT
    # Every direction equally often; which digit, where it starts and where across: at random.
    direction = rng.permutation(np.arange(n) % p.directions)
    which = rng.integers(0, len(images), n)
    across = rng.integers(0, room + 1, n)
    offset = rng.integers(0, room - travel + 1, n)  # the start along the motion, from the side it leaves
    x = np.zeros((n, t, 1, size, size), dtype=np.float32)
    for i in range(n):
        axis, sign = _MOTION[DIRECTIONS[direction[i]]]
        start = offset[i] if sign > 0 else offset[i] + travel
        for f in range(t):
            along = start + sign * step * f
            row, col = (along, across[i]) if axis == 0 else (across[i], along)
            x[i, f, 0, row : row + DIGIT, col : col + DIGIT] = images[which[i]]
    if p.noise:
        x += rng.normal(0.0, p.noise, x.shape).astype(np.float32)
    noisy = f", pixel noise σ={p.noise:g}" if p.noise else ""
    moving = f"an 8×8 digit moving {step} pixel{'s' if step > 1 else ''} a frame across a {size}×{size} canvas"
    ways = DIRECTIONS[: p.directions]
    if p.label == "digit":
        y, names, what = digits[which], tuple(str(d) for d in range(10)), "which digit (0–9)"
    elif p.label == "both":
        y = digits[which] * p.directions + direction
        names = tuple(f"{d} {ARROWS[w]}" for d in range(10) for w in ways)
        what = f"the digit and which way it moves ({len(names)} classes)"
    else:
        y, names, what = direction.astype(np.int64), ways, f"the direction of motion ({', '.join(ways)})"
    return Raw(
        x=x,
        y=y,
        task="classification",
        kind=KIND,
        n_classes=len(names),
        class_names=names,
        description=f"Moving digits: {n:,} clips of {t} frames, {moving}{noisy}; the label is {what}.",
        standardize="global",
    )
