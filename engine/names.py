"""Torch-free name lists of every registry, for validation and the UI.

Each registry lives with its implementation; this module only gathers the
names so that ``engine.recipe`` (and so the app) can check them without
importing torch.
"""
from __future__ import annotations

from engine.registry import ModuleRegistry

DATASETS = ModuleRegistry("dataset", "engine.datasets")
ARCHITECTURES = ModuleRegistry("architecture", "engine.models")
PROBES = ModuleRegistry("probe", "engine.probes", skip=("base", "packed"))  # helpers, not probes


def optimizers() -> list[str]:
    from engine.optimizers import OPTIMIZERS

    return OPTIMIZERS.names()


def schedules() -> list[str]:
    from engine.schedules import SCHEDULES

    return SCHEDULES.names()


def inits() -> list[str]:
    from engine.inits import INITS

    return INITS.names()


def activations() -> list[str]:
    from engine.activations import ACTIVATIONS

    return ACTIVATIONS.names()


def augmentations() -> list[str]:
    from engine.augment import AUGMENTATIONS

    return AUGMENTATIONS.names()
