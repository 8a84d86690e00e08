"""The three tuning lessons at seeds 0-4: the numbers the README and the lesson texts quote.

    python benchmarks/tuning_lessons.py                 # seeds 0 1 2 3 4
    python benchmarks/tuning_lessons.py --seeds 0 1 2   # what the lesson tests check

- grid against random (tuning-grid-vs-random): each search's best validation accuracy;
- TPE against random (tuning-tpe-vs-random): trials until one reaches 95 % (a search that
  never does counts as its budget + 1, and is marked);
- pruning (tuning-pruning): the share of training steps the median pruner saved, and the
  best result with and without it.

Every sweep trains in this process on one torch thread, into a temporary store.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.tuning import experiments  # noqa: E402

TARGET = 0.95


def spread(values: list[float], fmt: str = "{:.3f}") -> str:
    """``mean (min-max)`` of ``values``."""
    return f"{fmt.format(statistics.mean(values))} ({fmt.format(min(values))}-{fmt.format(max(values))})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    logging.disable(logging.WARNING)
    t0 = time.perf_counter()
    grid, rand, tpe_n, rand_n, saved, best_full, best_pruned = [], [], [], [], [], [], []
    print(
        "seed | grid best | random best | TPE trials to 95% | random trials to 95% | pruning saved | best, pruned/full"
    )
    print("---: | ---: | ---: | ---: | ---: | ---: | ---:")
    for seed in args.seeds:
        g = experiments.run_arm("tuning-grid-vs-random", seed, sampler="grid")
        r = experiments.run_arm("tuning-grid-vs-random", seed, sampler="random")
        tpe = experiments.run_arm("tuning-tpe-vs-random", seed, until=TARGET)
        full = experiments.run_arm("tuning-tpe-vs-random", seed, sampler="random")
        pruned = experiments.run_arm("tuning-pruning", seed)
        budget = int(full.settings["trials"])
        n_tpe = experiments.trials_to_reach(tpe, TARGET)
        n_rand = experiments.trials_to_reach(full, TARGET)
        grid.append(experiments.best_value(g))
        rand.append(experiments.best_value(r))
        tpe_n.append(n_tpe or budget + 1)
        rand_n.append(n_rand or budget + 1)
        saved.append(1 - experiments.steps_trained(pruned) / experiments.steps_trained(full))
        best_full.append(experiments.best_value(full))
        best_pruned.append(experiments.best_value(pruned))
        print(
            f"{seed} | {grid[-1]:.3f} | {rand[-1]:.3f} | {n_tpe or f'>{budget}'} | {n_rand or f'>{budget}'} | "
            f"{saved[-1]:.0%} | {best_pruned[-1]:.3f} / {best_full[-1]:.3f}"
        )
    wins = sum(r > g for r, g in zip(rand, grid))
    print(
        f"**mean (min-max)** | {spread(grid)} | {spread(rand)} | {spread(tpe_n, '{:.1f}')} | "
        f"{spread(rand_n, '{:.1f}')} | {spread([100 * s for s in saved], '{:.0f}')} % | "
        f"{spread(best_pruned)} / {spread(best_full)}"
    )
    print(f"\nrandom search beat the grid at {wins} of {len(args.seeds)} seeds")
    print(f"TPE needed fewer trials than random at {sum(a < b for a, b in zip(tpe_n, rand_n))}, as many at "
          f"{sum(a == b for a, b in zip(tpe_n, rand_n))}")  # fmt: skip
    print(
        f"pruning kept the best result (within 0.005) at {sum(p >= f - 0.005 for p, f in zip(best_pruned, best_full))}"
    )
    print(f"({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
