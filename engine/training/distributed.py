"""One run across processes: ``gradclinic run RECIPE --nproc N`` (torchrun + DistributedDataParallel).

torchrun starts N ranks of :mod:`engine.ddp_worker` on this machine (gloo on a CPU, NCCL on CUDA,
on loopback). Each rank builds the same model from the same seed, and DDP broadcasts rank 0's
weights at the start, so every rank holds one model. Every rank draws the same global batch of
``train.batch_size`` rows and trains on its slice of it (``batch_size / N`` rows); DDP averages
the gradients during the backward pass, so each update is the update one process would make on
the whole global batch, and N ranks train the run one process would.

What the clinic records, and from where:

- **Rank 0 alone writes the store**: the run's rows, checkpoints, the diagnosis. The other ranks
  train and record nothing.
- **Gradient, weight and update statistics** are rank 0's, which are every rank's: after the
  all-reduce every rank holds the same averaged gradient, and so the same weights.
- **Activation statistics** are measured on rank 0's slice of each batch (``1/N`` of its rows),
  so they are estimates from fewer samples than a one-process run's.
- **The training loss** is the mean over the ranks (one small all-reduce a step).
- **Evaluations** run on rank 0; the early stop, a divergence, a stop from the dashboard and a
  sweep's prune are decided there, and every rank learns of it at the end of the same step (one
  all-reduce of a stop flag a step), so no rank waits for a peer that has left.
- **A crash of any rank** ends the others (torchrun stops them) and marks the run ``crashed``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist

from engine.config.errors import RecipeError

# A rank blocked on a peer that died gives up after this long, instead of gloo's 30 minutes.
TIMEOUT_S = 120


@dataclass(frozen=True)
class Ranks:
    """This process's place in a run across processes."""

    rank: int
    world: int
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Rank 0: the one that evaluates and writes the store."""
        return self.rank == 0

    @classmethod
    def from_env(cls) -> Ranks | None:
        """The ranks torchrun describes in ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``; None outside torchrun."""
        if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
            return None
        return cls(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ.get("LOCAL_RANK", 0)))


def check_split(batch_size: int, world: int) -> None:
    """Refuse a global batch that does not split evenly across ``world`` processes."""
    if world > 1 and batch_size % world:
        raise RecipeError(
            f"train.batch_size: {batch_size} rows do not split evenly across {world} processes; "
            f"use a multiple of {world}"
        )


def device_for(ranks: Ranks, device: torch.device) -> torch.device:
    """The rank's device: its own GPU on CUDA (by ``LOCAL_RANK``), else ``device`` as it is."""
    return torch.device("cuda", ranks.local_rank) if device.type == "cuda" else device


def start(ranks: Ranks, device: torch.device) -> None:
    """Join the process group: gloo on a CPU, NCCL on CUDA (torchrun set the address: loopback)."""
    if dist.is_initialized():
        return
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(backend, rank=ranks.rank, world_size=ranks.world, timeout=timedelta(seconds=TIMEOUT_S))


def stop() -> None:
    """Leave the process group (at the end of the run, on every rank)."""
    if dist.is_initialized():
        dist.destroy_process_group()


def wrap(model: torch.nn.Module, device: torch.device) -> Any:
    """The model in DistributedDataParallel (its gradients averaged across the ranks in the backward)."""
    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids)


def mean(value: torch.Tensor, ranks: Ranks) -> torch.Tensor:
    """``value`` averaged over the ranks (a copy; the caller's tensor is left as it was)."""
    out = value.detach().clone()
    dist.all_reduce(out)
    return out / ranks.world


def agree_to_stop(state: Any, ranks: Ranks) -> None:
    """End of a step: stop every rank when any has a reason to (rank 0's is the one recorded)."""
    flag = torch.tensor([0.0 if state.stop_reason is None else 1.0], device=state.device)
    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    if flag.item() > 0 and state.stop_reason is None:
        state.request_stop("stopped", step=state.step, what="another process of the run stopped")
