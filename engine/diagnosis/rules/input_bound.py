"""The model spends most of its training time waiting for its next batch.

The trainer times each step's fetch of its batch (``Batches.wait_s``), and the recorder writes
``data_wait`` at every flush: that window's waiting as a share of its training time. Over the
windows after the first (which holds the loader's start-up: worker processes, the first
prefetch), the median share above ``threshold`` (half) means the input pipeline, not the network,
sets the speed: a faster GPU or a smaller model would change nothing. Our own threshold; a
profiler would call it "input bound" at the same point, where waiting outweighs computing.
"""

from __future__ import annotations

from engine.diagnosis.findings import Finding
from engine.diagnosis.metrics import RunMetrics
from engine.diagnosis.rules.base import Rule, check_fraction, check_positive


class InputBound(Rule):
    code = "input_bound"
    remedies = ["device_augment", "more_workers", "pin_memory", "bigger_batch"]

    def __init__(self, threshold: float = 0.5, min_windows: int = 3):
        self.threshold = check_fraction("threshold", threshold)
        self.min_windows = int(check_positive("min_windows", min_windows))

    def check(self, m: RunMetrics) -> Finding | None:
        wait = m.series("data_wait").dropna().iloc[1:]  # the first window holds the start-up
        if len(wait) < self.min_windows:
            return None
        share = float(wait.median())
        if share <= self.threshold:
            return None
        loader = (m.recipe.get("data") or {}).get("loader") or {}
        how = (
            f"a DataLoader with {loader.get('num_workers', 0)} worker(s)"
            + (f" and per-sample {', '.join(loader['cpu_augment'])} on the CPU" if loader.get("cpu_augment") else "")
            if loader.get("kind") == "dataloader"
            else "tensors in memory"
        )
        return self.finding(
            m,
            severity="warning",
            first_step=int(wait.index[0]),
            message=(
                f"the model waited for its next batch {share:.0%} of the training time (median over "
                f"{len(wait)} windows; the batches come from {how}): the input pipeline, not the network, "
                "sets the speed."
            ),
            data_wait=share,
            windows=len(wait),
            loader=loader.get("kind", "in_memory"),
        )
