"""The share of weights near zero, recorded at each evaluation of a regularised run.

An L1 penalty (and, more gently, weight decay) drives weights to zero; this is
the number that shows it, as the scalar ``weights_near_zero``.
"""
from __future__ import annotations

#: A weight counts as "near zero" below this magnitude: an L1 penalty
#: leaves pruned weights jittering around zero at about this size.
NEAR_ZERO = 1e-3


def wanted(recipe) -> bool:
    """Regularised runs record it, and so does every run of a lesson that compares a regulariser
    (its baseline needs the number to compare against); elsewhere nobody asked for it."""
    keys = ("train.l1", "train.weight_decay")
    return (recipe.train.l1 > 0 or recipe.train.weight_decay > 0
            or any(k in v.set for v in recipe.compare for k in keys))


class NearZeroWeights:
    """At each evaluation, store the share of weights with ``|w| < threshold`` as ``weights_near_zero``.

    Weight matrices and kernels of :meth:`param_layers` only (no biases or
    norm scales): what an L1 penalty drives to zero. It is a trainer
    callback, written straight to the store after the evaluation.
    """

    def __init__(self, store, run_id: str, threshold: float = NEAR_ZERO):
        self.store, self.run_id, self.threshold = store, run_id, threshold

    def on(self, event, state) -> None:
        if event.value != "after_eval":
            return
        import torch

        with torch.no_grad():
            params = [p for _, p in state.model.param_layers()]
            small = sum(int((p.abs() < self.threshold).sum()) for p in params)
            total = sum(p.numel() for p in params)
        if total:
            self.store.flush(self.run_id, scalars=[(state.step, "weights_near_zero", small / total)], step=state.step)


