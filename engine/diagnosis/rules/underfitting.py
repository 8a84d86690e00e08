"""Both losses stay high, with accuracy near chance after a fair number of steps.

"Near chance": validation and training accuracy within 10% of the gap
between chance and perfect (our own threshold; chance is the majority
class of the validation set). For regression: the validation MSE is still
at least 80% of the variance of the target, i.e. barely better than
predicting the mean. Judged only after 30% of the planned steps.
"""

from __future__ import annotations

from engine.diagnosis.findings import Finding
from engine.diagnosis.metrics import RunMetrics
from engine.diagnosis.rules.base import Rule, check_fraction


class Underfitting(Rule):
    code = "underfitting"
    remedies = ["he_relu", "adam", "higher_lr", "wider", "longer"]

    def __init__(self, margin: float = 0.1, mse_share: float = 0.8, after: float = 0.3):
        self.margin = check_fraction("margin", margin)
        self.mse_share = check_fraction("mse_share", mse_share)
        self.after = check_fraction("after", after)

    def check(self, m: RunMetrics) -> Finding | None:
        if m.last_step < self.after * max(m.total_steps, 1) or m.last_step < 100:
            return None
        if m.task == "classification":
            val, train = m.series("val_accuracy"), m.series("train_accuracy")
            if len(val) < 3 or m.chance_accuracy is None:
                return None
            bar = m.chance_accuracy + self.margin * (1.0 - m.chance_accuracy)
            if float(val.iloc[-1]) > bar or (len(train) and float(train.iloc[-1]) > bar):
                return None
            stuck = val[val <= bar]
            return self.finding(
                m,
                severity="critical",
                first_step=int(stuck.index[0]),
                message=(
                    f"after {m.last_step} steps, validation accuracy is {float(val.iloc[-1]):.0%}, "
                    f"about chance ({m.chance_accuracy:.0%}): the model has learned almost nothing."
                ),
                val_accuracy=float(val.iloc[-1]),
                chance_accuracy=m.chance_accuracy,
                threshold=bar,
            )
        val = m.series("val_loss")
        if len(val) < 3 or not m.target_variance:
            return None
        share = float(val.iloc[-1]) / m.target_variance
        if share < self.mse_share:
            return None
        return self.finding(
            m,
            severity="warning",
            first_step=int(val.index[0]),
            message=(
                f"after {m.last_step} steps the validation error is {share:.0%} of the target's variance: "
                "no better than always predicting the average."
            ),
            val_mse=float(val.iloc[-1]),
            target_variance=m.target_variance,
            share=share,
        )
