"""The gradient norm grows by orders of magnitude, or early layers' dwarf the last.

Thresholds: AutoTrainer (Zhang et al., ICSE 2021) flags exploding when the
first/last layer gradient ratio exceeds 70; we also flag a global gradient
norm that rises 100x (two orders of magnitude) above its early level and
stays there over the recent quarter of the run (or until the run diverged),
or passes an absolute 1e4, since residual nets explode evenly across layers.

The probes read gradients before clipping (that is what explodes). So a run
whose clipping holds them in check, and which does not diverge, gets an
``info`` finding that says so, with the pre- and post-clip norms, instead of
a warning that would tell a student the fix did not work.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

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
        # A single spike is not an explosion (a memorising net's rare hard batch): the growth must
        # hold over the recent quarter of the records, unless the run diverged (then the records stop).
        recent_total = recent(pd.Series(total), 0.25, self.min_records)
        held = float(np.nanmedian(recent_total)) / early if early > 0 and np.isfinite(recent_total).any() else 0.0
        sustained = held >= self.growth or (m.diverged_step is not None and growth >= self.growth)
        grew = sustained or peak >= self.ceiling
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
        severity = "critical" if peak >= self.ceiling or growth >= 1e4 else "warning"
        evidence = dict(
            early_grad_norm=early,
            peak_grad_norm=peak,
            peak_step=int(g.index[peak_at]),
            growth=growth,
            first_to_last_ratio=ratio,
            growth_threshold=self.growth,
        )
        clipping = self._clipping(m, total)
        if clipping is not None:  # the probes read pre-clip gradients; clipping holds them: say so, as info
            severity, (message, clip_evidence) = "info", clipping
            evidence.update(clip_evidence)
        return self.finding(m, severity=severity, first_step=first_step, layers=worst, message=message, **evidence)

    @staticmethod
    def _clipping(m: RunMetrics, total: np.ndarray) -> tuple[str, dict] | None:
        """(message, evidence) when clipping is on and the run stayed finite, else None."""
        train = m.recipe.get("train") or {}
        clip_norm, clip_value = train.get("clip_norm"), train.get("clip_value")
        if (clip_norm is None and clip_value is None) or m.diverged_step is not None:
            return None
        finite = total[np.isfinite(total)]
        if clip_norm is None:
            return (
                f"clipping each gradient entry to ±{clip_value:g} is holding the exploding gradients in "
                f"check: the pre-clip norm peaked at {finite.max():.3g}, and the run stayed finite."
            ), {"clip_value": clip_value, "pre_clip_peak": float(finite.max())}
        clipped = float((finite > clip_norm).mean()) if finite.size else 0.0
        return (
            f"clipping is holding the exploding gradients in check: the pre-clip gradient norm peaked at "
            f"{finite.max():.3g}, and every step used at most {clip_norm:g} (clipped on {clipped:.0%} of "
            "the recorded steps)."
        ), {
            "clip_norm": clip_norm,
            "pre_clip_peak": float(finite.max()),
            "post_clip_peak": float(min(finite.max(), clip_norm)),
            "clipped_share": clipped,
        }
