"""The range test as a background job for the dashboard: ``python -m engine.cli lr-find ... --json``.

The app never imports torch, so it runs the command in a child process of its
own, with a deadline, and polls it: the child's stderr progress lines tell how
far it got, its stdout is the result. The child caches the result beside the
run store too (:func:`engine.tuning.lr_find.save`), so the page shows it again
after a reload.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.tuning import lr_find
from engine.tuning.lr_find_cli import parse_progress

ROOT = Path(__file__).resolve().parents[2]  # where `python -m engine.cli` imports this checkout
DEFAULT_TIMEOUT_S = 300.0  # three 200-step ramps take seconds on a laptop; a minute for a big model
STDERR_LINES = 40  # the last lines kept, for the message when the command fails


def command(
    recipe: str,
    sets: dict[str, Any],
    *,
    home: str | Path,
    seeds: int = lr_find.DEFAULT_SEEDS,
    steps: int = lr_find.DEFAULT_STEPS,
) -> list[str]:
    """The child's argv: each override as ``--set key=<JSON>``, which ``--set`` reads back as the same value."""
    args = [sys.executable, "-m", "engine.cli", "--home", str(home), "lr-find", recipe]
    for key, value in sets.items():
        args += ["--set", f"{key}={json.dumps(value)}"]
    return args + ["--seeds", str(seeds), "--steps", str(steps), "--json"]


@dataclass
class Job:
    """One running range test: poll :meth:`done`, read :attr:`progress`, then :meth:`outcome`."""

    proc: subprocess.Popen
    deadline: float
    started: float = field(default_factory=time.monotonic)
    progress: float = 0.0  # 0..1 over all seeds' ramps (a diverged ramp ends its seed early)
    stage: str = "starting (importing PyTorch)"
    _out: list[str] = field(default_factory=list)
    _err: list[str] = field(default_factory=list)
    _readers: list[threading.Thread] = field(default_factory=list)
    timed_out: bool = False

    def done(self) -> bool:
        """True once the child has ended (by itself, or killed at its deadline)."""
        if self.proc.poll() is None and time.monotonic() > self.deadline:
            self.timed_out = True
            self.proc.kill()  # our own child, by its handle
        return self.proc.poll() is not None

    def outcome(self) -> tuple[lr_find.LrFindResult | None, str | None]:
        """(the result, None) or (None, what went wrong in one message); call once :meth:`done`."""
        self.proc.wait()
        for reader in self._readers:
            reader.join(timeout=5)
        if self.timed_out:
            return None, f"the range test took longer than {self.deadline - self.started:.0f} s and was stopped"
        tail = "".join(line for line in self._err if parse_progress(line) is None).strip()
        if self.proc.returncode != 0:
            return None, tail.removeprefix("gradclinic: ") or f"lr-find exited with code {self.proc.returncode}"
        try:
            return lr_find.LrFindResult.from_dict(json.loads("".join(self._out))), None
        except (ValueError, TypeError) as exc:
            return None, f"lr-find printed no result ({exc})"

    def _read_err(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            seen = parse_progress(line)
            if seen is None:
                self._err[:] = (self._err + [line])[-STDERR_LINES:]
                continue
            i, n, step, steps = seen
            self.progress = min(1.0, ((i - 1) + step / steps) / n)
            self.stage = f"seed {i} of {n}, step {step} of {steps}"

    def _read_out(self) -> None:
        assert self.proc.stdout is not None
        self._out.extend(self.proc.stdout)


def start(
    recipe: str,
    sets: dict[str, Any],
    *,
    home: str | Path,
    seeds: int = lr_find.DEFAULT_SEEDS,
    steps: int = lr_find.DEFAULT_STEPS,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> Job:
    """Start the range test of ``recipe`` with ``sets`` in a child process; returns at once."""
    proc = subprocess.Popen(
        command(recipe, sets, home=home, seeds=seeds, steps=steps),
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    job = Job(proc, deadline=time.monotonic() + timeout_s)
    # Both pipes are drained as the child writes, so neither can fill and stall it.
    job._readers = [threading.Thread(target=fn, daemon=True) for fn in (job._read_err, job._read_out)]
    for reader in job._readers:
        reader.start()
    return job
