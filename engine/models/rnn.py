"""``rnn``: a stacked tanh or relu RNN over the input read as a sequence (see ``_recurrent``)."""
from __future__ import annotations

from engine.models import _recurrent


def build(spec, data) -> _recurrent.Recurrent:
    """An RNN model; see :mod:`engine.models._recurrent` for the knobs it takes."""
    return _recurrent.build("rnn", spec, data)
