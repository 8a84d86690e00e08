"""A ``python -m engine.cli ... --json`` command run as a background job, for the dashboard.

The app never imports torch, so work that needs it (a range test, an explanation) runs in a
child process with a deadline, and a page polls it: each progress line the child writes on
stderr moves :attr:`Job.progress`, and its stdout is one JSON result. Both pipes are drained
as the child writes, so neither can fill and stall it. The jobs built on this are
:mod:`engine.tuning.lr_find_job` and :mod:`engine.control.explain_job`.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parents[2]  # where `python -m engine.cli` imports this checkout
STDERR_LINES = 40  # the last lines kept, for the message when the command fails


def parse_count(line: str, prefix: str) -> tuple[int, int, str] | None:
    """(done, total, the rest) from a ``<prefix>3/7 the rest`` progress line, or None for any other line."""
    if not line.startswith(prefix):
        return None
    count, _, rest = line[len(prefix) :].strip().partition(" ")
    try:
        done, total = (int(v) for v in count.split("/"))
    except ValueError:
        return None
    return done, total, rest


#: Reads one stderr line: (progress 0..1, what the child is doing) for a progress line, else None.
ProgressParser = Callable[[str], "tuple[float, str] | None"]
J = TypeVar("J", bound="Job")


@dataclass
class Job:
    """One running command: poll :meth:`done`, read :attr:`progress` and :attr:`stage`, then :meth:`outcome`."""

    proc: subprocess.Popen
    deadline: float
    parse: ProgressParser
    what: str = "the job"  # names it in messages: "the range test took longer than ..."
    started: float = field(default_factory=time.monotonic)
    progress: float = 0.0
    stage: str = "starting (importing PyTorch)"
    timed_out: bool = False
    _out: list[str] = field(default_factory=list)
    _err: list[str] = field(default_factory=list)
    _readers: list[threading.Thread] = field(default_factory=list)

    def done(self) -> bool:
        """True once the child has ended (by itself, or killed at its deadline)."""
        if self.proc.poll() is None and time.monotonic() > self.deadline:
            self.timed_out = True
            self.proc.kill()  # our own child, by its handle
        return self.proc.poll() is not None

    def cancel(self) -> None:
        """Stop the child now (the page was left, or the user asked); :meth:`outcome` then says so."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def outcome(self) -> tuple[dict[str, Any] | None, str | None]:
        """(the printed JSON object, None) or (None, what went wrong in one message); call once :meth:`done`."""
        self.proc.wait()
        for reader in self._readers:
            reader.join(timeout=5)
        if self.timed_out:
            return None, f"{self.what} took longer than {self.deadline - self.started:.0f} s and was stopped"
        tail = "".join(line for line in self._err if self.parse(line) is None).strip()
        if self.proc.returncode != 0:
            return None, tail.removeprefix("gradclinic: ") or f"{self.what} exited with code {self.proc.returncode}"
        try:
            printed = json.loads("".join(self._out))
        except ValueError as exc:
            return None, f"{self.what} printed no result ({exc})"
        if not isinstance(printed, dict):
            return None, f"{self.what} printed no result (not a JSON object)"
        return printed, None

    def _read_err(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            seen = self.parse(line)
            if seen is None:
                self._err[:] = (self._err + [line])[-STDERR_LINES:]
                continue
            self.progress, self.stage = min(1.0, max(0.0, seen[0])), seen[1]

    def _read_out(self) -> None:
        assert self.proc.stdout is not None
        self._out.extend(self.proc.stdout)


def start(argv: list[str], parse: ProgressParser, *, timeout_s: float, what: str, cls: type[J] = Job) -> J:  # type: ignore[assignment]
    """Start ``argv`` (a ``python -m engine.cli`` command) in a child process as a ``cls``; returns at once."""
    proc = subprocess.Popen(
        argv, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    job = cls(proc, deadline=time.monotonic() + timeout_s, parse=parse, what=what)
    job._readers = [threading.Thread(target=fn, daemon=True) for fn in (job._read_err, job._read_out)]
    for reader in job._readers:
        reader.start()
    return job
