"""The gradient norm grows by orders of magnitude, or early layers' dwarf the last.

Thresholds: AutoTrainer (Zhang et al., ICSE 2021) flags exploding when the
first/last layer gradient ratio exceeds 70; we also flag a global gradient
norm that rises 100x (two orders of magnitude) above its early level, or
passes an absolute 1e4, since residual nets explode evenly across layers.
"""

from __future__ import annotations

import numpy as np

from engine.diagnosis.findings import Finding
from engine.diagnosis.metrics import RunMetrics
from engine.diagnosis.rules.base import Rule, check_positive, recent


class ExplodingGradients(Rule):
    code = "exploding_gradients"
    remedies = ["clip_norm", "lower_lr", "batch_norm"]

    def __init__(self, growth: float = 100.0, ratio: float = 70.0, ceiling: float = 1e4, min_records: int = 3):
        self.growth = check_positive("growth", growth)
        self.ratio = check_positive("ratio", ratio)
        self.ceiling = check_positive("ceiling", ceiling)
        self.min_records = int(check_positive("min_records", min_records))

    def check(self, m: RunMetrics) -> Finding | None:
        g = m.stat("grad_norm")
        if g.empty or len(g) < self.min_records:
            return None
        values = g.to_numpy()
        total = np.sqrt(np.nansum(np.where(np.isfinite(values), values, np.nan) ** 2, axis=1))
        early = float(np.median(total[: max(2, len(total) // 10)]))
        peak_at = int(np.nanargmax(total)) if np.isfinite(total).any() else 0
        peak = float(total[peak_at])
        growth = peak / early if early > 0 else np.inf
        ratio = np.nan
        if g.shape[1] >= 2:
            window = recent(g, 0.25, self.min_records).to_numpy()
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = float(np.nanmedian(window[:, 0] / window[:, -1]))
        grew = growth >= self.growth or peak >= self.ceiling
        lopsided = np.isfinite(ratio) and ratio > self.ratio
        if not (grew or lopsided):
            return None
        if grew:
            crossing = np.nonzero((total >= early * self.growth) | (total >= self.ceiling))[0]
            first_step = int(g.index[crossing[0]]) if crossing.size else int(g.index[peak_at])
            message = (
                f"the gradient norm rose from {early:.3g} to {peak:.3g} ({growth:.0f}x): "
                "steps this large throw the weights far off course."
            )
        else:
            first_step = int(g.index[0])
            message = (
                f"the first layer's gradient is {ratio:.0f}x the last layer's: "
                "gradients grow as they flow back through the layers."
            )
        per_layer_peak = g.max(axis=0)
        worst = list(per_layer_peak.sort_values(ascending=False).index[:3])
        return self.finding(
            m,
            severity="critical" if peak >= self.ceiling or growth >= 1e4 else "warning",
            first_step=first_step,
            layers=worst,
            message=message,
            early_grad_norm=early,
            peak_grad_norm=peak,
            peak_step=int(g.index[peak_at]),
            growth=growth,
            first_to_last_ratio=ratio,
            growth_threshold=self.growth,
        )
