"""Activation registry: ``model.activation`` name -> Activation(factory, family, gain).

``family`` tells the activation probes what "unhealthy" means: ``relu`` units
can die (never positive), ``saturating`` units can saturate (stuck near their
bounds, where the derivative vanishes).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.config.registry import Registry

if TYPE_CHECKING:
    import torch.nn as nn

ACTIVATIONS = Registry("activation")


@dataclass(frozen=True)
class Activation:
    name: str
    family: str  # "relu" | "saturating" | "smooth"
    gain_name: str  # the name torch.nn.init.calculate_gain knows
    factory: Callable[[], nn.Module]


def _add(name: str, family: str, gain_name: str, cls_name: str, **kwargs) -> None:
    def factory():
        import torch.nn as nn

        return getattr(nn, cls_name)(**kwargs)

    ACTIVATIONS.register(name)(Activation(name, family, gain_name, factory))


_add("relu", "relu", "relu", "ReLU")
# Leaky/ELU/SELU/GELU units keep a gradient for negative inputs, so they cannot "die": counting
# their negative outputs as dead raised false dead_units findings (seen on leaky_relu GANs).
_add("leaky_relu", "smooth", "leaky_relu", "LeakyReLU", negative_slope=0.01)
_add("elu", "smooth", "relu", "ELU")
_add("selu", "smooth", "selu", "SELU")
_add("gelu", "smooth", "relu", "GELU")
_add("tanh", "saturating", "tanh", "Tanh")
_add("sigmoid", "saturating", "sigmoid", "Sigmoid")


def get(name: str) -> Activation:
    """The registered activation called ``name``."""
    return ACTIVATIONS.get(name)
