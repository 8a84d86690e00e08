"""The rule contract, shaped like Optuna's pruners.

A rule validates its thresholds in ``__init__`` and has one pure
``check(metrics) -> Finding | None`` with early returns. ``RunMetrics`` is
plain pandas/numpy: rules never see torch or the store, so they are tested
on synthetic tables as easily as on real runs.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd

from engine.config.names import CODES
from engine.diagnosis import remedies
from engine.diagnosis.findings import Finding
from engine.diagnosis.metrics import RunMetrics


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
    """Base class: subclasses set ``code`` and ``remedies`` (names in order of preference) and implement ``check``.

    Both are checked when the subclass is defined: an unknown finding code or a
    misspelt remedy fails at import, naming the rule, not later inside a worker.
    """

    code: ClassVar[str]
    remedies: ClassVar[list[str]] = []

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        where = f"rule {cls.__module__}.{cls.__qualname__}"
        if getattr(cls, "code", None) not in CODES:
            raise TypeError(
                f"{where}: code must be one of the finding codes ({', '.join(CODES)}), "
                f"got {getattr(cls, 'code', None)!r}"
            )
        unknown = [r for r in cls.remedies if r not in remedies.REMEDIES]
        if unknown:
            raise TypeError(
                f"{where}: unknown remedy {', '.join(map(repr, unknown))}; "
                f"known: {', '.join(remedies.REMEDIES.names())}"
            )

    def check(self, m: RunMetrics) -> Finding | None:  # pragma: no cover - interface
        """The finding this rule makes on ``m``, or None."""
        raise NotImplementedError

    def finding(
        self,
        m: RunMetrics,
        *,
        severity: str,
        first_step: int,
        message: str,
        layers: list[str] | None = None,
        **evidence: Any,
    ) -> Finding:
        return Finding(
            code=self.code,
            severity=severity,
            first_step=int(first_step),
            message=message,
            layers=list(layers or []),
            evidence={k: _plain(v) for k, v in evidence.items()},
            # remedies: ranked by engine.diagnosis.diagnose, which knows the run's other findings too
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
