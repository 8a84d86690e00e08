"""The range test as a background job for the dashboard: ``python -m engine.cli lr-find ... --json``.

The app never imports torch, so it runs the command in a child process of its
own, with a deadline, and polls it: the child's stderr progress lines tell how
far it got, its stdout is the result. The child caches the result beside the
run store too (:func:`engine.tuning.lr_find.save`), so the page shows it again
after a reload.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from engine.control import child_job
from engine.tuning import lr_find
from engine.tuning.lr_find_cli import parse_progress

DEFAULT_TIMEOUT_S = 300.0  # three 200-step ramps take seconds on a laptop; a minute for a big model


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


def _parse(line: str) -> tuple[float, str] | None:
    seen = parse_progress(line)
    if seen is None:
        return None
    i, n, step, steps = seen
    return ((i - 1) + step / steps) / n, f"seed {i} of {n}, step {step} of {steps}"


class Job(child_job.Job):
    """One running range test: poll :meth:`done`, read :attr:`progress` (0..1 over all seeds' ramps;
    a diverged ramp ends its seed early), then :meth:`outcome`."""

    def outcome(self) -> tuple[lr_find.LrFindResult | None, str | None]:  # type: ignore[override]
        """(the result, None) or (None, what went wrong in one message); call once :meth:`done`."""
        printed, message = super().outcome()
        if printed is None:
            return None, message
        try:
            return lr_find.LrFindResult.from_dict(printed), None
        except (ValueError, TypeError, KeyError) as exc:
            return None, f"lr-find printed no result ({exc})"


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
    argv = command(recipe, sets, home=home, seeds=seeds, steps=steps)
    return child_job.start(argv, _parse, timeout_s=timeout_s, what="the range test", cls=Job)
