"""Which number heads a run: the one a comparison, a lesson and a summary judge it by.

Classification runs are judged by validation accuracy (higher is better),
regression runs by validation MSE, and models with an objective of their own
(a GAN's MMD) by their validation loss (both lower is better). This module is
the one place that says so.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Headline:
    """The headline metric of a run."""

    name: str  # "val_accuracy", "val_mse" or "val_loss": the key in a run's final metrics
    higher_is_better: bool

    @property
    def column(self) -> str:
        """The stored scalar to compare across runs: val_accuracy, else val_loss (a regression's
        val_mse is its val_loss, so runs of any loss-judged kind compare on one column)."""
        return "val_accuracy" if self.name == "val_accuracy" else "val_loss"


ACCURACY = Headline("val_accuracy", True)
MSE = Headline("val_mse", False)
LOSS = Headline("val_loss", False)


def headline(metrics: Iterable[str], task: str | None = None) -> Headline:
    """The headline among the metric names a run recorded; from ``task`` when it recorded none yet."""
    present = set(metrics)
    if "val_accuracy" in present:
        return ACCURACY
    if "val_mse" in present:
        return MSE
    if "val_loss" in present:
        return LOSS
    return ACCURACY if task in (None, "classification") else MSE


#: Recorded metrics where a larger value is better. Every other one (a loss, an MSE, a GAN's MMD)
#: is better small: what a sweep maximises or minimises, from the metric's name alone.
HIGHER_IS_BETTER = frozenset({"val_accuracy", "anomaly_auc", "mode_coverage"})


def higher_is_better(name: str) -> bool:
    """True for a metric to maximise (accuracy, AUC, mode coverage), False for one to minimise."""
    return name in HIGHER_IS_BETTER
