"""The one implementation behind ``rnn``, ``lstm`` and ``gru``.

Input is read as a sequence (see :func:`engine.models.base.to_sequence`):
tabular ``(N, F)`` is F steps of 1 feature, images ``(N, C, H, W)`` are H
steps of C*W features. The ``head`` reads the last time step's output.

Knobs: ``model.depth`` stacked layers of ``model.width`` hidden units;
``model.dropout`` between stacked layers and before the head;
``model.norm: layer`` normalises the final hidden state. Batch norm and
residual connections are refused. ``rnn`` takes ``model.activation`` tanh or
relu; ``lstm`` and ``gru`` ignore ``model.activation`` (their gates are
fixed sigmoid/tanh).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn as nn

from engine.models.base import ClinicModel, make_norm, sequence_shape, to_sequence
from engine.training import activations

if TYPE_CHECKING:
    from engine.config.recipe import ModelSpec
    from engine.datasets.base import Dataset

_CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class Recurrent(ClinicModel):
    """A stacked RNN/LSTM/GRU; the recurrent module is registered as ``self.<cell>``."""

    def __init__(self, cell: str, spec, data):
        super().__init__(spec)
        self.cell = cell
        self.label = cell.upper()
        self.uses_activation = cell == "rnn"
        _, n_features = sequence_shape(tuple(data.input_shape))
        kwargs = dict(
            input_size=n_features,
            hidden_size=spec.width,
            num_layers=spec.depth,
            batch_first=True,
            # PyTorch only drops between stacked layers; with one layer it would warn.
            dropout=spec.dropout if spec.depth > 1 else 0.0,
        )
        if cell == "rnn":
            kwargs["nonlinearity"] = spec.activation
        # Named after the cell so charts read "lstm.ih_l0", not "rnn.ih_l0".
        self.add_module(cell, _CELLS[cell](**kwargs))
        self.norm = make_norm(spec.norm, spec.width)
        # Also after the last layer, so model.dropout means something at depth 1.
        self.drop = nn.Dropout(spec.dropout) if spec.dropout > 0 else nn.Identity()
        self.head = nn.Linear(spec.width, data.n_outputs)

    @property
    def recurrent(self) -> nn.RNNBase:
        return getattr(self, self.cell)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.recurrent(to_sequence(x))
        return self.head(self.drop(self.norm(out[:, -1])))

    def param_layers(self) -> list[tuple[str, nn.Parameter]]:
        """``<cell>.ih_l0``, ``<cell>.hh_l0``, ``<cell>.ih_l1``, … then ``head``."""
        named = []
        for layer in range(self.spec.depth):
            for kind in ("ih", "hh"):
                named.append((f"{self.cell}.{kind}_l{layer}", getattr(self.recurrent, f"weight_{kind}_l{layer}")))
        return named + [("head", self.head.weight)]

    def activation_layers(self) -> list[tuple[str, nn.Module, str]]:
        """For ``rnn``: the ``nn.RNN`` module itself, whose output is a tuple.

        The hook reads element 0, the last layer's hidden states at every
        step (tanh or relu outputs). LSTM and GRU expose nothing: their
        gate activations live inside fused kernels, out of a hook's reach.
        """
        if self.cell != "rnn":
            return []
        return [(self.cell, self.recurrent, activations.get(self.spec.activation).family)]

    def explain_layers(self) -> list[tuple[str, nn.Module, str]]:
        """None: ``nn.RNN`` returns (outputs, last state) and the head reads only the outputs, so
        Captum's layer conductance (which differentiates both) cannot attribute to it."""
        return []


def build(cell: str, spec: ModelSpec, data: Dataset) -> Recurrent:
    """A recurrent model of type ``cell`` (norm, residual and activation were checked against its declaration)."""
    return Recurrent(cell, spec, data)
