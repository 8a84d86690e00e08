"""``gradclinic compress`` as a background job for the dashboard's Compress page. Torch-free.

The page never imports torch: it starts ``python -m engine.cli compress RUN ... --json`` in a
child process (:mod:`engine.control.child_job`) and polls it. With ``--json`` the child writes a
countable line on stderr per finished variant (:data:`PROGRESS_PREFIX`), ``0/N`` first, the total
taken from the plan (:func:`engine.control.compress.expected_variants`). Each variant is stored as
a run of a ``compress-<hex>`` group as it is made, so the page reads the results back from the
store, after a reload too; only a variant that did not apply (static int8 on some model) lives in
the printed result alone.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.control import child_job, sources
from engine.control.compress import Plan, plan

PROGRESS_PREFIX = "compress: progress "
#: Fine-tunes and students train: minutes for the lessons' models on a small CPU.
DEFAULT_TIMEOUT_S = 900.0


@dataclass(frozen=True)
class Request:
    """What ``gradclinic compress`` is asked: its flags, as the page's widgets give them."""

    run: str
    prune: tuple[float, ...] = ()
    structured: bool = False
    finetune: int = 0  # steps after each pruning; 0: none (the flag is left out)
    quantize: str | None = None  # "int8"
    distill: str | None = None  # the student's overrides as typed: "model.width=32,model.depth=1"

    def levels(self) -> str:
        """``--prune``'s value: ``"0.8,0.9"``."""
        return ",".join(f"{x:g}" for x in self.prune)

    def flags(self) -> list[str]:
        """The command-line flags that ask for this (the run id comes first, on its own)."""
        args: list[str] = []
        if self.prune:
            args += ["--prune", self.levels()]
        if self.structured:
            args.append("--structured")
        if self.finetune:
            args += ["--finetune", str(self.finetune)]
        if self.quantize is not None:
            args += ["--quantize", self.quantize]
        if self.distill is not None:
            args += ["--distill", self.distill]
        return args


def check(store, request: Request) -> Plan:
    """The command's own checks, here and now: a :class:`RecipeError` naming the flag, before any child starts."""
    run_id = store.resolve(request.run)
    has_weights = sources.saved_weights(store.home, run_id).is_file()
    return plan(
        store.get_run(run_id),
        prune=request.levels() if request.prune else None,  # the text the child parses: both refuse alike
        structured=request.structured,
        finetune=request.finetune or None,
        quantize=request.quantize,
        distill=request.distill,
        has_weights=has_weights,
    )


def command(request: Request, *, home: str | Path) -> list[str]:
    """The child's argv."""
    head = [sys.executable, "-m", "engine.cli", "--home", str(home), "compress", request.run]
    return head + request.flags() + ["--json"]


def progress_line(done: int, total: int, stage: str) -> str:
    """What the child writes on stderr as it goes (one line): ``compress: progress 3/7 prune 80%``."""
    return f"{PROGRESS_PREFIX}{done}/{total} {stage}\n"


def parse_progress(line: str) -> tuple[float, str] | None:
    """(share done, "3 of 7 variants made (last: prune 80%)") from a progress line, or None for any other line."""
    counted = child_job.parse_count(line, PROGRESS_PREFIX)
    if counted is None:
        return None
    done, total, name = counted
    stage = f"{done} of {total} variants made" + (f" (last: {name})" if done and name else "")
    return (done / total if total > 0 else 0.0), stage


def start(request: Request, *, home: str | Path, timeout_s: float = DEFAULT_TIMEOUT_S) -> child_job.Job:
    """Start compressing in a child process; returns at once. :meth:`~child_job.Job.outcome` is the result dict."""
    return child_job.start(command(request, home=home), parse_progress, timeout_s=timeout_s, what="compressing")


def not_applied(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The variants of a printed result that were tried and did not apply (no row in the store)."""
    return [v for v in result.get("variants", []) if v.get("applied") is False]
