"""The loss keeps jumping back up toward where it started: too high a learning rate.

Our own thresholds: in the second half of the run, a step's loss is a
spike when it is more than 3x the median of the 50 steps before it and
above a fifth of the initial loss (so the noise of a loss near zero
does not count: a fifth, not a half, because a net that relapses from 0.03
to 0.3 again and again is unstable too, and no healthy benchmark run
spikes that high that late). More than 2% spikes is a warning.
"""

from __future__ import annotations

import numpy as np

from engine.diagnosis.findings import Finding
from engine.diagnosis.metrics import RunMetrics
from engine.diagnosis.rules.base import Rule, check_fraction, check_positive


class UnstableLoss(Rule):
    code = "unstable_loss"
    remedies = ["lower_lr", "schedule", "adam", "clip_norm", "find_lr"]

    def __init__(self, jump: float = 3.0, share: float = 0.02, floor: float = 0.2, min_steps: int = 200):
        self.jump = check_positive("jump", jump)
        self.share = check_fraction("share", share)
        self.floor = check_fraction("floor", floor)
        self.min_steps = int(check_positive("min_steps", min_steps))

    def check(self, m: RunMetrics) -> Finding | None:
        loss = m.series("train_loss")
        loss = loss[np.isfinite(loss)]
        if len(loss) < self.min_steps:
            return None
        start = float(loss.iloc[: max(5, len(loss) // 50)].median())
        base = loss.rolling(50, min_periods=10).median().shift(1)
        spikes = (loss > self.jump * base) & (loss > self.floor * start)
        second_half = spikes.iloc[len(spikes) // 2 :]
        share = float(second_half.mean())
        if share <= self.share:
            return None
        first = spikes[spikes]
        return self.finding(
            m,
            severity="warning",
            first_step=int(first.index[0]),
            message=(
                f"{share:.0%} of recent steps spike to over {self.jump:.0f}x the loss just before them: "
                "the learning rate is too high for this model."
            ),
            spike_share=share,
            spikes=int(second_half.sum()),
            threshold=self.share,
            initial_loss=start,
        )
