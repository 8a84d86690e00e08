"""Where a sweep's trials train. One file per executor; :func:`make` picks one by name.

Each has ``slots`` (trials at once), ``submit(sweep, recipe, name) -> run_id`` (records
the run in the store, in the sweep's group, and may start it), ``wait(sweep, timeout)``
(lets training happen; the driver then reads every pending trial), and ``close()``.
"""

from __future__ import annotations

from engine.config.errors import RecipeError
from engine.config.sweep import EXECUTORS


def make(name: str, parallel: int):
    """The executor called ``name`` (local, inline, ray) running ``parallel`` trials at a time."""
    if name == "local":
        from engine.tuning.executors.local import LocalExecutor

        return LocalExecutor(parallel)
    if name == "inline":
        if parallel != 1:
            raise RecipeError("--parallel: the inline executor trains one trial at a time in this process; use 1")
        from engine.tuning.executors.inline import InlineExecutor

        return InlineExecutor()
    if name == "ray":
        from engine.tuning.executors.ray import RayExecutor

        return RayExecutor(parallel)
    raise RecipeError(f"--executor: {name!r} is not an executor; use one of {', '.join(EXECUTORS)}")
