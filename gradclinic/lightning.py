"""``gradclinic.lightning.ClinicCallback``: the watch API as a PyTorch Lightning callback.

    import lightning as L
    from gradclinic.lightning import ClinicCallback

    trainer = L.Trainer(max_steps=500, callbacks=[ClinicCallback(name="my-run")])
    trainer.fit(module, train_loader, val_loader)

It is :func:`gradclinic.watch` on the LightningModule and its optimizer, driven by Lightning's
hooks: the watch starts when the fit starts, every training batch's loss is a ``clinic.step``,
every validation epoch's ``val_loss`` and ``val_accuracy`` (or ``val_acc``) from the logged
metrics are a ``clinic.eval``, and the run ends ``completed`` with the fit, or ``failed`` with an
exception. Gradients are measured where the optimizer steps, as in the watch API, so
``accumulate_grad_batches``, ``gradient_clip_val`` and mixed precision need nothing more. The
dashboard's Stop ends the fit at the next batch (``trainer.should_stop``).

Install Lightning with the optional extra: ``pip install 'gradclinic[lightning]'``. One
optimizer is watched: the first one ``configure_optimizers`` returns.
"""

from __future__ import annotations

from typing import Any

try:
    import lightning.pytorch as pl
except ImportError as exc:  # pragma: no cover - the extra is not installed
    raise ImportError(
        "gradclinic.lightning needs PyTorch Lightning: pip install 'gradclinic[lightning]' (or lightning)"
    ) from exc

import gradclinic

#: The logged metrics a validation epoch passes on, and the name each is stored under.
EVAL_METRICS = {"val_loss": "val_loss", "val_accuracy": "val_accuracy", "val_acc": "val_accuracy"}


class ClinicCallback(pl.Callback):
    """Watch a Lightning fit: the same probes, store, findings and Live page as a recipe run."""

    def __init__(self, **options: Any):
        """``options`` are :func:`gradclinic.watch`'s (``name``, ``home``, ``budget``, ``classes``, ...);
        ``steps`` defaults to the trainer's ``max_steps`` when it is set."""
        self.options = options
        self.clinic: Any = None
        self._ended = False

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.optimizers:
            raise RuntimeError("gradclinic: ClinicCallback needs an optimizer (configure_optimizers returned none)")
        options = dict(self.options)
        if "steps" not in options and trainer.max_steps and trainer.max_steps > 0:
            options["steps"] = int(trainer.max_steps)
        self.clinic = gradclinic.watch(pl_module, trainer.optimizers[0], **options)
        self.clinic.__enter__()
        self._ended = False

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if loss is None or self.clinic is None or self._ended:
            return
        try:
            self.clinic.step(loss)
        except gradclinic.StopTraining:  # the dashboard's Stop, or a non-finite loss: end the fit
            trainer.should_stop = True

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.clinic is None or self._ended or trainer.sanity_checking:
            return
        logged = trainer.callback_metrics
        values = {stored: logged[key] for key, stored in EVAL_METRICS.items() if key in logged}
        if values:
            self.clinic.eval(**values)

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._end(None)

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        self._end(exception)

    def _end(self, exc: BaseException | None) -> None:
        if self.clinic is None or self._ended:
            return
        self._ended = True
        self.clinic.__exit__(type(exc) if exc is not None else None, exc, None)

    @property
    def run_id(self) -> str | None:
        """The watched run's id in the store (None before the first step)."""
        return None if self.clinic is None else self.clinic.run_id
