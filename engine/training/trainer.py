"""The training loop. It reads only the recipe; remedies are recipe values.

Everything else (probes, storing, progress bars, diagnosis) listens to the
named events in :mod:`engine.training.events`. The loop keeps the device busy: the
loss stays a tensor, and host syncs happen only at evaluations and at the
recorder's flushes.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

from engine.config.recipe import Recipe
from engine.datasets.base import Dataset
from engine.models.base import trained_layers
from engine.training import compilation, distributed, transfer
from engine.training.batches import Batches
from engine.training.events import Callback, Event, dispatch_table
from engine.training.optimizers import OPTIMIZERS
from engine.training.precision import Precision
from engine.training.schedules import METRIC_DRIVEN, SCHEDULES

if TYPE_CHECKING:
    from engine.models.base import ClinicModel


@dataclass
class EvalResult:
    val_loss: float
    train_eval_loss: float
    val_accuracy: float | None = None
    train_accuracy: float | None = None

    def as_metrics(self, task: str) -> dict[str, float | None]:
        out: dict[str, float | None] = {"val_loss": self.val_loss, "train_eval_loss": self.train_eval_loss}
        if task == "classification":
            out["val_accuracy"] = self.val_accuracy
            out["train_accuracy"] = self.train_accuracy
        else:
            out["val_mse"] = self.val_loss
        return out


@dataclass
class TrainState:
    """What callbacks may read (and the few things they may set)."""

    recipe: Recipe
    data: Dataset
    model: ClinicModel
    optimizer: torch.optim.Optimizer
    scheduler: Any
    device: torch.device
    step: int = 0
    loss: torch.Tensor | None = None
    metrics: dict[str, Any] = field(default_factory=dict)  # the latest evaluation
    best_val_loss: float = math.inf
    best_step: int | None = None
    best_state: dict | None = None
    stop_reason: str | None = None  # set by callbacks: "stopped", "diverged", "early_stopped"
    stop_detail: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.time)
    # Seconds spent blocked on the next batch, summed over the steps: the recorder turns it into
    # ``data_wait``, the share of training time the model waited for its input.
    data_wait_s: float = 0.0
    # Seconds in forward + backward and in the optimizer's step, summed; timed on the CPU only,
    # where a step's work is done when its call returns (on a GPU that would need a sync each step).
    compute_s: float = 0.0
    optimizer_s: float = 0.0
    # Set for one step by a callback that hooks the model's modules (the probe manager, on the steps
    # its activation probes run): that step runs the eager model, whose hooks fire, not the compiled one.
    eager_forward: bool = False
    precision: Any = None  # the run's Precision: its autocast dtype, loss scaler and skipped steps
    # Set by a model's own training_step (GAN): per-step scalar tensors the
    # recorder stores next to train_loss ({"gen_loss": t, "disc_loss": t}) ...
    step_scalars: dict[str, torch.Tensor] = field(default_factory=dict)
    # ... and (step, kind, payload) events the recorder writes at its next flush.
    events: list[tuple[int, str, dict]] = field(default_factory=list)

    def request_stop(self, reason: str, **detail: Any) -> None:
        if self.stop_reason is None:
            self.stop_reason = reason
            self.stop_detail = detail

    @property
    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])


def loss_fn(data: Dataset):
    """Cross-entropy (per position when ``target_len > 1``) or MSE."""
    if data.task == "classification":
        k, c = data.target_len, data.n_classes
        assert c is not None, "a classification dataset knows its classes"

        def ce(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            if k > 1:
                return F.cross_entropy(out.view(-1, k, c).transpose(1, 2), y)
            return F.cross_entropy(out, y)

        return ce
    return lambda out, y: F.mse_loss(out, y)


def weighted_loss_fn(data: Dataset):
    """Cross-entropy or MSE per sample, averaged with per-sample weights (a boosting member's loss).

    The weights have mean 1 over the training rows, so a batch's mean of weight x loss estimates
    the weighted loss without bias, and an all-ones weighting is the plain loss.
    """
    if data.task == "classification":

        def ce(out: torch.Tensor, y: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
            return (F.cross_entropy(out, y, reduction="none") * w).mean()

        return ce
    return lambda out, y, w: (F.mse_loss(out, y, reduction="none").flatten(1).mean(1) * w).mean()


@torch.no_grad()
def evaluate(model, x, y, data: Dataset, chunk: int = 4096) -> tuple[float, float | None]:
    """Mean loss and (for classification) accuracy of ``model`` on (x, y)."""
    was_training = model.training
    model.eval()
    crit = loss_fn(data)
    total, correct, n = 0.0, 0.0, 0
    for i in range(0, len(x), chunk):
        xb, yb = x[i : i + chunk], y[i : i + chunk]
        out = model(xb).float()
        total += float(crit(out, yb)) * len(xb)
        if data.task == "classification":
            pred = out.view(len(xb), data.target_len, data.n_classes).argmax(-1).view_as(yb)
            correct += float((pred == yb).float().mean()) * len(xb)
        n += len(xb)
    model.train(was_training)
    acc = correct / n if data.task == "classification" else None
    return total / max(n, 1), acc


class Trainer:
    """Trains one model on one dataset as the recipe says, firing events."""

    def __init__(
        self,
        recipe: Recipe,
        data: Dataset,
        model: ClinicModel,
        device: torch.device,
        callbacks: list[Callback] | None = None,
        ranks: distributed.Ranks | None = None,
    ):
        t = recipe.train
        # One rank of a run across processes (engine/training/distributed.py), or None for the usual one.
        self.ranks = ranks if ranks is not None and ranks.world > 1 else None
        self.recipe, self.data = recipe, data
        self.callbacks: list[Callback] = []
        self._table = dispatch_table(())
        for cb in callbacks or []:
            self.add_callback(cb)
        model.to(device)
        optimizer = OPTIMIZERS.get(t.optimizer)(transfer.param_groups(model, t.lr, recipe.model.init_lr_scale), t)
        scheduler = SCHEDULES.get(t.schedule)(optimizer, t)
        self.state = TrainState(recipe, data, model, optimizer, scheduler, device)
        shard = None
        if self.ranks is not None:
            distributed.check_split(t.batch_size, self.ranks.world)
            shard = (self.ranks.rank, self.ranks.world)
        self.batches = Batches(
            data,
            t.batch_size,
            device,
            seed=recipe.seed,
            augment=recipe.data.augment,
            loader=recipe.data.loader,
            shard=shard,
        )
        self.crit = loss_fn(data)
        self.weighted = weighted_loss_fn(data) if data.w_train is not None else None
        # Models with their own objective (autoencoder) or update (GAN): see ClinicModel.
        self.objective = getattr(model, "objective", None)
        self.custom_step = getattr(model, "training_step", None)
        self.l1_params = [p for _, p in trained_layers(model)] if t.l1 > 0 else []
        self.precision = self.state.precision = Precision.for_run(t, device)
        self.channels_last = compilation.to_channels_last(model, t)
        # Not for a model with its own update (refused at load): it calls its players itself.
        self.compiled = compilation.compiled_forward(model, t, device) if self.custom_step is None else None
        # Across processes every step goes through DDP, whose backward averages the gradients.
        self.ddp = distributed.wrap(model, device) if self.ranks is not None else None

    def add_callback(self, callback: Callback) -> None:
        """Listen with ``callback`` from now on (after those already added)."""
        self.callbacks.append(callback)
        self._table = dispatch_table(self.callbacks)

    def emit(self, event: Event) -> None:
        """Call every callback method for ``event``, in the order the callbacks were added."""
        for handler in self._table[event]:
            handler(self.state)

    def fit(self) -> str:
        """Train until the recipe's step count or a stop; returns the final status."""
        self.start()
        self.advance()
        return self.finish()

    # fit() in three parts, for a caller that trains in slices (the overhead
    # benchmark alternates slices of several trainers; a notebook may look in between).

    def start(self) -> None:
        """Put the model in training mode and fire BEFORE_FIT."""
        self.state.model.train()
        self.emit(Event.BEFORE_FIT)

    def advance(self, max_steps: int | None = None) -> bool:
        """Train up to ``max_steps`` more steps (all that are left by default); True while more remain."""
        s, t = self.state, self.recipe.train
        done = 0
        while s.step < t.steps and s.stop_reason is None and (max_steps is None or done < max_steps):
            s.step += 1  # steps are counted from 1: step n is the n-th update
            self._train_step()
            if (s.step % t.eval_every == 0 or s.step == t.steps) and (self.ranks is None or self.ranks.is_main):
                self._evaluate()
            if self.ranks is not None:  # every rank ends at the same step, or a peer would wait forever
                distributed.agree_to_stop(s, self.ranks)
            done += 1
        return s.step < t.steps and s.stop_reason is None

    def finish(self) -> str:
        """Fire AFTER_FIT; returns the final status."""
        self.emit(Event.AFTER_FIT)
        return self.state.stop_reason or "completed"

    def _train_step(self) -> None:
        s, t = self.state, self.recipe.train
        self.emit(Event.BEFORE_STEP)
        x, y = self.batches.next()
        s.data_wait_s = self.batches.wait_s
        if self.custom_step is not None:  # the model runs the update itself (a GAN's two players)
            self.custom_step(self, x, y)
            return self._end_step()
        timed = s.device.type == "cpu"
        t0 = time.perf_counter() if timed else 0.0
        if self.channels_last:
            x = compilation.input_channels_last(x)
        if self.ddp is not None:
            forward = self.ddp  # hooks on the inner model still fire
        elif self.compiled is not None and not s.eager_forward:
            forward = self.compiled
        else:
            forward = s.model
        if self.precision.enabled:
            with self.precision.autocast():
                out = forward(x)
            loss = self._loss(out.float(), x, y)  # the loss in fp32: a 16-bit log-softmax loses digits
        else:  # even a disabled autocast context costs time on every step
            out = forward(x)
            loss = self._loss(out, x, y)
        if self.l1_params:
            loss = loss + t.l1 * torch.stack([p.abs().sum() for p in self.l1_params]).sum()
        s.loss = loss.detach() if self.ranks is None else distributed.mean(loss, self.ranks)
        if timed:
            s.compute_s += time.perf_counter() - t0
        self.emit(Event.AFTER_FORWARD)
        t0 = time.perf_counter() if timed else 0.0
        s.optimizer.zero_grad(set_to_none=True)
        self.precision.backward(loss, s.optimizer, s.step)
        if timed:
            s.compute_s += time.perf_counter() - t0
        self.emit(Event.AFTER_BACKWARD)
        t0 = time.perf_counter() if timed else 0.0
        self.clip_gradients(s.model.parameters())
        self.precision.step(s.optimizer)
        if timed:
            s.optimizer_s += time.perf_counter() - t0
        self._end_step()

    def _loss(self, out: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.weighted is not None and self.batches.weights is not None:
            return self.weighted(out, y, self.batches.weights)
        return self.objective(out, x, y, self.crit) if self.objective is not None else self.crit(out, y)

    def clip_gradients(self, params) -> None:
        """Apply ``train.clip_value`` / ``train.clip_norm`` to ``params``' gradients (after the probes saw them)."""
        t = self.recipe.train
        if t.clip_value is None and t.clip_norm is None:
            return
        params = list(params)
        if t.clip_value is not None:
            torch.nn.utils.clip_grad_value_(params, t.clip_value)
        if t.clip_norm is not None:
            torch.nn.utils.clip_grad_norm_(params, t.clip_norm)

    def _end_step(self) -> None:
        s, t = self.state, self.recipe.train
        if s.scheduler is not None and t.schedule not in METRIC_DRIVEN:
            s.scheduler.step()
        self.emit(Event.AFTER_STEP)

    def _evaluate(self) -> None:
        s, t = self.state, self.recipe.train
        own = getattr(s.model, "eval_metrics", None)
        metrics: dict[str, Any] | None = own(self) if own is not None else None  # autoencoder, GAN: theirs
        if metrics is None:
            xv, yv = self.batches.val_tensors()
            xt, yt = self.batches.train_eval_tensors()
            val_loss, val_acc = evaluate(s.model, xv, yv, self.data)
            tr_loss, tr_acc = evaluate(s.model, xt, yt, self.data)
            metrics = EvalResult(val_loss, tr_loss, val_acc, tr_acc).as_metrics(self.data.task)
        s.metrics = metrics
        val_loss = float(metrics["val_loss"] if metrics["val_loss"] is not None else math.nan)
        if not math.isfinite(val_loss):
            s.request_stop("diverged", step=s.step, what="val_loss")
        elif val_loss < s.best_val_loss - (t.early_stopping.min_delta if t.early_stopping else 0.0):
            s.best_val_loss, s.best_step = val_loss, s.step
            s.best_state = copy.deepcopy({k: v.detach().cpu() for k, v in s.model.state_dict().items()})
        if s.scheduler is not None and t.schedule in METRIC_DRIVEN and math.isfinite(val_loss):
            s.scheduler.step(val_loss)
        self.emit(Event.AFTER_EVAL)
        es = t.early_stopping
        if es is not None and s.best_step is not None and s.stop_reason is None:
            evals_since_best = (s.step - s.best_step) // t.eval_every
            if evals_since_best >= es.patience:
                s.request_stop("early_stopped", step=s.step, best_step=s.best_step)
