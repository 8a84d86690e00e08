"""On CUDA, a training step that does not flush never waits for the device.

The engine's contract (DESIGN.md, "Performance design"): probes keep their
values in device buffers, the recorder keeps the loss as a tensor, and the
host reads the device only in ``Recorder.flush`` and in evaluations. This
test proves it with ``torch.cuda.set_sync_debug_mode("error")``, which
raises on any synchronising call (``.item()``, ``.cpu()``, a blocking copy,
``nonzero``...).

Which steps flush: with ``flush_seconds=inf`` the recorder flushes only at
evaluations (``step % eval_every == 0``, after that step's AFTER_STEP) and at
the end of the fit, so every training step, from BEFORE_STEP to AFTER_STEP,
is a non-flush step. Two tiny callbacks, listed first and last, switch the
debug mode on for exactly that span, so all the probes' and the recorder's
per-step work is inside it and the evaluations and flushes are outside.

Step 1 is left unchecked: it pays for one-off library set-up (cuBLAS and
cuDNN handles, optimizer state), which is not the engine's per-step work.
Needs a CUDA device; skipped elsewhere.
"""

from __future__ import annotations

import math

import pytest
import torch

from engine.config import names
from engine.config.recipe import load_recipe
from engine.store import Store
from engine.training.events import Callback
from engine.training.probing.manager import ProbeManager
from engine.training.recorder import Recorder
from engine.training.session import prepare
from engine.training.trainer import Trainer

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(
        not torch.cuda.is_available(), reason="needs a CUDA device (torch.cuda.is_available() is False)"
    ),
]


class SyncGuard(Callback):
    """``on=True``: list first, raises on host syncs from BEFORE_STEP; ``on=False``: list last, stops at AFTER_STEP."""

    def __init__(self, on: bool, first_checked_step: int = 2):
        self.turn_on, self.first = on, first_checked_step
        self.checked: list[int] = []

    def before_step(self, s) -> None:
        if self.turn_on and s.step >= self.first:
            torch.cuda.set_sync_debug_mode("error")
            self.checked.append(s.step)

    def after_step(self, s) -> None:
        if not self.turn_on:
            torch.cuda.set_sync_debug_mode("default")


class CountFlushes(Recorder):
    """The recorder, noting the step of each flush (and checking none happens inside a guarded step)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.flushed_at: list[int] = []

    def flush(self, s, evaluated: bool = False) -> None:
        assert torch.cuda.get_sync_debug_mode() == 0, "a flush ran inside a guarded step"
        self.flushed_at.append(s.step)
        super().flush(s, evaluated)


WORKLOADS = {
    "mlp": [
        "model.arch=mlp",
        "model.depth=4",
        "model.width=64",
        "data.name=digits",
        "train.optimizer=momentum",
        "train.clip_norm=1.0",
        "train.schedule=cosine",
    ],
    "cnn": [
        "model.arch=cnn",
        "model.depth=3",
        "model.width=32",
        "model.residual=true",
        "model.norm=batch",
        "data.name=digits",
        "train.optimizer=adam",
    ],
    # bf16 autocast needs no loss scaler, so it must add no sync either; channels_last neither.
    "cnn_bf16_channels_last": [
        "model.arch=cnn",
        "model.depth=3",
        "model.width=32",
        "model.norm=batch",
        "data.name=digits",
        "train.optimizer=adam",
        "train.amp=true",
        "train.amp_dtype=bf16",
        "train.channels_last=true",
    ],
    "lstm": [
        "model.arch=lstm",
        "model.depth=1",
        "model.width=32",
        "data.name=adding",
        "data.params.seq_len=20",
        "train.optimizer=adam",
    ],
}


@pytest.mark.parametrize("probes", ["every_step", "budget"])
@pytest.mark.parametrize("workload", sorted(WORKLOADS))
def test_steps_that_do_not_flush_do_not_sync(tmp_path, workload, probes):
    # 30 steps of batch 64 cross an epoch of digits, so a fresh shuffle is inside a checked step.
    steps, eval_every = 30, 15
    recipe = load_recipe(
        None, WORKLOADS[workload] + ["train.device=cuda", f"train.steps={steps}", f"train.eval_every={eval_every}"]
    )
    prep = prepare(recipe)
    fixed = {n: 1 for n in names.PROBES.names()} if probes == "every_step" else None
    manager = ProbeManager(prep.model, budget=recipe.probes.budget, fixed=fixed)
    with Store(tmp_path / "home") as store:
        run_id = store.create_run(recipe.to_dict(), total_steps=steps)
        recorder = CountFlushes(store, run_id, manager, flush_seconds=math.inf)
        first, last = SyncGuard(on=True), SyncGuard(on=False)
        trainer = Trainer(recipe, prep.data, prep.model, prep.device, [first, manager, recorder, last])
        try:
            status = trainer.fit()
        finally:
            torch.cuda.set_sync_debug_mode("default")
        assert status == "completed"
        assert first.checked == list(range(2, steps + 1))
        # Flushes only after evaluations (and once more at the end of the fit), never inside a step.
        assert sorted(set(recorder.flushed_at)) == list(range(eval_every, steps + 1, eval_every))
        # The buffered values did reach the store at those flushes.
        stats = store.layer_stats(run_id, "grad_norm")
        assert len(stats) > 0
