"""``mlp``: a plain stack of fully connected blocks; flattens any input.

``model.depth`` is the number of hidden blocks. Block i is
``Linear → norm → activation → dropout``; with ``model.residual`` every block
whose input and output widths match computes ``x + block(x)``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
import torch.nn as nn

from engine.models.base import BlockStack, dense_blocks

if TYPE_CHECKING:
    from engine.config.recipe import ModelSpec
    from engine.datasets.base import Dataset

# What this architecture accepts and honours (engine.models.Capabilities).
RESIDUAL = True
NORMS = ("none", "batch", "layer")


class MLP(BlockStack):
    """Fully connected net: ``layers.0`` … ``layers.{depth-1}``, then ``head``."""

    label = "MLP"
    stack_name = "layers"

    def __init__(self, spec, data):
        super().__init__(spec)
        self.layers = dense_blocks(math.prod(data.input_shape), spec)
        self.head = nn.Linear(spec.width, data.n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1)
        for block in self.layers:
            x = block(x)
        return self.head(x)


def build(spec: ModelSpec, data: Dataset) -> MLP:
    """An MLP for any data kind (images and sequences are flattened)."""
    return MLP(spec, data)
