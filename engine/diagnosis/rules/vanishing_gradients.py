"""Early layers get gradients orders of magnitude smaller than the last layer.

Thresholds from AutoTrainer (Zhang et al., ICSE 2021): vanishing when the
first/last layer gradient-norm ratio is below 1e-3 and the first layer's
norm is below 1e-4. We keep the ratio, use the absolute floor as an
alternative trigger, and require that the loss is not improving, so a
network that learns fine with quiet early layers is left alone.
"""

from __future__ import annotations

import numpy as np

from engine.diagnosis.findings import Finding
from engine.diagnosis.metrics import RunMetrics
from engine.diagnosis.rules.base import Rule, check_fraction, check_positive, power_of_ten, recent, span


class VanishingGradients(Rule):
    code = "vanishing_gradients"
    remedies = ["he_relu", "residual", "batch_norm", "adam"]

    def __init__(self, ratio: float = 1e-3, floor: float = 1e-7, min_records: int = 5, improving: float = 0.2):
        self.ratio = check_positive("ratio", ratio)
        self.floor = check_positive("floor", floor)
        self.min_records = int(check_positive("min_records", min_records))
        self.improving = check_fraction("improving", improving)

    def check(self, m: RunMetrics) -> Finding | None:
        g = m.stat("grad_norm")
        if g.shape[1] < 2 or len(g) < self.min_records:
            return None
        window = recent(g, 0.25, self.min_records)
        last = window.iloc[:, -1].to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = window.to_numpy() / last[:, None]
        rel_med = np.nanmedian(rel, axis=0)[:-1]  # every layer but the last, vs the last
        abs_med = np.nanmedian(window.to_numpy(), axis=0)[:-1]
        if not np.isfinite(rel_med[0]):
            return None  # the last layer gets no gradient either: a dead net, not a vanishing one
        starved = (rel_med < self.ratio) | (abs_med < self.floor)
        if not starved[0]:
            return None  # the first layer is fine: whatever is wrong, it is not vanishing
        loss = m.series("train_loss")
        if len(loss) >= 20:
            head = float(loss.iloc[: max(5, len(loss) // 20)].median())
            tail = float(recent(loss, 0.1, 10).median())
            if head > 0 and (head - tail) / head > self.improving:
                return None  # the loss is improving well despite quiet early layers
        names = list(g.columns[:-1][starved])
        first_rel = float(rel_med[0])
        full = g.to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            ratios = full[:, 0] / full[:, -1]
        below = np.nonzero(ratios < self.ratio)[0]
        first_step = int(g.index[below[0]]) if below.size else int(window.index[0])
        acc = m.series("val_accuracy")
        near_chance = m.chance_accuracy is not None and len(acc) and float(acc.iloc[-1]) < m.chance_accuracy + 0.2
        return self.finding(
            m,
            severity="critical" if near_chance else "warning",
            first_step=first_step,
            layers=names,
            message=(
                f"{span(names)} receive gradients about {power_of_ten(max(first_rel, 1e-30))} of the last "
                f"layer's: they barely learn."
            ),
            first_to_last_ratio=first_rel,
            first_layer_grad_norm=float(abs_med[0]),
            last_layer_grad_norm=float(np.nanmedian(last)),
            ratio_threshold=self.ratio,
            per_layer_ratio={n: float(r) for n, r in zip(g.columns[:-1], rel_med)},
        )
