"""``mlp``: a plain stack of fully connected blocks; flattens any input.

``model.depth`` is the number of hidden blocks. Block i is
``Linear → norm → activation → dropout``; with ``model.residual`` every block
whose input and output widths match computes ``x + block(x)``.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn

from engine.models.base import Block, BlockStack, make_activation, make_norm


class MLP(BlockStack):
    """Fully connected net: ``layers.0`` … ``layers.{depth-1}``, then ``head``."""

    label = "MLP"
    stack_name = "layers"

    def __init__(self, spec, data):
        super().__init__(spec)
        blocks = []
        n_in = math.prod(data.input_shape)
        for _ in range(spec.depth):
            blocks.append(
                Block(
                    nn.Linear(n_in, spec.width),
                    make_norm(spec.norm, spec.width),
                    make_activation(spec.activation),
                    nn.Dropout(spec.dropout) if spec.dropout > 0 else nn.Identity(),
                    residual=spec.residual and n_in == spec.width,
                )
            )
            n_in = spec.width
        self.layers = nn.ModuleList(blocks)
        self.head = nn.Linear(spec.width, data.n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1)
        for block in self.layers:
            x = block(x)
        return self.head(x)


def build(spec, data) -> MLP:
    """An MLP for any data kind (images and sequences are flattened)."""
    return MLP(spec, data)
