"""``ensemble:``: train several networks and combine them (``gradclinic ensemble``).

``bagging`` trains each member on its own bootstrap sample of the training rows (and its own
seed) and averages their class probabilities, or their predictions for regression.
``boosting`` is multi-class AdaBoost (SAMME; Zhu, Zou, Rosset and Hastie 2009): each member
trains on the same rows re-weighted towards those the members before it got wrong, through a
per-sample weighted loss, and the ensemble is their vote weighted by each member's accuracy.
Every member is a run of its own (probes, findings, Live view) in the ensemble's group; the
members share one validation split (``data.seed``), so the ensemble is scored on the same rows.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from engine.config import limits

__all__ = ["METHODS", "EnsembleSpec"]

METHODS = ("bagging", "boosting")


class EnsembleSpec(BaseModel):
    """How many networks, combined how."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    method: Literal["bagging", "boosting"] = "bagging"
    members: int = Field(5, ge=2, le=limits.MAX_MEMBERS)
