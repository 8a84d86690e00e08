"""NaN or Inf in the loss, the gradients or the weights.

No threshold to tune: a single non-finite value ends useful training. The
run itself stops as ``diverged`` when the loss goes non-finite; this rule
reports where it started: the first step and the first layer flagged.
"""

from __future__ import annotations

import numpy as np

from engine.diagnosis.findings import Finding
from engine.diagnosis.metrics import RunMetrics
from engine.diagnosis.rules.base import Rule


class NonFinite(Rule):
    code = "non_finite"
    remedies = ["clip_norm", "lower_lr", "batch_norm", "find_lr"]

    def check(self, m: RunMetrics) -> Finding | None:
        steps = []
        loss_step = None
        # train_loss is stored every step, so a gap (NaN) in it is a NaN loss;
        # val_loss exists only at evaluations, so only an Inf there counts.
        for name, nan_counts in (("train_loss", True), ("val_loss", False)):
            if name not in m.scalars.columns:
                continue
            s = m.scalars[name].astype(float)
            bad = s[~np.isfinite(s)] if nan_counts else s[np.isinf(s)]
            if len(bad):
                steps.append(int(bad.index[0]))
                loss_step = steps[-1] if loss_step is None else min(loss_step, steps[-1])
        if m.diverged_step is not None:
            steps.append(int(m.diverged_step))
            loss_step = m.diverged_step if loss_step is None else min(loss_step, m.diverged_step)
        flags = m.stat("nonfinite")
        layers: list[str] = []
        layer_step = None
        if not flags.empty:
            hit = flags.fillna(0).to_numpy() > 0
            rows = np.nonzero(hit.any(axis=1))[0]
            if rows.size:
                layer_step = int(flags.index[rows[0]])
                layers = [c for c, h in zip(flags.columns, hit[rows[0]]) if h]
                steps.append(layer_step)
        if not steps:
            return None
        first = min(steps)
        where = f" in {layers[0]}" if layers else ""
        return self.finding(
            m,
            severity="critical",
            first_step=first,
            layers=layers,
            message=f"NaN/Inf appeared at step {first}{where}: training cannot recover from that.",
            first_nonfinite_loss_step=loss_step,
            first_flagged_layer_step=layer_step,
        )
