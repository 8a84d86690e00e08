"""Checkpoints: weights as safetensors, the rest as a weights-only state file.

``last.safetensors`` + ``state.pt`` let :func:`restore` continue a stopped or
crashed run (step count, optimizer and scheduler included);
``final.safetensors`` and ``best.safetensors`` are the end-of-run and
best-validation weights. Every file is written under a temporary name and
renamed into place, so a crash mid-write never leaves a torn checkpoint, and
``state.pt`` is only ever loaded with ``weights_only=True``: nothing is
unpickled.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from safetensors.torch import load_file, save_file

from engine.training.events import Callback

if TYPE_CHECKING:
    from engine.training.trainer import TrainState


def _atomic(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    write(str(tmp))
    os.replace(tmp, path)


def _weights(state_dict: dict) -> dict:
    return {k: v.detach().cpu().contiguous() for k, v in state_dict.items()}


def save(folder: Path, trainer) -> None:
    """Write everything needed to resume ``trainer`` at its current step."""
    s = trainer.state
    _atomic(folder / "last.safetensors", lambda p: save_file(_weights(s.model.state_dict()), p))
    state = {
        "step": s.step,
        "optimizer": s.optimizer.state_dict(),
        "scheduler": s.scheduler.state_dict() if s.scheduler is not None else None,
        "best_val_loss": s.best_val_loss,
        "best_step": s.best_step if s.best_step is not None else -1,
        "torch_rng": torch.get_rng_state(),
    }
    _atomic(folder / "state.pt", lambda p: torch.save(state, p))
    if s.best_state is not None:
        _atomic(folder / "best.safetensors", lambda p: save_file(_weights(s.best_state), p))


def save_final(folder: Path, trainer) -> None:
    """The end-of-run weights, plus a resumable checkpoint."""
    save(folder, trainer)
    _atomic(folder / "final.safetensors", lambda p: save_file(_weights(trainer.state.model.state_dict()), p))


def restore(folder: Path, trainer) -> int:
    """Load the last checkpoint into ``trainer``; returns the step it continues from."""
    s = trainer.state
    s.model.load_state_dict(load_file(str(folder / "last.safetensors"), device=str(s.device)))
    state = torch.load(folder / "state.pt", map_location=s.device, weights_only=True)
    s.optimizer.load_state_dict(state["optimizer"])
    if s.scheduler is not None and state["scheduler"] is not None:
        s.scheduler.load_state_dict(state["scheduler"])
    s.step = int(state["step"])
    s.best_val_loss = float(state["best_val_loss"])
    s.best_step = int(state["best_step"]) if int(state["best_step"]) >= 0 else None
    torch.set_rng_state(state["torch_rng"].cpu())
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
