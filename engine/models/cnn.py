"""``cnn``: a small convolutional net for image data ``(N, C, H, W)``, or video ``(N, T, C, H, W)``.

``model.depth`` 3×3 conv blocks of ``model.width`` channels
(``conv → norm → activation → Dropout2d``); with ``model.residual`` every
block whose input and output shapes match computes ``x + block(x)``. A 2×2
max-pool after the first block keeps it cheap; global average pooling feeds
the ``head``.

On video the same stack runs on every frame (``N*T`` images), and the
pooled features of a clip's frames are averaged before the ``head``: a CNN
averaging over frames, which sees which frames a clip has but not their
order (the CRNN, ``crnn.py``, reads them in order).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn as nn

from engine.config.errors import RecipeError
from engine.models.base import BlockStack, conv_blocks

if TYPE_CHECKING:
    from engine.config.recipe import ModelSpec
    from engine.datasets.base import Dataset

# What this architecture accepts and honours (engine.models.Capabilities).
DATA_KINDS = ("image", "video")
RESIDUAL = True
NORMS = ("none", "batch", "layer")
CHANNELS_LAST = True  # its convolutions run on NHWC under train.channels_last
NEEDS = "image data (or video, each frame's features averaged over the clip)"
TRY_DATA = "digits"


class CNN(BlockStack):
    """Conv net: ``conv.0`` … ``conv.{depth-1}``, then ``head``."""

    label = "CNN"
    stack_name = "conv"

    def __init__(self, spec, data):
        super().__init__(spec)
        channels, height, width = data.input_shape[-3:]  # video: (T, C, H, W), each frame an image
        self.conv = conv_blocks(channels, spec)
        # Pooling a map smaller than 2×2 would leave nothing to convolve.
        self.pool = nn.MaxPool2d(2) if min(height, width) >= 2 else nn.Identity()
        self.head = nn.Linear(spec.width, data.n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        frames = x.shape[1] if x.ndim == 5 else 0
        if frames:  # video: every frame of every clip through the same stack, (N*T, C, H, W)
            x = x.flatten(0, 1)
        for i, block in enumerate(self.conv):
            x = block(x)
            if i == 0:
                x = self.pool(x)
        features = x.mean(dim=(2, 3))
        if frames:  # the clip's frames averaged: their order is gone
            features = features.unflatten(0, (-1, frames)).mean(dim=1)
        return self.head(features)


def build(spec: ModelSpec, data: Dataset) -> CNN:
    """A CNN; refuses data that is neither images nor clips of them."""
    if len(data.input_shape) not in (3, 4):
        raise RecipeError(
            f"model.arch: cnn needs image data (e.g. data.name: digits) or video (data.name: moving_digits); "
            f"this dataset is {data.kind} with input shape {tuple(data.input_shape)}. "
            f"Use mlp, rnn, lstm or gru instead"
        )
    return CNN(spec, data)
