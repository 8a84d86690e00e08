"""``gradclinic explain`` as a background job for the dashboard's Explain page, and its cache.

The page never imports torch: it starts ``python -m engine.cli explain RUN ... --json --save``
in a child process (:mod:`engine.control.child_job`) and polls it. The child writes progress
lines on stderr (:data:`PROGRESS_PREFIX`) and saves its result in the run's folder
(``runs/<id>/explain/``), so the page shows it again after a reload, and a second look at the
same run, method and samples costs nothing.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from engine.control import child_job

PROGRESS_PREFIX = "explain: progress "
DEFAULT_TIMEOUT_S = 300.0  # the bound (samples x steps <= 20,000) is about a minute of a small CPU
FOLDER = "explain"


@dataclass(frozen=True)
class Request:
    """One explanation: what ``gradclinic explain`` is asked (its flags), and the cache's key."""

    run: str
    method: str = "ig"
    samples: int = 16
    steps: int = 50
    target: int | None = None
    checkpoint: str = "last"
    layer: str | None = None

    def key(self) -> str:
        """A file name that says what it holds: ``ig-last-s16-n50-tpred.json``."""
        target = "pred" if self.target is None else str(self.target)
        layer = "" if self.layer is None else "-l" + re.sub(r"[^A-Za-z0-9_.]", "_", self.layer)
        return f"{self.method}-{self.checkpoint}-s{self.samples}-n{self.steps}-t{target}{layer}"

    def flags(self) -> list[str]:
        """The command-line flags that ask for this (the run id comes first, on its own)."""
        args = ["--method", self.method, "--samples", str(self.samples), "--steps", str(self.steps)]
        args += ["--checkpoint", self.checkpoint]
        if self.target is not None:
            args += ["--target", str(self.target)]
        if self.layer is not None:
            args += ["--layer", self.layer]
        return args


def command(request: Request, *, home: str | Path) -> list[str]:
    """The child's argv."""
    head = [sys.executable, "-m", "engine.cli", "--home", str(home), "explain", request.run]
    return head + request.flags() + ["--json", "--save"]


def progress_line(done: int, total: int, stage: str) -> str:
    """What the child writes on stderr as it goes (one line)."""
    return f"{PROGRESS_PREFIX}{done}/{total} {stage}\n"


def parse_progress(line: str) -> tuple[float, str] | None:
    """(share done, stage) from a progress line, or None for any other line."""
    counted = child_job.parse_count(line, PROGRESS_PREFIX)
    if counted is None:
        return None
    done, total, stage = counted
    return (done / total if total else 0.0), stage


def start(request: Request, *, home: str | Path, timeout_s: float = DEFAULT_TIMEOUT_S) -> child_job.Job:
    """Start explaining in a child process; returns at once. :meth:`~child_job.Job.outcome` is the result dict."""
    return child_job.start(command(request, home=home), parse_progress, timeout_s=timeout_s, what="the explanation")


def cache_path(home: str | Path, request: Request) -> Path:
    """Where the result of ``request`` is kept: ``<home>/runs/<id>/explain/<key>.json``."""
    return Path(home) / "runs" / request.run / FOLDER / f"{request.key()}.json"


def save(home: str | Path, request: Request, result: dict[str, Any]) -> Path:
    """Write ``result`` atomically beside its run (a reader sees the old file or the new, never half)."""
    path = cache_path(home, request)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".explain-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"request": asdict(request), **result}, fh, allow_nan=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load(home: str | Path, request: Request) -> dict[str, Any] | None:
    """The saved result of ``request``, or None (none yet, or unreadable)."""
    try:
        got = json.loads(cache_path(home, request).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return got if isinstance(got, dict) and got.get("request") == asdict(request) else None
