"""``gru``: a stacked GRU over the input read as a sequence (see ``_recurrent``).

``model.activation`` is ignored: the gates are fixed sigmoid/tanh.
"""
from __future__ import annotations

from engine.models import _recurrent


def build(spec, data) -> _recurrent.Recurrent:
    """A GRU model; see :mod:`engine.models._recurrent` for the knobs it takes."""
    return _recurrent.build("gru", spec, data)
