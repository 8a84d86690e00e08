"""``lstm``: a stacked LSTM over the input read as a sequence (see ``_recurrent``).

``model.activation`` is ignored: the gates are fixed sigmoid/tanh.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.models import _recurrent

if TYPE_CHECKING:
    from engine.config.recipe import ModelSpec
    from engine.datasets.base import Dataset

# What this architecture accepts and honours (engine.models.Capabilities).
NORMS = ("none", "layer")  # see rnn.py


def build(spec: ModelSpec, data: Dataset) -> _recurrent.Recurrent:
    """An LSTM model; see :mod:`engine.models._recurrent` for the knobs it takes."""
    return _recurrent.build("lstm", spec, data)
