"""Torch-free names: every registry's entries, and the project's fixed vocabulary.

Each registry lives with its implementation; this module only gathers the
names so that :mod:`engine.config.recipe` (and so the app) can check them
without importing torch. The vocabulary below (run statuses, finding
severities and codes) is defined here and nowhere else.
"""

from __future__ import annotations

from engine.config.registry import ModuleRegistry

DATASETS = ModuleRegistry("dataset", "engine.datasets")
ARCHITECTURES = ModuleRegistry("architecture", "engine.models")
PROBES = ModuleRegistry("probe", "engine.training.probes")
RULES = ModuleRegistry("rule", "engine.diagnosis.rules")

#: Run statuses (DESIGN.md), in the order a run meets them. ``queued`` and ``running`` are live;
#: every other status is final.
STATUSES = (
    "queued",
    "running",
    "completed",
    "early_stopped",
    "pruned",  # a sweep's pruner stopped it: its intermediate results lagged the other trials'
    "diverged",
    "stopped",
    "failed",
    "crashed",
)
#: Statuses a run never leaves by itself (a stopped, crashed or failed run may be resumed by hand).
TERMINAL = frozenset(STATUSES[2:])

#: Finding severities, most severe first: the order findings are listed in.
SEVERITIES = ("critical", "warning", "info")
#: The severities that raise an alarm (an ``info`` finding reports, it does not warn).
ALARMS = ("critical", "warning")

#: The stable finding codes (DESIGN.md). Rules may only emit these.
CODES = (
    "vanishing_gradients",
    "exploding_gradients",
    "non_finite",
    "dead_units",
    "saturated_units",
    "overfitting",
    "underfitting",
    "loss_plateau",
    "unstable_loss",
    "input_bound",
)


def severity_rank(severity: str) -> int:
    """0 for the most severe; unknown severities sort last."""
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)


def optimizers() -> list[str]:
    """``train.optimizer`` names."""
    from engine.training.optimizers import OPTIMIZERS

    return OPTIMIZERS.names()


def schedules() -> list[str]:
    """``train.schedule`` names."""
    from engine.training.schedules import SCHEDULES

    return SCHEDULES.names()


def inits() -> list[str]:
    """``model.init`` names."""
    from engine.training.inits import INITS

    return INITS.names()


def activations() -> list[str]:
    """``model.activation`` names."""
    from engine.training.activations import ACTIVATIONS

    return ACTIVATIONS.names()


def augmentations() -> list[str]:
    """``data.augment`` names."""
    from engine.training.augment import AUGMENTATIONS

    return AUGMENTATIONS.names()
