"""Throughput of the input-bound lesson's pipelines: where the batches come from, and what it costs.

    python benchmarks/input_pipeline.py               # 3 rounds of 400 steps per pipeline
    python benchmarks/input_pipeline.py --rounds 5 --steps 600

The model and data are recipes/input-bound.yaml's (a 2x64 MLP on the digits, batches of 128),
trained through the project's own session and trainer on one torch thread, so every pipeline pays
the same probes and recording. Each pipeline is a set of recipe overrides; the rounds interleave
the pipelines, so a busy moment of the machine hits all of them. Reported per pipeline: the
median over rounds of samples per second and of the recorder's ``data_wait`` (the share of
training time spent waiting for the next batch, windows after the first), and the speed as a
ratio to the lesson's remedy, tensors in memory augmented on the batch by kornia, measured in
the same process. Workers need free cores: on a 2-core machine the training process takes one.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.config.recipe import load_recipe  # noqa: E402
from engine.store import Store  # noqa: E402

RECIPE = "input-bound"
IN_MEMORY = {"data.loader.kind": "in_memory", "data.loader.cpu_augment": []}
PIPELINES = {
    "in memory, no augmentation": IN_MEMORY,
    "in memory, kornia on the batch": {**IN_MEMORY, "data.augment": ["affine"]},
    "DataLoader, no augmentation": {"data.loader.cpu_augment": []},
    "DataLoader, per-sample affine": {},
    "DataLoader, per-sample affine, 1 worker": {"data.loader.num_workers": 1, "data.loader.persistent_workers": True},
    "DataLoader, per-sample affine, 2 workers": {"data.loader.num_workers": 2, "data.loader.persistent_workers": True},
}
REFERENCE = "in memory, kornia on the batch"


def measure(store: Store, sets: dict, steps: int) -> tuple[float, float]:
    """(samples per second over the run, median data_wait after the first window) of one run."""
    from engine.control.lessons import fixed_probes
    from engine.training import session

    recipe = load_recipe(RECIPE).with_overrides({**sets, **fixed_probes(), "train.steps": steps, "compare": []})
    run_id = store.create_run(recipe.to_dict(), total_steps=steps)
    session.train(store, run_id, session.prepare(recipe, store))
    wide = store.scalars_wide(run_id)
    return float(wide["samples_per_s"].dropna().iloc[-1]), float(wide["data_wait"].dropna().iloc[1:].median())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--steps", type=int, default=400)
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(1)  # as a worker trains
    speed: dict[str, list[float]] = {name: [] for name in PIPELINES}
    wait: dict[str, list[float]] = {name: [] for name in PIPELINES}
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp)) as store:
        measure(store, PIPELINES[REFERENCE], 50)  # warm-up: imports, kornia's first call
        for _ in range(args.rounds):
            for name, sets in PIPELINES.items():
                s, w = measure(store, sets, args.steps)
                speed[name].append(s)
                wait[name].append(w)
    ref = statistics.median(speed[REFERENCE])
    print(
        f"{RECIPE}: {args.steps} steps of 128 digits, median of {args.rounds} rounds, "
        f"{os.cpu_count()} CPU cores, 1 torch thread"
    )
    print(f"  {'pipeline':<42} {'samples/s':>10} {'x kornia':>9} {'data wait':>10}")
    for name in PIPELINES:
        s = statistics.median(speed[name])
        print(f"  {name:<42} {s:>10,.0f} {s / ref:>9.2f} {statistics.median(wait[name]):>10.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
