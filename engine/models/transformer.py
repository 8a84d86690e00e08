"""``transformer``: a small encoder over sequence data ``(N, T, F)`` (images: one row per step).

Each time step's features go through a linear ``embed`` to ``model.width``
dims, plus a learned positional embedding ``pos``. Then ``model.depth``
encoder blocks, each ``x + attn(norm(x))`` and ``x + mlp(norm(x))``
(pre-norm; the attention sees every step, no causal mask). The ``head``
reads the last time step, as the recurrent nets do.

Knobs: ``model.norm: layer`` gives the pre-norm LayerNorms (``none`` drops
them; batch norm is refused); ``model.residual`` gives the skips (without
them a deep stack trains badly, which is a lesson of its own);
``model.activation`` is the MLP's nonlinearity; ``model.dropout`` follows
the attention and the MLP. Heads: 4 when width allows, else 2 or 1.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn as nn
import torch.nn.functional as F

from engine.config.errors import RecipeError
from engine.models.base import ClinicModel, make_activation, make_norm, sequence_shape, to_sequence
from engine.training import activations

if TYPE_CHECKING:
    from engine.config.recipe import ModelSpec
    from engine.datasets.base import Dataset

# What this architecture accepts and honours (engine.models.Capabilities).
DATA_KINDS = ("sequence", "image")
RESIDUAL = True
NORMS = ("none", "layer")
TRY_DATA = "adding, copy or sine"


def _heads(width: int) -> int:
    for h in (4, 2):
        if width % h == 0 and width // h >= 8:
            return h
    return 1


class Attention(nn.Module):
    """Multi-head self-attention with one ``qkv`` matrix and an ``out`` projection."""

    def __init__(self, width: int, heads: int, dropout: float):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(width, 3 * width)
        self.out = nn.Linear(width, width)
        self.dropout = dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, t, w = x.shape
        q, k, v = self.qkv(x).view(n, t, 3, self.heads, w // self.heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0)
        return self.out(y.transpose(1, 2).reshape(n, t, w))


class EncoderBlock(nn.Module):
    def __init__(self, width: int, heads: int, spec):
        super().__init__()
        self.residual = spec.residual
        self.norm1 = make_norm(spec.norm, width)
        self.attn = Attention(width, heads, spec.dropout)
        self.norm2 = make_norm(spec.norm, width)
        self.fc1 = nn.Linear(width, 2 * width)
        self.act = make_activation(spec.activation)  # hooked by the activation probes
        self.fc2 = nn.Linear(2 * width, width)
        self.drop = nn.Dropout(spec.dropout) if spec.dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.drop(self.attn(self.norm1(x)))
        x = x + a if self.residual else a
        m = self.drop(self.fc2(self.act(self.fc1(self.norm2(x)))))
        return x + m if self.residual else m


class Transformer(ClinicModel):
    """``embed``, ``pos``, then per block ``attn``/``attn_out``/``mlp``/``mlp_out``, then ``head``."""

    label = "transformer"

    def __init__(self, spec, data):
        super().__init__(spec)
        steps, n_features = sequence_shape(tuple(data.input_shape))
        heads = _heads(spec.width)
        self.embed = nn.Linear(n_features, spec.width)
        self.pos = nn.Parameter(torch.randn(1, steps, spec.width) * 0.02)
        self.blocks = nn.ModuleList(EncoderBlock(spec.width, heads, spec) for _ in range(spec.depth))
        self.norm = make_norm(spec.norm, spec.width)
        self.head = nn.Linear(spec.width, data.n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.embed(to_sequence(x)) + self.pos
        for block in self.blocks:
            h = block(h)
        return self.head(self.norm(h[:, -1]))

    def param_layers(self) -> list[tuple[str, nn.Parameter]]:
        named = [("embed", self.embed.weight), ("pos", self.pos)]
        for i, b in enumerate(self.blocks):
            named += [
                (f"blocks.{i}.attn", b.attn.qkv.weight),
                (f"blocks.{i}.attn_out", b.attn.out.weight),
                (f"blocks.{i}.mlp", b.fc1.weight),
                (f"blocks.{i}.mlp_out", b.fc2.weight),
            ]
        return named + [("head", self.head.weight)]

    def activation_layers(self) -> list[tuple[str, nn.Module, str]]:
        """Each block's MLP nonlinearity, named like the MLP's first weight layer."""
        family = activations.get(self.spec.activation).family
        return [(f"blocks.{i}.mlp", b.act, family) for i, b in enumerate(self.blocks)]


def build(spec: ModelSpec, data: Dataset) -> Transformer:
    """A transformer encoder; refuses tabular data (a row of unrelated features is no sequence)."""
    if len(data.input_shape) not in (2, 3):
        raise RecipeError(
            f"model.arch: transformer needs sequence data (data.name: adding, copy or sine) or images "
            f"(read row by row); this dataset is {data.kind} with input shape {tuple(data.input_shape)}. "
            f"Use mlp instead"
        )
    return Transformer(spec, data)
