"""Checkpoints: one resumable file, plus the end-of-run and best weights as safetensors.

``state.pt`` holds everything :func:`restore` needs to continue a stopped or
crashed run: the weights, the optimizer and scheduler state, the step, the
best validation loss and the RNG. It is ONE file, written under a temporary
name, flushed to disk and renamed into place, so a kill at any moment leaves
the previous checkpoint or the new one, never new weights beside old
optimizer state. (Checkpoints written before kept the weights apart, in
``last.safetensors``; :func:`restore` still reads those.)

``final.safetensors`` and ``best.safetensors`` are the end-of-run and
best-validation weights, for export. ``state.pt`` is only ever loaded with
``weights_only=True``: nothing is unpickled, and a file holding anything else
is refused with our own message (:class:`CheckpointRefused`).
"""

from __future__ import annotations

import errno
import os
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from safetensors.torch import load_file, save_file

from engine.config.errors import StoreError
from engine.store.errors import StoreFull
from engine.training.events import Callback

if TYPE_CHECKING:
    from engine.training.trainer import TrainState

STATE = "state.pt"  # the resumable checkpoint; its presence is what makes a run resumable
FORMAT = 2  # 1: weights in last.safetensors beside state.pt; 2: everything in state.pt


class CheckpointRefused(StoreError):
    """A checkpoint that is not what this code writes: tampered with, damaged, or another model's."""


def _disk_full(exc: BaseException, folder: Path) -> bool:
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    if "No space left" in str(exc) or "os error 28" in str(exc):  # torch's and safetensors' words for it
        return True
    try:
        return shutil.disk_usage(folder).free < 1 << 20
    except OSError:
        return False


def _atomic(path: Path, write, step: int) -> None:
    """Write ``path`` through ``write(tmp)``, flush it to disk and rename it into place."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        write(str(tmp))
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())  # on disk before it replaces the previous one
        os.replace(tmp, path)
    except Exception as exc:
        tmp.unlink(missing_ok=True)
        if _disk_full(exc, path.parent):
            run = path.parent.name
            raise StoreFull(
                f"the disk holding {path.parent} is full: the checkpoint of run {run} at step {step} was not "
                f"written ({path.name}; the previous checkpoint is kept); free some space, then "
                f"`gradclinic resume {run}`"
            ) from None
        raise


def _weights(state_dict: dict) -> dict:
    return {k: v.detach().cpu().contiguous() for k, v in state_dict.items()}


def save(folder: Path, trainer) -> None:
    """Write everything needed to resume ``trainer`` at its current step, as one file."""
    s = trainer.state
    if s.best_state is not None:  # first, so state.pt's best_val_loss never names weights not yet written
        _atomic(folder / "best.safetensors", lambda p: save_file(_weights(s.best_state), p), s.step)
    state = {
        "format": FORMAT,
        "step": s.step,
        "model": _weights(s.model.state_dict()),
        "optimizer": s.optimizer.state_dict(),
        "scheduler": s.scheduler.state_dict() if s.scheduler is not None else None,
        "best_val_loss": s.best_val_loss,
        "best_step": s.best_step if s.best_step is not None else -1,
        "torch_rng": torch.get_rng_state(),
    }
    _atomic(folder / STATE, lambda p: torch.save(state, p), s.step)
    (folder / "last.safetensors").unlink(missing_ok=True)  # format 1's weights: state.pt holds them now


def save_final(folder: Path, trainer) -> None:
    """The end-of-run weights, plus a resumable checkpoint."""
    save(folder, trainer)
    s = trainer.state
    _atomic(folder / "final.safetensors", lambda p: save_file(_weights(s.model.state_dict()), p), s.step)


def _refused(path: Path, why: str) -> CheckpointRefused:
    return CheckpointRefused(
        f"the checkpoint {path} was refused: {why}; nothing in it was loaded or run. Delete it to start the run afresh"
    )


def _load(path: Path, device: torch.device) -> dict[str, Any]:
    """The checkpoint's contents, read with ``weights_only=True``; anything else is refused in our words."""
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # torch's own message would advise weights_only=False: never repeat it
        raise _refused(
            path, f"it holds something other than tensors and plain values, or is damaged ({type(exc).__name__})"
        ) from None
    if not isinstance(state, dict) or "optimizer" not in state or "step" not in state:
        raise _refused(path, "it is not a Gradient Clinic checkpoint")
    if state.get("model") is None:  # format 1: the weights beside it
        weights = path.with_name("last.safetensors")
        try:
            state["model"] = load_file(str(weights), device=str(device))
        except Exception as exc:
            raise _refused(weights, f"its weights cannot be read ({type(exc).__name__})") from None
    return state


def restore(folder: Path, trainer) -> int:
    """Load the last checkpoint into ``trainer``; returns the step it continues from."""
    s = trainer.state
    path = folder / STATE
    state = _load(path, s.device)
    try:
        s.model.load_state_dict(state["model"])
        s.optimizer.load_state_dict(state["optimizer"])
        if s.scheduler is not None and state["scheduler"] is not None:
            s.scheduler.load_state_dict(state["scheduler"])
        s.step = int(state["step"])
        s.best_val_loss = float(state["best_val_loss"])
        s.best_step = int(state["best_step"]) if int(state["best_step"]) >= 0 else None
        torch.set_rng_state(state["torch_rng"].cpu())
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise _refused(path, f"it does not fit this run's model or optimizer ({type(exc).__name__})") from None
    trainer.batches.reseed(trainer.recipe.seed * 1_000_003 + s.step)  # fresh shuffle, reproducible per step
    return s.step


class Checkpointer(Callback):
    """Saves a resumable checkpoint at evaluations, at most every ``every_s`` seconds."""

    def __init__(self, folder: Path, trainer_ref, every_s: float = 10.0):
        self.folder, self.trainer, self.every_s = folder, trainer_ref, every_s
        self._last = time.monotonic()

    def after_eval(self, state: TrainState) -> None:
        if time.monotonic() - self._last >= self.every_s:
            save(self.folder, self.trainer)
            self._last = time.monotonic()
