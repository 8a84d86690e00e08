"""The training loss has stopped improving while it is still high.

Our own thresholds (published tools leave this to the user): over the last
30% of the run (at least 200 steps), the mean loss of the window's last
third is less than 2% below that of its first third, or below it by less
than twice the standard error of that difference (minibatch noise alone can
move a flat loss by a few percent either way); and the loss is still above
half of where it started, so a converged run is not mistaken for a stuck
one. Adversarial runs (a GAN logs ``disc_loss``) are
skipped: their losses hover at an equilibrium by design.
"""

from __future__ import annotations

import numpy as np

from engine.diagnosis.findings import Finding
from engine.diagnosis.metrics import RunMetrics
from engine.diagnosis.rules.base import Rule, check_fraction, check_positive


class LossPlateau(Rule):
    code = "loss_plateau"
    remedies = ["batch_norm", "he_relu", "adam", "higher_lr", "find_lr"]

    def __init__(self, window: float = 0.3, min_steps: int = 200, improvement: float = 0.02, still_high: float = 0.5):
        self.window = check_fraction("window", window)
        self.min_steps = int(check_positive("min_steps", min_steps))
        self.improvement = check_fraction("improvement", improvement)
        self.still_high = check_fraction("still_high", still_high)

    def check(self, m: RunMetrics) -> Finding | None:
        if len(m.series("disc_loss")):
            return None
        loss = m.series("train_loss")
        if len(loss) < 2 * self.min_steps:
            return None
        smooth = loss.rolling(max(10, len(loss) // 50), min_periods=1).median()
        start = float(smooth.iloc[min(len(smooth) - 1, max(10, len(loss) // 50))])
        span_steps = max(self.min_steps, int(len(loss) * self.window))
        window = loss.iloc[-span_steps:]
        third = len(window) // 3
        early, late = window.iloc[:third], window.iloc[-third:]
        then, now = float(early.mean()), float(late.mean())
        if then <= 0 or start <= 0 or not np.isfinite(then + now):
            return None
        gain = (then - now) / then
        noise = float(np.sqrt(early.var() / len(early) + late.var() / len(late))) / then
        if gain >= max(self.improvement, 2.0 * noise) or now < self.still_high * start:
            return None
        return self.finding(
            m,
            severity="warning",
            first_step=int(smooth.index[-span_steps]),
            message=(
                f"the training loss has been flat at about {now:.3g} for the last {span_steps} steps "
                f"(started at {start:.3g}): the optimizer is stuck."
            ),
            loss_now=now,
            loss_window_start=then,
            loss_at_start=start,
            improvement=gain,
            improvement_noise=noise,
            window_steps=span_steps,
        )
