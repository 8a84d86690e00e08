"""``rnn``: a stacked tanh or relu RNN over the input read as a sequence (see ``_recurrent``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.models import _recurrent

if TYPE_CHECKING:
    from engine.config.recipe import ModelSpec
    from engine.datasets.base import Dataset

# What this architecture accepts and honours (engine.models.Capabilities).
NORMS = ("none", "layer")  # batch statistics across time steps are not what a recurrent cell needs
ACTIVATIONS = ("tanh", "relu")  # what nn.RNN offers; LSTM and GRU have their own gates


def build(spec: ModelSpec, data: Dataset) -> _recurrent.Recurrent:
    """An RNN model; see :mod:`engine.models._recurrent` for the knobs it takes."""
    return _recurrent.build("rnn", spec, data)
