"""Magnitude pruning with ``torch.nn.utils.prune``, made permanent.

Unstructured pruning is global: ``global_unstructured`` with the L1 criterion over every weight
layer the model lists (:meth:`engine.models.base.ClinicModel.param_layers`), so the smallest
weights go first wherever they are, and a layer with many redundant weights loses more of them
than a small, busy one. Structured pruning removes whole units: ``ln_structured`` (L2 norm,
``dim=0``) takes the weakest rows of every hidden ``nn.Linear`` (its units) and the weakest output
channels of every ``nn.Conv2d``, the same share in each layer. The head is left whole there: its
rows are the model's outputs (the classes). ``prune.remove`` then makes the zeros permanent, so
the model is an ordinary one again (its state_dict, the probes and ``gradclinic explain`` see
plain weights); the masks are kept for fine-tuning (:class:`KeepMasks`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn as nn
from torch.nn.utils import prune as tprune

from engine.training.events import Callback

#: What structured pruning removes a unit of (rows of a Linear, output channels of a Conv2d).
STRUCTURED = (nn.Linear, nn.Conv2d)


@dataclass
class Pruned:
    """What one pruning did to a model."""

    amount: float  # the share asked for: of all weights (unstructured), of each layer's units (structured)
    structured: bool
    sparsity: float  # zeros among all the weight layers' entries, the head included
    layers: dict[str, float]  # each weight layer's share of zeros, input to output
    masks: dict[str, torch.Tensor] = field(repr=False, default_factory=dict)  # True where a weight is kept

    def as_dict(self) -> dict:
        """JSON-ready: the amount, the global sparsity and the per-layer sparsity (no masks)."""
        return {
            "amount": self.amount,
            "structured": self.structured,
            "sparsity": self.sparsity,
            "layers": self.layers,
        }


def weight_slots(model: nn.Module) -> list[tuple[str, nn.Module, str]]:
    """``(layer name, module, parameter name)`` for each of the model's weight layers.

    ``param_layers`` names parameters; pruning needs the module that owns each one (an LSTM's
    ``weight_hh_l0`` lives on the ``nn.LSTM``), found by identity.
    """
    owner: dict[int, tuple[nn.Module, str]] = {}
    for module in model.modules():
        for pname, p in module.named_parameters(recurse=False):
            owner[id(p)] = (module, pname)
    slots = []
    for name, p in model.param_layers():  # type: ignore[operator]
        module, pname = owner[id(p)]
        slots.append((name, module, pname))
    return slots


def prune(model: nn.Module, amount: float, structured: bool = False) -> Pruned:
    """Prune ``model`` in place: ``amount`` of its weights by magnitude (or of each hidden layer's units)."""
    if not 0.0 < amount < 1.0:
        raise ValueError(f"amount must be in (0, 1), got {amount}")
    slots = weight_slots(model)
    targets: list[tuple[str, nn.Module, str]]
    if structured:
        # The last weight layer is the head; its rows are the outputs, which must all stay.
        targets = [(n, m, p) for n, m, p in slots[:-1] if isinstance(m, STRUCTURED) and p == "weight"]
        if not targets:
            raise ValueError("this model has no hidden Linear or Conv2d layer to remove units from")
        for _, module, pname in targets:
            tprune.ln_structured(module, pname, amount=amount, n=2, dim=0)
    else:
        targets = slots
        tprune.global_unstructured([(m, p) for _, m, p in targets], pruning_method=tprune.L1Unstructured, amount=amount)
    masks = {name: getattr(module, f"{pname}_mask").detach().bool().clone() for name, module, pname in targets}
    for _, module, pname in targets:
        tprune.remove(module, pname)  # weight = weight_orig * mask, as a plain parameter again
    return Pruned(amount, structured, *sparsity(model), masks=masks)


@torch.no_grad()
def sparsity(model: nn.Module) -> tuple[float, dict[str, float]]:
    """(zeros among all weight-layer entries, {layer: its share of zeros})."""
    layers, zeros, total = {}, 0, 0
    for name, p in model.param_layers():  # type: ignore[operator]
        z = int((p == 0).sum())
        layers[name] = z / p.numel()
        zeros, total = zeros + z, total + p.numel()
    return zeros / max(total, 1), layers


class KeepMasks(Callback):
    """Fine-tuning a pruned model: the pruned weights stay zero.

    Their gradients are zeroed once the probes have seen them, so no optimizer moves them (Adam,
    momentum and weight decay all leave a zero with a zero gradient and fresh state at zero), and
    they are set to zero again after every update in case one does. With the zeros in place at
    every forward pass the kept weights follow exactly the gradients they would under
    ``torch.nn.utils.prune``'s own ``weight_orig * mask``, while the model keeps its plain
    parameter names for the probes, the checkpoints and ``gradclinic explain``.
    """

    def __init__(self, model: nn.Module, masks: dict[str, torch.Tensor]):
        params = dict(model.param_layers())  # type: ignore[operator]
        self.pairs = [(params[name], mask) for name, mask in masks.items()]

    def _on_device(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        if any(m.device != p.device for p, m in self.pairs):  # the trainer moved the model after we were made
            self.pairs = [(p, m.to(p.device)) for p, m in self.pairs]
        return self.pairs

    @torch.no_grad()
    def after_backward(self, state) -> None:
        for p, mask in self._on_device():
            if p.grad is not None:
                p.grad.mul_(mask)

    @torch.no_grad()
    def after_step(self, state) -> None:
        for p, mask in self._on_device():
            p.mul_(mask)
