"""Share of a model's weights that are near zero: what an L1 penalty (and, more gently, weight decay) does.

Measured at each evaluation over the weight matrices and kernels the other
parameter probes see (biases and norm scales excluded: an L1 penalty on them
is not what a student looks for), and stored as the scalar
``weights_near_zero``. A weight counts as near zero below :data:`NEAR_ZERO`:
an L1 penalty leaves pruned weights jittering around zero at about that size.
"""

from __future__ import annotations

import torch

from engine.config.recipe import Recipe
from engine.training.events import Event
from engine.training.probing.base import Probe
from engine.training.probing.context import ProbeContext

NEAR_ZERO = 1e-3
#: The recipe keys whose value this number shows.
REGULARISERS = ("train.l1", "train.weight_decay")


class WeightsNearZero(Probe):
    name = "weights_near_zero"
    event = Event.AFTER_EVAL
    group = "weights"
    scope = "model"
    description = f"share of weights with |w| < {NEAR_ZERO:g} (what an L1 penalty drives to zero)"

    @classmethod
    def wanted(cls, recipe: Recipe) -> bool:
        """Regularised runs record it, and so does every run of a lesson that compares a regulariser
        (its baseline needs the number to compare against); elsewhere nobody asked for it."""
        return (
            recipe.train.l1 > 0
            or recipe.train.weight_decay > 0
            or any(k in v.set for v in recipe.compare for k in REGULARISERS)
        )

    def compute(self, ctx: ProbeContext) -> torch.Tensor:
        with torch.no_grad():
            small = torch.stack([(p.detach().abs() < NEAR_ZERO).sum() for p in ctx.params]).sum()
            total = sum(p.numel() for p in ctx.params)
        return (small.float() / max(total, 1)).reshape(1)
