"""The model does not fit even its training data.

Critical when validation and training accuracy stay near chance: within 10%
of the gap between chance and perfect (our own threshold; chance is the
majority class of the validation set). A warning when the model got past
chance but its training accuracy has stopped short of halfway from chance
to perfect, and either stopped improving (under 2 points gained over the
last 30% of evaluations) or the run has ended there: too small a model, or
too constrained a one, cannot fit what it is shown. On the benchmark's
healthy set the lowest training accuracy is 86% on moons, against a bar of
75% there. For regression: the validation MSE is still at least 80% of the
variance of the target, i.e. barely better than predicting the mean.
Judged only after 30% of the planned steps.
"""

from __future__ import annotations

from engine.diagnosis.findings import Finding
from engine.diagnosis.metrics import RunMetrics
from engine.diagnosis.rules.base import Rule, check_fraction


class Underfitting(Rule):
    code = "underfitting"
    remedies = ["he_relu", "adam", "higher_lr", "wider", "longer"]

    def __init__(
        self,
        margin: float = 0.1,
        fit_share: float = 0.5,
        stalled: float = 0.02,
        mse_share: float = 0.8,
        after: float = 0.3,
    ):
        self.margin = check_fraction("margin", margin)
        self.fit_share = check_fraction("fit_share", fit_share)
        self.stalled = check_fraction("stalled", stalled)
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
                return self._short_of_fit(m, val, train)
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
        return self._regression(m)

    def _short_of_fit(self, m: RunMetrics, val, train) -> Finding | None:
        """Past chance, but stalled well short of fitting the training set."""
        assert m.chance_accuracy is not None
        if len(train) < 5:
            return None
        bar = m.chance_accuracy + self.fit_share * (1.0 - m.chance_accuracy)
        now = float(train.iloc[-1])
        window = train.iloc[-max(2, int(round(len(train) * 0.3))) :]
        gained = now - float(window.iloc[0])
        ended = m.last_step >= 0.9 * m.total_steps
        if now >= bar or (gained >= self.stalled and not ended):
            return None
        return self.finding(
            m,
            severity="warning",
            first_step=int(window.index[0]),
            message=(
                f"training accuracy {'ended' if ended and gained >= self.stalled else 'has stalled'} at {now:.0%} "
                f"(chance is {m.chance_accuracy:.0%}): the model cannot fit even the data it trains on. "
                "It is too small or too constrained for this task, or trained too briefly."
            ),
            train_accuracy=now,
            val_accuracy=float(val.iloc[-1]),
            chance_accuracy=m.chance_accuracy,
            threshold=bar,
            gained_recently=gained,
        )

    def _regression(self, m: RunMetrics) -> Finding | None:
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
