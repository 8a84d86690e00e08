"""Share of a ReLU-family layer's units that never fire on the batch.

A unit is dead on a batch when its output is <= 0 for every sample (and
every position): exactly zero for ReLU, negative for leaky/ELU-style units.
A unit is a feature of a dense layer, a channel of a conv layer, or a hidden
unit of a recurrent layer (last dim of (N, T, H)). NaN for other families.
"""

from __future__ import annotations

import torch

from engine.training.events import Event
from engine.training.probing.base import Probe
from engine.training.probing.context import ProbeContext


def dead_units(a: torch.Tensor) -> torch.Tensor:
    """Fraction of units of ``a`` that are <= 0 for every sample."""
    unit_dim = a.ndim - 1 if a.ndim == 3 else 1
    alive = (a > 0).transpose(0, unit_dim).reshape(a.shape[unit_dim], -1).any(dim=1)
    return 1.0 - alive.float().mean()


class DeadFraction(Probe):
    name = "dead_fraction"
    event = Event.AFTER_FORWARD
    group = "activations"
    scope = "activation"
    description = "share of units that output <= 0 for the whole batch"

    def compute(self, ctx: ProbeContext) -> torch.Tensor:
        return ctx.act_dead_fraction()
