"""One run, start to finish: prepare data and model, train, record, summarise.

Both ``gradclinic run`` (foreground) and the background worker go through
here. Everything that can fail because of the user's input (recipe, data,
an impossible model) fails in :func:`prepare`, before a run row exists, so a
refusal leaves the store untouched.

While it trains, a run's writes wait up to :data:`TRAINING_LOCK_WAIT_S` for
another process's write lock (its recorder keeps rows meanwhile), so a
transient lock costs no rows. A store problem (a full disk, a damaged file, a
refused checkpoint) ends the run ``failed`` with that one-line message, when
the store can still take it.
"""

from __future__ import annotations

import math
import os
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from engine.config.errors import RecipeError, StoreError
from engine.config.metrics import headline
from engine.config.recipe import Recipe
from engine.datasets import prepare as prepare_data
from engine.datasets.base import Dataset
from engine.diagnosis.diagnose import diagnose_into_store
from engine.models import build_model
from engine.models.base import ClinicModel
from engine.training import checkpoint
from engine.training.boundary import BoundaryView
from engine.training.events import Callback
from engine.training.probing.manager import ProbeManager
from engine.training.recorder import Recorder
from engine.training.trainer import Trainer, TrainState

TRAINING_LOCK_WAIT_S = 300.0  # a training process outlives another's lock this long; a reader does not wait
FAILURE_WAIT_S = 10.0  # recording a failure waits this long: the store may be what failed


@dataclass
class Prepared:
    recipe: Recipe
    data: Dataset
    model: ClinicModel
    device: torch.device
    transfer: dict[str, Any] | None = None  # what model.init_from loaded, re-initialised and froze


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA, then Apple MPS, then the CPU."""
    mps = getattr(torch.backends, "mps", None)
    has_mps = bool(mps and mps.is_available())
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "mps" if has_mps else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RecipeError("train.device: cuda was asked for, but no CUDA device is available; use auto or cpu")
    if name == "mps" and not has_mps:
        raise RecipeError("train.device: mps was asked for, but Apple MPS is not available; use auto or cpu")
    return torch.device(name)


def prepare(recipe: Recipe, store=None) -> Prepared:
    """Load data and build the model, seeded. Raises RecipeError/DataError for bad input.

    ``store`` is where ``model.init_from`` and ``distill.teacher`` find a run named by its id.
    """
    device = resolve_device(recipe.train.device)
    if device.type == "cuda":  # the launch could only hold it against RAM; now the GPU's free memory is known
        from engine.control import budget

        budget.check_fits(recipe, available=torch.cuda.mem_get_info(device)[0], where=f"{device} memory")
    if device.type == "cpu":
        # Vanishing gradients produce subnormal floats, which make CPU math
        # several times slower; flushing them to zero changes no result we show.
        torch.set_flush_denormal(True)
    torch.manual_seed(recipe.seed)
    data = prepare_data(recipe.data, recipe.seed)
    torch.manual_seed(recipe.seed)  # the model's init must not depend on the data's RNG use
    model = build_model(recipe.model, data)
    prepared = Prepared(recipe, data, model, device)
    if recipe.model.init_from is not None:  # transfer: an earlier run's (or a file's) weights
        from engine.training import transfer

        prepared.transfer = transfer.load_into(model, recipe.model, store)
    if recipe.distill is not None:  # a student: its loss also follows a teacher run's outputs
        from engine.training import distill

        distill.attach(prepared, store)
    return prepared


def _finite(x: Any) -> float | None:
    return float(x) if x is not None and math.isfinite(float(x)) else None


def train(
    store,
    run_id: str,
    prepared: Prepared,
    on_flush: Callable[[dict], None] | None = None,
    extra_callbacks: list | None = None,
    stop_check: Callable[[], bool] | None = None,
    resume: bool = False,
    ranks=None,
) -> dict[str, Any]:
    """Train a prepared run recorded as ``run_id``; returns the JSON summary.

    With ``resume``, the run continues from its last checkpoint and its
    metrics continue in the same run. ``ranks`` (a :class:`~engine.training.distributed.Ranks`):
    this is rank 0 of a run across processes, the one that records it.
    """
    with store.lock_wait(max(store.lock_wait_s, TRAINING_LOCK_WAIT_S)):
        return _train(store, run_id, prepared, on_flush, extra_callbacks, stop_check, resume, ranks)


def train_rank(prepared: Prepared, ranks) -> str:
    """Train as a rank other than 0 of a run across processes: the same steps, nothing recorded."""
    trainer = Trainer(prepared.recipe, prepared.data, prepared.model, prepared.device, [], ranks=ranks)
    return trainer.fit()


def _fail(store, run_id: str, exc: Exception) -> None:
    """Record the run as failed: a store problem by its one-line message, anything else with its traceback."""
    error = str(exc) if isinstance(exc, StoreError) else f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=8)}"
    try:
        with store.lock_wait(FAILURE_WAIT_S):
            store.set_status(run_id, "failed", error=error)
    except StoreError:  # the store cannot take it (full, locked, damaged): a reader sees the run crashed
        pass


def _train(store, run_id, prepared, on_flush, extra_callbacks, stop_check, resume, ranks=None) -> dict[str, Any]:
    recipe, device = prepared.recipe, prepared.device
    probes = ProbeManager.for_recipe(prepared.model, recipe)
    recorder = Recorder(store, run_id, probes, on_flush=on_flush, diagnose=diagnose_into_store)
    # Before the recorder, so each picture goes out with the same flush as its evaluation.
    picture = BoundaryView.for_run(prepared.data, prepared.model, recipe)
    callbacks = [probes, *([picture] if picture else []), recorder] + list(extra_callbacks or [])
    t0 = time.perf_counter()
    store.update_run(run_id, device=str(device), pid=os.getpid())
    store.set_status(run_id, "running")
    try:
        torch.manual_seed(recipe.seed)
        trainer = Trainer(recipe, prepared.data, prepared.model, device, callbacks, ranks=ranks)
        folder = store.runs_dir(run_id)
        if resume:
            step = checkpoint.restore(folder, trainer)
            store.add_event(run_id, step, "resumed", {"step": step})
        trainer.add_callback(checkpoint.Checkpointer(folder, trainer))
        if stop_check is not None:
            trainer.add_callback(_StopCheck(stop_check))
        status = trainer.fit()
        checkpoint.save_final(folder, trainer)
    except Exception as exc:
        _fail(store, run_id, exc)
        raise
    finally:
        probes.close()
    try:
        return _finish(store, run_id, prepared, trainer, recorder, status, t0)
    except StoreError as exc:  # the rules and the summary write too: a full disk can stop them
        _fail(store, run_id, exc)
        raise


def _finish(store, run_id: str, prepared: Prepared, trainer: Trainer, recorder: Recorder, status: str, t0: float):
    """Diagnose the trained run, store its summary and its final status; returns the summary."""
    recipe, state = prepared.recipe, trainer.state
    if status == "early_stopped":  # before the rules: overfitting that early stopping caught is not a warning
        store.add_event(run_id, state.stop_detail.get("step", state.step), "early_stopped", state.stop_detail)
    findings = _run_rules(store, run_id)
    if status == "diverged":
        store.add_event(run_id, state.stop_detail.get("step", state.step), "diverged", state.stop_detail)
    summary = {
        "run_id": run_id,
        "recipe": recipe.name,
        "status": status,
        "steps": state.step,
        "seconds": round(time.perf_counter() - t0, 3),
        "device": str(prepared.device),
        "final": _final(recorder.last_loss, state.metrics, prepared.data.task),
        "best": {"val_loss": _finite(state.best_val_loss), "step": state.best_step},
        "findings": findings,
    }
    if recipe.train.amp:
        summary["precision"] = trainer.precision.describe()
    store.update_run(run_id, summary=summary)
    store.set_status(run_id, status)
    return summary


def _final(train_loss: Any, metrics: dict[str, Any], task: str) -> dict[str, Any]:
    """Last losses, the headline metric, and any metric a model adds (anomaly_auc, val_mmd, ...)."""
    out = {"train_loss": _finite(train_loss), "val_loss": _finite(metrics.get("val_loss"))}
    head = headline(metrics, task)  # stopped before the first evaluation: the task's headline, as None
    out[head.name] = _finite(metrics.get(head.name))
    for key, value in metrics.items():
        if key not in out and not key.startswith("train_"):
            out[key] = _finite(value)
    return out


class _StopCheck(Callback):
    """Turns an external stop signal (Ctrl-C) into a cooperative stop at the next step."""

    def __init__(self, check: Callable[[], bool]):
        self.check = check

    def after_step(self, state: TrainState) -> None:
        if self.check():
            state.request_stop("stopped", step=state.step, what="interrupted")


def _run_rules(store, run_id: str) -> list[dict]:
    diagnose_into_store(store, run_id)
    return store.findings(run_id)
