"""``crnn``: a CNN+RNN hybrid for video ``(N, T, C, H, W)``: a conv encoder per frame, a GRU over the frames.

Each frame goes through ``model.depth`` 3×3 conv blocks of ``model.width`` channels (the CNN's
blocks: ``conv → norm → activation → Dropout2d``, residual where the channels match, a 2×2
max-pool after the first). The encoder keeps its feature map's layout, flattened, instead of
averaging it away: the GRU (one layer of ``model.width`` units) reads the frames in order and
can see *where* the digit is in each, so *which way* it moves. The ``head`` reads the last step.

Knobs: ``model.norm`` and ``model.residual`` act on the conv blocks; ``model.dropout`` follows
every block and comes before the head; ``model.activation`` is the conv blocks' (the GRU's
gates are fixed sigmoid/tanh).
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
DATA_KINDS = ("video",)
RESIDUAL = True
NORMS = ("none", "batch", "layer")
CHANNELS_LAST = True  # its frame encoder's convolutions run on NHWC under train.channels_last
NEEDS = "video (clips of frames, (T, C, H, W) a sample)"
TRY_DATA = "moving_digits"


class CRNN(BlockStack):
    """``conv.0`` … ``conv.{depth-1}`` on each frame, ``gru.ih_l0`` and ``gru.hh_l0`` over the frames, ``head``."""

    label = "CRNN"
    stack_name = "conv"

    def __init__(self, spec, data):
        super().__init__(spec)
        _, channels, height, width = data.input_shape
        self.conv = conv_blocks(channels, spec)
        # Pooling a map smaller than 2×2 would leave nothing to convolve.
        small = min(height, width) < 2
        self.pool = nn.Identity() if small else nn.MaxPool2d(2)
        cells = height * width if small else (height // 2) * (width // 2)
        self.gru = nn.GRU(input_size=spec.width * cells, hidden_size=spec.width, batch_first=True)
        self.drop = nn.Dropout(spec.dropout) if spec.dropout > 0 else nn.Identity()
        self.head = nn.Linear(spec.width, data.n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, frames = x.shape[0], x.shape[1]
        x = x.flatten(0, 1)  # every frame of every clip through the same encoder, (N*T, C, H, W)
        for i, block in enumerate(self.conv):
            x = block(x)
            if i == 0:
                x = self.pool(x)
        out, _ = self.gru(x.reshape(n, frames, -1))  # each frame's whole map, in order
        return self.head(self.drop(out[:, -1]))

    def param_layers(self) -> list[tuple[str, nn.Parameter]]:
        """``conv.0`` … ``conv.{depth-1}``, ``gru.ih_l0``, ``gru.hh_l0``, then ``head``: input to output."""
        named = super().param_layers()
        recurrent = [(f"gru.{kind}_l0", getattr(self.gru, f"weight_{kind}_l0")) for kind in ("ih", "hh")]
        return named[:-1] + recurrent + named[-1:]

    def explain_layers(self) -> list[tuple[str, nn.Module, str]]:
        """None: the conv blocks see ``N*T`` frames, not the ``N`` clips Captum attributes."""
        return []


def build(spec: ModelSpec, data: Dataset) -> CRNN:
    """A CRNN; refuses data that is not clips of frames."""
    if len(data.input_shape) != 4:
        raise RecipeError(
            f"model.arch: crnn needs video, clips of frames (T, C, H, W) a sample (data.name: moving_digits); "
            f"this dataset is {data.kind} with input shape {tuple(data.input_shape)}. Use cnn on images"
        )
    return CRNN(spec, data)
