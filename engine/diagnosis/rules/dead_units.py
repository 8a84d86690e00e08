"""A large share of a ReLU-family layer's units never fire.

Thresholds from SageMaker Debugger: a layer is flagged when more than 50% of
its units are dead; AutoTrainer uses 70% of zero gradients for "dying
ReLU". A unit counts as dead on a batch when it outputs <= 0 for every
sample; we require the layer to be over the threshold on every sampled
batch of the recent window, so one odd batch cannot raise the alarm.
"""

from __future__ import annotations

from engine.diagnosis.findings import Finding
from engine.diagnosis.metrics import RunMetrics
from engine.diagnosis.rules.base import Rule, check_fraction, check_positive, recent, span


class DeadUnits(Rule):
    code = "dead_units"
    remedies = ["lower_lr", "leaky_relu", "he_init", "batch_norm"]

    def __init__(self, fraction: float = 0.5, critical: float = 0.9, min_records: int = 3):
        self.fraction = check_fraction("fraction", fraction)
        self.critical = check_fraction("critical", critical)
        self.min_records = int(check_positive("min_records", min_records))

    def check(self, m: RunMetrics) -> Finding | None:
        dead = m.stat("dead_fraction").dropna(axis=1, how="all")
        if m.diverged_step is not None:  # NaN activations are not dead or saturated units
            dead = dead.loc[: m.diverged_step - 1]
        if dead.empty or len(dead) < self.min_records:
            return None
        window = recent(dead, 0.25, self.min_records)
        floor = window.min(axis=0)  # dead on every sampled batch
        flagged = floor[floor > self.fraction]
        if flagged.empty:
            return None
        layers = list(flagged.index)
        over = (dead[layers] > self.fraction).all(axis=1)
        first_step = int(over[over].index[0]) if over.any() else int(window.index[0])
        worst = float(flagged.max())
        return self.finding(
            m,
            severity="critical" if worst >= self.critical else "warning",
            first_step=first_step,
            layers=layers,
            message=(
                f"{worst:.0%} of the units in {flagged.idxmax()} never fire"
                + (f" (and {len(layers) - 1} more layers are over {self.fraction:.0%})" if len(layers) > 1 else "")
                + ": dead units pass no gradient, so they never recover."
            ),
            dead_fraction={k: float(v) for k, v in flagged.items()},
            threshold=self.fraction,
            layers_span=span(layers),
        )
