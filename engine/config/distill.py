"""``distill:``: train this recipe's model as a student of an earlier run (Hinton et al. 2015).

The student learns from the teacher's class probabilities softened at ``temperature`` as
well as from the labels: its loss is ``alpha`` x T² x KL(teacher_T || student_T) plus
(1 - alpha) x the usual cross-entropy. The T² keeps the soft term's gradients on the scale
of the hard one's as T grows. The teacher is a stored run with saved weights, on the same data.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["DistillSpec"]

_RUN_ID = re.compile(r"[0-9a-f]{8}")


class DistillSpec(BaseModel):
    """Whom to learn from, and how soft."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    teacher: str = Field(min_length=8, max_length=8)  # a run id of the same store
    temperature: float = Field(4.0, ge=1.0, le=50.0)
    alpha: float = Field(0.7, ge=0.0, le=1.0)  # the soft targets' share of the loss
    checkpoint: Literal["last", "best"] = "last"

    @field_validator("teacher", mode="before")
    @classmethod
    def _digits_are_an_id(cls, v: object) -> object:
        # --set reads its value as YAML: a run id of eight digits arrives as a number.
        return f"{v:08d}" if isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 10**8 else v

    @field_validator("teacher")
    @classmethod
    def _run_id(cls, v: str) -> str:
        if not _RUN_ID.fullmatch(v):
            raise ValueError(f"give the teacher's run id (8 lowercase hex characters), not {v!r}")
        return v
