"""A small finished sweep in a store, trained for real in this process (inline executor, seconds).

Shared by the Sweep page's AppTest and its Chromium test: a moons MLP of 40 steps,
an evaluation every 10, so the median pruner has evaluations to cut at.
"""

from __future__ import annotations

from pathlib import Path

TINY = ["data.name=moons", "model.depth=2", "model.width=8", "train.steps=40", "train.eval_every=10"]
SPACE = {"train.lr": "loguniform(1e-3,1)", "model.width": "intlog(4,32)"}


def write_sweep(
    home: Path, trials: int = 6, seed: int = 3, sampler: str = "random", executor: str = "inline", parallel: int = 1
) -> str:
    """Run the tiny sweep into the store at ``home`` (in this process, or on ``executor``); returns its id."""
    import torch

    from engine.config.recipe import load_recipe
    from engine.config.sweep import SweepSpec
    from engine.store import Store
    from engine.tuning.executors import make
    from engine.tuning.sweep import Sweep, plan

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the machine is shared: one core, as a CI runner has
    try:
        spec = SweepSpec(space=SPACE, sampler=sampler, trials=trials, pruner="median", seed=seed, parallel=parallel)
        with Store(home) as store:
            checked = plan(load_recipe("healthy-mlp", TINY), spec)
            return Sweep(store, checked, make(executor, parallel), executor_name=executor).run()
    finally:
        torch.set_num_threads(threads)
