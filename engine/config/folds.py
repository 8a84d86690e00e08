"""``data.fold``: which cross-validation fold a run trains on (one run per fold; ``gradclinic cv``).

A run with a fold holds out fold ``index`` of ``folds`` (repeat ``repeat`` of ``repeats``) as its
validation set and trains on the rest; ``data.val_fraction`` is then unused. The folds
themselves are scikit-learn's (:mod:`engine.datasets.folds`), shuffled by the recipe's seed, so
every variant of a comparison run with the same seed sees the same folds.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from engine.config import limits

__all__ = ["FoldSpec"]


class FoldSpec(BaseModel):
    """One fold of a (repeated, optionally stratified) k-fold split."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    folds: int = Field(5, ge=2, le=limits.MAX_FOLDS)
    index: int = Field(0, ge=0)
    stratified: bool = False
    repeats: int = Field(1, ge=1, le=limits.MAX_REPEATS)
    repeat: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _inside(self) -> FoldSpec:
        if self.index >= self.folds:
            raise ValueError(f"index {self.index} is not a fold of {self.folds} (0 to {self.folds - 1})")
        if self.repeat >= self.repeats:
            raise ValueError(f"repeat {self.repeat} is not one of {self.repeats} (0 to {self.repeats - 1})")
        return self

    @property
    def label(self) -> str:
        """``fold 2/5`` (``r2 fold 2/5`` in a repeated split), one-based as people count."""
        fold = f"fold {self.index + 1}/{self.folds}"
        return fold if self.repeats == 1 else f"r{self.repeat + 1} {fold}"
