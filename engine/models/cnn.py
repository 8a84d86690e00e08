"""``cnn``: a small convolutional net for image data ``(N, C, H, W)``.

``model.depth`` 3×3 conv blocks of ``model.width`` channels
(``conv → norm → activation → Dropout2d``); with ``model.residual`` every
block whose input and output shapes match computes ``x + block(x)``. A 2×2
max-pool after the first block keeps it cheap; global average pooling feeds
the ``head``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn as nn

from engine.config.errors import RecipeError
from engine.models.base import Block, BlockStack, make_activation, make_norm

if TYPE_CHECKING:
    from engine.config.recipe import ModelSpec
    from engine.datasets.base import Dataset

# What this architecture accepts and honours (engine.models.Capabilities).
DATA_KINDS = ("image",)
RESIDUAL = True
NORMS = ("none", "batch", "layer")
TRY_DATA = "digits"


class CNN(BlockStack):
    """Conv net: ``conv.0`` … ``conv.{depth-1}``, then ``head``."""

    label = "CNN"
    stack_name = "conv"

    def __init__(self, spec, data):
        super().__init__(spec)
        channels, height, width = data.input_shape
        blocks = []
        c_in = channels
        for _ in range(spec.depth):
            blocks.append(
                Block(
                    nn.Conv2d(c_in, spec.width, kernel_size=3, padding=1),
                    make_norm(spec.norm, spec.width, spatial=True),
                    make_activation(spec.activation),
                    nn.Dropout2d(spec.dropout) if spec.dropout > 0 else nn.Identity(),
                    residual=spec.residual and c_in == spec.width,
                )
            )
            c_in = spec.width
        self.conv = nn.ModuleList(blocks)
        # Pooling a map smaller than 2×2 would leave nothing to convolve.
        self.pool = nn.MaxPool2d(2) if min(height, width) >= 2 else nn.Identity()
        self.head = nn.Linear(spec.width, data.n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, block in enumerate(self.conv):
            x = block(x)
            if i == 0:
                x = self.pool(x)
        return self.head(x.mean(dim=(2, 3)))


def build(spec: ModelSpec, data: Dataset) -> CNN:
    """A CNN; refuses data that is not images."""
    if len(data.input_shape) != 3:
        raise RecipeError(
            f"model.arch: cnn needs image data (e.g. data.name: digits); "
            f"this dataset is {data.kind} with input shape {tuple(data.input_shape)}. "
            f"Use mlp, rnn, lstm or gru instead"
        )
    return CNN(spec, data)
