"""``gradclinic run RECIPE --nproc N``: one run trained by N processes through torchrun.

The command validates the recipe and creates the run's row here, then starts torchrun with N
ranks of :mod:`engine.ddp_worker` on this machine, on loopback only (a static rendezvous at
127.0.0.1 on a free port; gloo told to use ``lo``). It waits for them and reads rank 0's JSON
summary. When any rank fails, torchrun stops the others; a run left ``running`` (rank 0 was
killed, or a peer died under it) is marked ``crashed``, with the failing rank's last lines as
its error. What each rank measures is in :mod:`engine.training.distributed`.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from engine.config.errors import RecipeError
from engine.config.recipe import Recipe

MAX_NPROC = 16
ERROR_LINES = 12  # of the failing ranks' output, kept as the run's error


def check(recipe: Recipe, nproc: int) -> None:
    """Refuse what cannot train across ``nproc`` processes, naming the key or flag."""
    if not 1 <= nproc <= MAX_NPROC:
        raise RecipeError(f"--nproc: give 1 to {MAX_NPROC} processes (got {nproc})")
    if nproc == 1:
        return
    t = recipe.train
    if t.batch_size % nproc:
        raise RecipeError(
            f"train.batch_size: {t.batch_size} rows do not split evenly across {nproc} processes; "
            f"use a multiple of {nproc}"
        )
    from engine.models import capabilities  # reads the arch's declarations from its file, no torch

    if capabilities(recipe.model.arch).own_update:
        raise RecipeError(f"--nproc: {recipe.model.arch} trains with its own update, which DDP does not reach")
    if t.compile:
        raise RecipeError("train.compile: not with --nproc (DDP wraps the eager model); set train.compile: false")


def root_cause(log_text: str) -> tuple[int, int] | None:
    """(rank, exit code) of the first process that failed, from torchrun's report; None if it has none."""
    _, _, after = log_text.partition("Root Cause (first observed failure)")
    found = re.search(r"rank\s*:\s*(\d+).*?exitcode\s*:\s*(-?\d+)", after, re.S)
    return (int(found.group(1)), int(found.group(2))) if found else None


def _mark_crashed(store: Any, run_id: str, nproc: int, log_text: str) -> None:
    """A run whose processes failed: ``crashed``, naming the rank, unless rank 0 itself ended it.

    Rank 0 marks its own failure (a bad step, a full store) as ``failed`` with the reason, as any run
    does; a peer's death reaches rank 0 as a broken connection, which is not the cause, so then
    the run is ``crashed`` with the rank that died.
    """
    status = store.get_run(run_id)["status"]
    cause = root_cause(log_text)
    if status not in ("queued", "running") and not (status == "failed" and cause is not None and cause[0] != 0):
        return
    who = f"rank {cause[0]} of {nproc} exited with code {cause[1]}" if cause else "a process of the run failed"
    tail = [ln for ln in log_text.strip().splitlines() if ln.strip()][-ERROR_LINES:]
    store.set_status(run_id, "crashed", error=f"{who}; torchrun stopped the others.\n" + "\n".join(tail))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def command(run_id: str, nproc: int, port: int) -> list[str]:
    """The torchrun command line for ``nproc`` ranks of ``run_id`` on loopback."""
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nnodes=1",
        f"--nproc-per-node={nproc}",
        "--master-addr=127.0.0.1",
        f"--master-port={port}",
        "--max-restarts=0",
        "-m",
        "engine.ddp_worker",
        run_id,
    ]


def environment(home: Path, nproc: int) -> dict[str, str]:
    """The ranks' environment: the store, loopback for gloo, and the cores shared between the ranks."""
    threads = max(1, (os.cpu_count() or 2) // nproc)
    return {
        **os.environ,
        "GRADCLINIC_HOME": str(Path(home).resolve()),
        "MASTER_ADDR": "127.0.0.1",
        "GLOO_SOCKET_IFNAME": "lo",
        "OMP_NUM_THREADS": str(threads),
        "PYTHONUNBUFFERED": "1",
    }


def run(store: Any, run_id: str, nproc: int, log: Path) -> tuple[int, dict[str, Any] | None]:
    """Train ``run_id`` with ``nproc`` ranks; (exit code, rank 0's summary or None). Output goes to ``log``."""
    env = environment(store.home, nproc)
    with open(log, "wb") as out:
        proc = subprocess.run(command(run_id, nproc, _free_port()), env=env, stdout=subprocess.PIPE, stderr=out)
    summary = None
    for line in proc.stdout.decode("utf-8", "replace").splitlines():
        if line.startswith("{"):
            try:
                summary = json.loads(line)
            except ValueError:
                continue
    if proc.returncode != 0:
        _mark_crashed(store, run_id, nproc, log.read_text("utf-8", "replace"))
    return proc.returncode, summary
