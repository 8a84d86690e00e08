"""The rule contract, shaped like Optuna's pruners.

A rule validates its thresholds in ``__init__`` and has one pure
``check(metrics) -> Finding | None`` with early returns. ``RunMetrics`` is
plain pandas/numpy: rules never see torch or the store, so they are tested
on synthetic tables as easily as on real runs.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Optional

import numpy as np
import pandas as pd

from engine import remedies
from engine.findings import Finding


@dataclass
class RunMetrics:
    """Everything a rule may read about one run."""

    scalars: pd.DataFrame  # index: step; columns: train_loss, val_loss, val_accuracy, ...
    layers: dict[str, pd.DataFrame]  # stat -> index: step, columns: layer names input -> output
    recipe: dict[str, Any]
    task: str = "classification"
    chance_accuracy: Optional[float] = None
    target_variance: Optional[float] = None  # regression: the MSE of predicting the mean
    act_families: dict[str, str] = field(default_factory=dict)  # activation layer -> family
    total_steps: int = 0
    diverged_step: Optional[int] = None  # the recorder saw a non-finite loss here

    def series(self, name: str) -> pd.Series:
        """A scalar metric without its gaps (empty when never recorded)."""
        if name not in self.scalars.columns:
            return pd.Series(dtype=float)
        return self.scalars[name].dropna()

    def stat(self, name: str) -> pd.DataFrame:
        return self.layers.get(name, pd.DataFrame())

    @property
    def last_step(self) -> int:
        return int(self.scalars.index.max()) if len(self.scalars.index) else 0


def recent(frame: pd.DataFrame | pd.Series, share: float = 0.25, at_least: int = 5):
    """The last ``share`` of the rows, but at least ``at_least`` of them."""
    n = max(at_least, int(np.ceil(len(frame) * share)))
    return frame.iloc[-n:]


def check_fraction(name: str, value: float) -> float:
    if not 0.0 < value <= 1.0:
        raise ValueError(f"{name} must be in (0, 1], got {value}")
    return value


def check_positive(name: str, value: float) -> float:
    if not value > 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    return value


def span(layers: list[str]) -> str:
    """'layers.0–layers.12' for a run of names, or the names joined."""
    if not layers:
        return ""
    if len(layers) <= 2:
        return " and ".join(layers)
    return f"{layers[0]}–{layers[-1]} ({len(layers)} layers)"


def power_of_ten(x: float) -> str:
    """1.3e-9 -> '10⁻⁹', for messages a student can read."""
    sup = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
    if not np.isfinite(x) or x <= 0:
        return f"{x:.1e}"
    return "10" + str(int(np.round(np.log10(x)))).translate(sup)


class Rule:
    """Base class: subclasses set ``code``, ``remedies`` and implement ``check``."""

    code: ClassVar[str]
    remedies: ClassVar[list[str]] = []

    def check(self, m: RunMetrics) -> Optional[Finding]:  # pragma: no cover - interface
        raise NotImplementedError

    def finding(self, m: RunMetrics, *, severity: str, first_step: int, message: str,
                layers: list[str] | None = None, **evidence: Any) -> Finding:
        return Finding(
            code=self.code,
            severity=severity,
            first_step=int(first_step),
            message=message,
            layers=list(layers or []),
            evidence={k: _plain(v) for k, v in evidence.items()},
            remedies=remedies.ranked(self.remedies, m.recipe),
        )


def _plain(v: Any) -> Any:
    if isinstance(v, (np.floating, float)):
        return float(f"{float(v):.4g}") if np.isfinite(v) else None
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v
