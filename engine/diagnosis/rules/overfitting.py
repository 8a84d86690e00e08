"""Validation loss climbs while training loss keeps falling.

SageMaker Debugger's overfit rule compares (val - train) / train with 0.1;
with train losses near zero that ratio explodes on healthy runs, so we use
the rise of the validation loss above its own best instead: warning when it
has stayed 25% above it (info from 10%) over the last two evaluations.

A relative rise alone is noise on a well-fitted net, whose tiny validation
loss can double (0.011 to 0.022) without meaning anything. So the rise must
also be large against the validation loss's own step-to-step noise (three
times its robust spread between evaluations, and at least 0.01), and the
training loss must really have fallen since the best evaluation (by 10% or
more). Memorising is all three at once.

A net that has memorised its training set (training loss under 5% of the
validation loss) with a validation loss at least 0.2 above it is warned
about even when its validation loss creeps up only slowly: the gap itself
is the finding. On the benchmark's healthy set that gap never passes 0.13;
on its overfitting cases it is 0.23 to 2.

Rules know the remedy in force: when early stopping ended the run, it
caught the overfitting and kept the best weights, so the finding is an
``info`` that says where, not a warning that the fix did not work.
"""

from __future__ import annotations

from engine.diagnosis.findings import Finding
from engine.diagnosis.metrics import RunMetrics
from engine.diagnosis.rules.base import Rule, check_fraction, check_positive


class Overfitting(Rule):
    code = "overfitting"
    remedies = ["more_data", "dropout", "weight_decay", "augmentation", "early_stopping"]

    def __init__(
        self,
        rise: float = 0.25,
        info_rise: float = 0.1,
        min_evals: int = 5,
        patience: int = 2,
        noise_multiple: float = 3.0,
        min_gap: float = 0.01,
        train_drop: float = 0.1,
        memorised_gap: float = 0.2,
        memorised_share: float = 0.05,
    ):
        self.rise = check_positive("rise", rise)
        self.info_rise = check_positive("info_rise", info_rise)
        self.min_evals = int(check_positive("min_evals", min_evals))
        self.patience = int(check_positive("patience", patience))
        self.noise_multiple = check_positive("noise_multiple", noise_multiple)
        self.min_gap = check_positive("min_gap", min_gap)
        self.train_drop = check_fraction("train_drop", train_drop)
        self.memorised_gap = check_positive("memorised_gap", memorised_gap)
        self.memorised_share = check_fraction("memorised_share", memorised_share)

    def check(self, m: RunMetrics) -> Finding | None:
        val = m.series("val_loss")
        train = m.series("train_eval_loss")
        if len(val) < self.min_evals or len(train) < self.min_evals:
            return None
        best_step = int(val.idxmin())
        best = float(val.min())
        after = val.loc[best_step:]
        if len(after) <= self.patience or best <= 0:
            return None
        rise = float(after.iloc[-1]) / best - 1.0
        sustained = float(after.iloc[-self.patience :].min()) / best - 1.0
        train_then, train_now = float(train.loc[:best_step].iloc[-1]), float(train.iloc[-1])
        gap = float(val.iloc[-1]) - train_now
        memorised = gap >= self.memorised_gap and train_now <= self.memorised_share * float(val.iloc[-1])
        if (sustained < self.info_rise and not memorised) or train_now > train_then * (1.0 - self.train_drop):
            return None  # no relative rise and no memorised gap, or the training loss did not really fall
        # The validation loss's spread between consecutive evaluations (MAD of the differences, as a std).
        noise = 1.4826 * float((val.diff().abs().dropna()).median()) / 2**0.5
        risen_by = float(after.iloc[-self.patience :].min()) - best
        if risen_by < max(self.noise_multiple * noise, 0.0 if memorised else self.min_gap):
            return None  # a rise within the loss's own noise (a memorised gap is large by itself)
        crossed = after[after / best - 1.0 >= min(self.info_rise, max(rise, 0.0))]
        severity = "warning" if sustained >= self.rise or memorised else "info"
        message = (
            f"validation loss is up {rise:.0%} from its best at step {best_step} while training "
            f"loss kept falling ({train_then:.3g} → {train_now:.3g})"
            + (f", {gap:.2g} below the validation loss" if memorised else "")
            + ": the model is memorising the training set."
        )
        if m.early_stopped_step is not None:
            severity = "info"
            message = (
                f"early stopping caught the overfitting: it stopped at step {m.early_stopped_step} and kept "
                f"the weights of step {best_step}, where the validation loss was lowest ({best:.3g})."
            )
        return self.finding(
            m,
            severity=severity,
            first_step=int(crossed.index[0]) if len(crossed) else best_step,
            message=message,
            best_val_loss=best,
            best_step=best_step,
            val_loss_now=float(val.iloc[-1]),
            train_loss_at_best=train_then,
            train_loss_now=train_now,
            gap=gap,
            rise=rise,
            risen_by=risen_by,
            val_noise=noise,
            memorised=memorised,
        )
