"""Sigmoid/tanh outputs pinned near their bounds, where the slope is ~0.

Thresholds: DeepDiagnosis (Wardat et al., ICSE 2022) flags saturation when
more than 50% of a layer's inputs are beyond ±5; SageMaker Debugger flags a
layer when more than 50% of its units are saturated. Our probe reads the
outputs (within 1% of the range of a bound, the same region), and we take
the median over the recent window.
"""

from __future__ import annotations

from engine.diagnosis.findings import Finding
from engine.diagnosis.metrics import RunMetrics
from engine.diagnosis.rules.base import Rule, check_fraction, check_positive, recent


class SaturatedUnits(Rule):
    code = "saturated_units"
    remedies = ["relu", "xavier_init", "batch_norm"]

    def __init__(self, fraction: float = 0.5, critical: float = 0.8, min_records: int = 3):
        self.fraction = check_fraction("fraction", fraction)
        self.critical = check_fraction("critical", critical)
        self.min_records = int(check_positive("min_records", min_records))

    def check(self, m: RunMetrics) -> Finding | None:
        sat = m.stat("saturated_fraction").dropna(axis=1, how="all")
        if m.diverged_step is not None:  # NaN activations are not dead or saturated units
            sat = sat.loc[: m.diverged_step - 1]
        if sat.empty or len(sat) < self.min_records:
            return None
        med = recent(sat, 0.25, self.min_records).median(axis=0)
        flagged = med[med > self.fraction]
        if flagged.empty:
            return None
        layers = list(flagged.index)
        over = (sat[layers] > self.fraction).any(axis=1)
        first_step = int(over[over].index[0])
        worst = float(flagged.max())
        return self.finding(
            m,
            severity="critical" if worst >= self.critical else "warning",
            first_step=first_step,
            layers=layers,
            message=(
                f"{worst:.0%} of {flagged.idxmax()}'s outputs sit at the flat ends of the activation"
                f"{f' ({len(layers)} layers affected)' if len(layers) > 1 else ''}: "
                "their slope is near zero, so almost no gradient passes."
            ),
            saturated_fraction={k: float(v) for k, v in flagged.items()},
            threshold=self.fraction,
        )
